"""One budget of calls per second for an AWS operation, shared by every process on this machine.

CloudWatch Logs allows GetLogEvents about 10 to 25 times per second per account and Region, and
every Dagster step that follows a Glue run polls it. With Dagster's multiprocess executor each step
is its own process, so a limit kept inside one process cannot see the others. The budget is
therefore kept in a small file that every process locks for each call:

- calls are spaced ``1 / rate`` apart, machine-wide, each waiting for its reserved slot, so readers
  share the budget first come, first served (a step's latency grows smoothly with the number of
  steps instead of turning into throttling);
- the rate adapts to what AWS allows (AIMD): it grows by a call per second each second while calls
  go out at the full rate, and drops by a quarter when a call sent at the current rate is throttled,
  pausing everyone briefly with jitter; callers that reserved a slot before the drop queue again at
  the new rate. Other machines (or any other client) sharing the account show up only as
  throttling, and that is what the rate reacts to.

``CallBudget.attach`` hooks the budget into a boto3 client for one operation: every attempt waits
for its slot, including botocore's own retries, and every throttled attempt lowers the rate.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import random
import stat
import struct
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

THROTTLING_CODES = frozenset({"ThrottlingException", "Throttling", "RequestLimitExceeded", "TooManyRequestsException"})


@dataclass(frozen=True)
class BudgetPolicy:
    # Below the strictest published GetLogEvents quota (10 per second in us-west-2, eu-west-1, ...):
    # calls reserved 1/rate apart do not all leave 1/rate apart on a busy machine.
    initial_rate: float = 8.0
    min_rate: float = 0.5
    max_rate: float = 50.0
    # While callers wait for slots, the rate grows this much per second (AWS's 25 per second is found
    # within 20 s; under a quota, a throttle comes every several seconds and costs a quarter of the rate).
    increase_per_second: float = 1.0
    decrease_factor: float = 0.75
    # A budget nobody used for this long starts again from `initial_rate`.
    forget_after_seconds: float = 60.0


@dataclass
class _State:
    rate: float
    next_slot: float  # wall-clock time of the next free slot
    touched: float
    last_decrease: float
    window_start: float  # calls let go since then, to tell whether the rate is what limits them
    window_calls: float

    _FORMAT = "6d"

    def pack(self) -> bytes:
        return struct.pack(
            self._FORMAT,
            self.rate,
            self.next_slot,
            self.touched,
            self.last_decrease,
            self.window_start,
            self.window_calls,
        )

    @classmethod
    def unpack(cls, data: bytes) -> _State | None:
        if len(data) != struct.calcsize(cls._FORMAT):
            return None
        return cls(*struct.unpack(cls._FORMAT, data))


class _SharedState:
    """The budget's state in a file that each process locks while it reads and updates it."""

    def __init__(self, path: Path) -> None:
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        self._lock = threading.Lock()  # flock is per open file: threads of one process queue here

    @contextlib.contextmanager
    def locked(self, fresh: _State, forget_after: float) -> Iterator[_State]:
        with self._lock:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                state = _State.unpack(os.pread(self._fd, 64, 0))
                if state is None or fresh.touched - state.touched > forget_after:
                    state = fresh
                yield state
                os.pwrite(self._fd, state.pack(), 0)
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)


class CallBudget:
    """Calls per second for one operation against one endpoint, shared machine-wide."""

    _budgets: dict[str, CallBudget] = {}
    _budgets_lock = threading.Lock()

    def __init__(self, state: _SharedState, policy: BudgetPolicy) -> None:
        self._state = state
        self.policy = policy
        self._released = threading.local()  # when this thread's call in flight was let go

    @classmethod
    def attach(cls, client: Any, operation: str, policy: BudgetPolicy | None = None) -> CallBudget:
        """The budget for ``operation`` on ``client``'s endpoint and Region, hooked into ``client`` (once)."""
        key = f"{client.meta.endpoint_url}|{client.meta.region_name}|{operation}"
        with cls._budgets_lock:
            budget = cls._budgets.get(key)
            if budget is None:
                state = _SharedState(_state_dir() / hashlib.sha256(key.encode()).hexdigest()[:24])
                budget = cls._budgets[key] = cls(state, policy or BudgetPolicy())
        service = client.meta.service_model.service_id.hyphenize()
        events = client.meta.events
        for event, handler in (("before-send", budget._before_send), ("needs-retry", budget._after_attempt)):
            # unique_id: attaching again (another reader on the same client) adds nothing.
            events.register(f"{event}.{service}.{operation}", handler, unique_id=f"call-budget-{event}-{key}")
        return budget

    def acquire(self) -> None:
        """Wait for this call's slot; if the rate dropped meanwhile, queue again at the new rate."""
        reserved_at: float | None = None
        while True:
            now = time.time()
            with self._state.locked(self._fresh(now), self.policy.forget_after_seconds) as state:
                if reserved_at is not None and state.last_decrease < reserved_at:
                    self._count_and_grow(state, now)
                    self._released.at = now
                    return
                slot = max(now, state.next_slot)
                state.next_slot = slot + 1.0 / state.rate
                state.touched = now
            reserved_at = now
            time.sleep(max(0.0, slot - now))

    def _count_and_grow(self, state: _State, now: float) -> None:
        """Additive increase, once a second, only if calls went out at (nearly) the full rate."""
        state.window_calls += 1
        elapsed = now - state.window_start
        if elapsed < 1.0:
            return
        if state.window_calls / elapsed >= 0.8 * state.rate:
            state.rate = min(self.policy.max_rate, state.rate + self.policy.increase_per_second * min(elapsed, 2.0))
        state.window_start, state.window_calls = now, 0.0

    def throttled(self) -> None:
        """A call was throttled: lower the rate, unless the call was already on its way when it was lowered."""
        now = time.time()
        released = getattr(self._released, "at", now)
        with self._state.locked(self._fresh(now), self.policy.forget_after_seconds) as state:
            if released < state.last_decrease:
                return  # the decrease that answers it is made
            state.rate = max(self.policy.min_rate, state.rate * self.policy.decrease_factor)
            state.last_decrease = now
            # Everyone pauses for a slot or two, jittered, so waiting processes do not retry in step.
            state.next_slot = max(state.next_slot, now) + random.uniform(1.0, 2.0) / state.rate
            state.touched = now
            state.window_start, state.window_calls = now, 0.0

    def _fresh(self, now: float) -> _State:
        return _State(
            rate=self.policy.initial_rate,
            next_slot=now,
            touched=now,
            last_decrease=0.0,
            window_start=now,
            window_calls=0.0,
        )

    def _before_send(self, **_: Any) -> None:
        self.acquire()  # returns None: botocore sends the request

    def _after_attempt(self, response: Any = None, **_: Any) -> None:
        if response is not None and response[1].get("Error", {}).get("Code") in THROTTLING_CODES:
            self.throttled()
        # None: botocore's own retry handler decides whether to retry.


def _state_dir() -> Path:
    """A directory only this user can write to; a private temporary one if the shared one is not safe."""
    path = Path(tempfile.gettempdir()) / f"glue-pipes-budgets-{os.getuid()}"
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=0o700)
    info = path.lstat()
    if stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & 0o077:
        return path
    return Path(tempfile.mkdtemp(prefix="glue-pipes-budget-"))

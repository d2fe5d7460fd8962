"""What clients sent (request counts) and what they should get instead (injected faults, quota throttling)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .attribution import Authorization


class RequestCounter:
    """Requests received per operation, and among them those answered with a quota throttle; and every
    authenticated call by principal, operation and what IAM would evaluate (`attribution`).

    Calls are kept once per distinct (principal, operation, authorizations) with a count, so a
    long-running endpoint holds one entry per object or job touched, not one per poll.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._throttled: Counter[str] = Counter()
        self._calls: Counter[tuple[str, str, tuple[Authorization, ...]]] = Counter()

    def count(self, operation: str) -> None:
        with self._lock:
            self._counts[operation] += 1

    def record(self, principal: str, operation: str, authorizations: tuple[Authorization, ...]) -> None:
        with self._lock:
            self._calls[(principal, operation, authorizations)] += 1

    def calls(self) -> list[dict[str, Any]]:
        with self._lock:
            return [
                {
                    "principal": principal,
                    "operation": operation,
                    "authorizations": [authorization.to_dict() for authorization in authorizations],
                    "count": count,
                }
                for (principal, operation, authorizations), count in self._calls.items()
            ]

    def count_throttled(self, operation: str) -> None:
        with self._lock:
            self._throttled[operation] += 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def throttled(self) -> dict[str, int]:
        with self._lock:
            return dict(self._throttled)

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()
            self._throttled.clear()
            self._calls.clear()


@dataclass
class Fault:
    """Answer with the AWS error `error`; or, with no error, do the work and answer `delay_seconds` late.

    A late answer is how a response lost in flight looks to a client: the call's effect exists (a
    job run started) while the caller still waits for, and may never see, its result.
    """

    operation: str
    error: str | None
    remaining: int
    status: int = 400
    message: str = "Injected fault"
    delay_seconds: float = 0.0


class FaultPlan:
    """Faults are consumed in the order they were added, one matching request each."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def take(self, operation: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.operation == operation:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault
            return None

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()


# AWS's published default quotas, in calls per second per account and Region (CloudWatch Logs
# quotas page, read 2026-11). GetLogEvents and FilterLogEvents differ by Region.
_AWS_TPS: dict[str, float] = {
    "logs:GetLogEvents": 25,
    "logs:FilterLogEvents": 10,
    "logs:DescribeLogStreams": 25,
    # Glue publishes no per-operation rates (throttling answers "Rate exceeded" at an unstated
    # rate); these stand-ins are deliberately low so the client is tested against a tight budget.
    "glue:StartJobRun": 10,
    "glue:GetJobRun": 20,
}
_AWS_REGIONAL_TPS: dict[str, dict[str, float]] = {
    "logs:GetLogEvents": {
        **dict.fromkeys(
            ["us-west-2", "ap-northeast-3", "ap-southeast-3", "ca-west-1", "eu-central-1", "eu-west-1", "il-central-1"],
            10,
        ),
        "eu-west-3": 30,
    },
    "logs:FilterLogEvents": {
        "us-east-1": 25,
        **dict.fromkeys(["ap-northeast-3", "ap-southeast-3", "ca-west-1", "eu-central-1", "il-central-1"], 5),
    },
}


@dataclass(frozen=True)
class QuotaTable:
    """Calls per second allowed per `service:Operation`, optionally per Region; unlisted operations are free."""

    tps: dict[str, float]
    regional: dict[str, dict[str, float]] = field(default_factory=dict)

    @classmethod
    def aws(cls) -> QuotaTable:
        return cls(dict(_AWS_TPS), {operation: dict(rates) for operation, rates in _AWS_REGIONAL_TPS.items()})

    @classmethod
    def parse(cls, spec: str) -> QuotaTable | None:
        """`aws`, `logs:GetLogEvents=10,glue:GetJobRun=5`, or both (`aws,logs:GetLogEvents=10`); `` or `off`: none."""
        items = [item.strip() for item in spec.split(",") if item.strip()]
        if not items or items == ["off"]:
            return None
        table, overrides = cls({}), {}
        for item in items:
            if item == "aws":
                table = cls.aws()
            else:
                operation, rate = _operation_rate(item)
                overrides[operation] = rate
        return table.overridden(overrides)

    def overridden(self, tps: dict[str, float]) -> QuotaTable:
        """This table with `tps` for the given operations, in every Region."""
        regional = {operation: rates for operation, rates in self.regional.items() if operation not in tps}
        return QuotaTable({**self.tps, **tps}, regional)

    def rate(self, operation: str, region: str) -> float | None:
        return self.regional.get(operation, {}).get(region, self.tps.get(operation))

    def to_dict(self) -> dict[str, Any]:
        return {"tps": self.tps, "regional": self.regional}


def _operation_rate(item: str) -> tuple[str, float]:
    operation, _, text = item.partition("=")
    try:
        rate = float(text)
    except ValueError:
        rate = 0.0
    if ":" not in operation or not rate > 0:
        raise ValueError(f"quota {item!r} is not `aws`, `off` or `service:Operation=calls per second`")
    return operation.strip(), rate


class _TokenBucket:
    """`rate` tokens a second, holding at most one second's worth (the burst a quiet client gets)."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self._capacity = max(rate, 1.0)
        self._tokens = self._capacity
        self._updated = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self._tokens = min(self._capacity, self._tokens + (now - self._updated) * self.rate)
        self._updated = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True


class QuotaEnforcer:
    """Throttles calls beyond a `QuotaTable`, per operation and Region (AWS's quotas are per account and Region)."""

    def __init__(self, table: QuotaTable | None = None) -> None:
        self._lock = threading.Lock()
        self._table = table
        self._buckets: dict[tuple[str, str], _TokenBucket] = {}

    @property
    def table(self) -> QuotaTable | None:
        return self._table

    def configure(self, table: QuotaTable | None) -> None:
        with self._lock:
            self._table = table
            self._buckets.clear()

    def allows(self, operation: str, region: str) -> bool:
        with self._lock:
            rate = self._table.rate(operation, region) if self._table else None
            if rate is None:
                return True
            bucket = self._buckets.get((operation, region))
            if bucket is None or bucket.rate != rate:
                bucket = self._buckets[(operation, region)] = _TokenBucket(rate)
            return bucket.take()

"""A run's stdout and stderr, line by line, into CloudWatch Logs as Glue writes them.

Reader threads only ever append to an unbounded queue, so a script's output never blocks on us;
one shipper thread drains the queue and sends whatever it found straight away.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import IO, Any

from botocore.exceptions import BotoCoreError, ClientError

# PutLogEvents limits: 10,000 events and 1,048,576 bytes per call, 26 bytes overhead per event.
MAX_BATCH_EVENTS = 10_000
MAX_BATCH_BYTES = 1_048_576
EVENT_OVERHEAD = 26
MAX_EVENT_BYTES = 256 * 1024 - EVENT_OVERHEAD

logger = logging.getLogger(__name__)

# moto checks-then-sets log groups without a lock; two runs creating the same group at once could
# replace the group (and the other run's stream). Serialise our own creations.
_CREATE_LOCK = threading.Lock()


@dataclass(frozen=True)
class Line:
    text: str
    timestamp_ms: int
    is_stderr: bool


_CLOSE = object()


class LogShipper:
    """Ships lines to `{group}/output` (all) and `{group}/error` (stderr), stream = run id."""

    def __init__(self, logs_client: Any, log_group: str, stream: str, stderr_tail: int = 200) -> None:
        self._logs = logs_client
        self._output = (f"{log_group}/output", stream)
        self._error = (f"{log_group}/error", stream)
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._last_timestamp = 0
        self._readers: list[threading.Thread] = []
        self._thread = threading.Thread(target=self._ship, name=f"ship-{stream[:12]}", daemon=True)
        # The end of stderr, for the run's ErrorMessage.
        self.stderr_tail: deque[str] = deque(maxlen=stderr_tail)

    def create_streams(self) -> None:
        """Before the script starts, so a reader never finds the stream missing."""
        for group, stream in (self._output, self._error):
            _ensure_stream(self._logs, group, stream)

    def note(self, text: str) -> None:
        """A line of the emulator's own in the output stream (before `start`: the run's first)."""
        self._queue.put(Line(text, int(time.time() * 1000), is_stderr=False))

    def start(self, stdout: IO[bytes], stderr: IO[bytes]) -> None:
        for pipe, is_stderr in ((stdout, False), (stderr, True)):
            reader = threading.Thread(target=self._read, args=(pipe, is_stderr), daemon=True)
            reader.start()
            self._readers.append(reader)
        self._thread.start()

    def close(self, reader_grace: float) -> None:
        """Wait for the pipes to end (at most `reader_grace` s) and for every line read to be sent.

        A pipe can outlive the script if it handed it to a process outside its group; we do not
        let that hold the run open forever.
        """
        deadline = time.monotonic() + reader_grace
        for reader in self._readers:
            reader.join(max(0.0, deadline - time.monotonic()))
        self._queue.put(_CLOSE)
        self._thread.join()

    def _read(self, pipe: IO[bytes], is_stderr: bool) -> None:
        with pipe:
            for raw in pipe:
                text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
                if not text:
                    continue  # CloudWatch rejects empty messages
                if is_stderr:
                    self.stderr_tail.append(text)
                self._queue.put(Line(text, int(time.time() * 1000), is_stderr))

    def _ship(self) -> None:
        closed = False
        while not closed:
            lines = [self._queue.get()]
            while True:  # take everything already waiting: one call per drain, not per line
                try:
                    lines.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            closed = lines[-1] is _CLOSE
            events = [self._event(line) for line in lines if line is not _CLOSE]
            self._put(self._output, [event for event, _ in events])
            self._put(self._error, [event for event, is_stderr in events if is_stderr])

    def _event(self, line: Line) -> tuple[dict[str, Any], bool]:
        # Two readers stamp lines independently; CloudWatch wants them in order.
        self._last_timestamp = max(self._last_timestamp, line.timestamp_ms)
        return {"timestamp": self._last_timestamp, "message": _truncate(line.text)}, line.is_stderr

    def _put(self, target: tuple[str, str], events: list[dict[str, Any]]) -> None:
        for batch in _batches(events):
            try:
                self._logs.put_log_events(logGroupName=target[0], logStreamName=target[1], logEvents=batch)
            except (ClientError, BotoCoreError):
                # Losing log lines must not fail or hang the run (e.g. the group was deleted).
                logger.exception("dropped %d log events for %s", len(batch), "/".join(target))


def _ensure_stream(logs: Any, group: str, stream: str) -> None:
    with _CREATE_LOCK:
        for create, kwargs in (
            (logs.create_log_group, {"logGroupName": group}),
            (logs.create_log_stream, {"logGroupName": group, "logStreamName": stream}),
        ):
            with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
                create(**kwargs)


def _truncate(text: str) -> str:
    encoded = text.encode("utf-8")
    if len(encoded) <= MAX_EVENT_BYTES:
        return text
    return encoded[:MAX_EVENT_BYTES].decode("utf-8", errors="ignore")


def _batches(events: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    batches: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    size = 0
    for event in events:
        event_size = len(event["message"].encode("utf-8")) + EVENT_OVERHEAD
        if current and (len(current) == MAX_BATCH_EVENTS or size + event_size > MAX_BATCH_BYTES):
            batches.append(current)
            current, size = [], 0
        current.append(event)
        size += event_size
    if current:
        batches.append(current)
    return batches

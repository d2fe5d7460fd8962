"""Message readers that follow a Glue run live and lose nothing, for both message-writer variants.

dagster-aws's readers poll on ``PipesThreadedMessageReader``'s loop: a 1 s sleep per iteration, at
most one chunk or page per iteration, and they stop 10 s after the session closes whether or not
everything arrived. Its Glue client also attaches the CloudWatch reader only after the run succeeded.
These readers start as soon as the client reports the launched run, drain everything available
before sleeping, back off briefly when idle, and stop on the Pipes ``closed`` message.

After the run ended, the step waits for the readers as long as they make progress (a slow event
store can need minutes for a burst the script wrote in seconds), and logs how far they got. It
never ends with a reader still writing, and it fails rather than succeed with a partial result:
when the script never closed Pipes, when a message was cut at CloudWatch's event size limit, or
when the readers stalled.

Both readers also forward the run's output streams as logs: lines that are not Pipes messages
go to the step's stdout, ``{LogGroupName}/error`` to its stderr (Dagster captures both).
"""

from __future__ import annotations

import contextlib
import json
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, cast

from dagster import DagsterExecutionInterruptedError, Failure, PipesLaunchedData, PipesMessageHandler
from dagster_aws.pipes import PipesCloudWatchMessageReader, PipesS3MessageReader
from dagster_pipes import PIPES_PROTOCOL_VERSION, PIPES_PROTOCOL_VERSION_FIELD, PipesMessage, PipesParams

from glue_pipes_project.pipes.cloudwatch_tail import CloudWatchTail

# CloudWatch Logs cuts a log event at 256 KB, 26 of them reserved for the event's own overhead.
CLOUDWATCH_EVENT_MAX_BYTES = 256 * 1024 - 26
# A cut can also drop the last, incomplete UTF-8 character: up to 3 more bytes.
_CUT_SLACK_BYTES = 3
INTERRUPTS = (DagsterExecutionInterruptedError, KeyboardInterrupt)


@dataclass(frozen=True)
class TailPolicy:
    """How often to poll while idle, and how long to wait for the readers after the run ended."""

    min_poll_seconds: float = 0.05
    # Idle polling cap for the messages stream (latency) and the log streams (less urgent). Every
    # poll is a GetLogEvents call, and CloudWatch allows about 10 per second per account and region.
    max_poll_seconds: float = 0.25
    # The log streams start slower too: when many steps start at once, their first polls would
    # otherwise queue in the shared GetLogEvents budget ahead of the message streams' (call_budget).
    min_log_poll_seconds: float = 1.0
    max_log_poll_seconds: float = 5.0
    # Only when a run ended without a Pipes ``closed`` message (killed, timed out, crashed before
    # opening Pipes): stop reading once its streams have been quiet this long, since CloudWatch may
    # still be ingesting its last lines.
    settle_seconds: float = 5.0
    # After the run ended, the step waits for the readers while they make progress (each read and
    # each delivered line counts); this long without any fails the step instead of hanging it.
    stall_seconds: float = 120.0
    # While the readers still deliver after the run ended, log how far they got this often.
    progress_seconds: float = 5.0


Read = Callable[[], list[str]]
# Hands one line to Dagster; True when it was a Pipes message.
Consume = Callable[[str], bool]


class _StepEnded(Exception):
    """Raised in a reader thread that tries to deliver after the step stopped listening."""


class _Delivery:
    """The reader threads' only way into Dagster: counts what they deliver, notes their progress,
    and lets nothing through once the step closed it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.is_open = True
        self.messages = 0
        self.last_progress = time.monotonic()

    def deliver(self, consume: Consume, line: str) -> None:
        with self._gate():
            if consume(line):
                self.messages += 1
        self.progressed()

    def report(self, action: Callable[[], object]) -> None:
        with self._gate():
            action()

    def progressed(self) -> None:
        self.last_progress = time.monotonic()

    def close(self, timeout: float) -> None:
        """After this returns no thread delivers anything (unless a delivery hung in Dagster itself)."""
        locked = self._lock.acquire(timeout=timeout)
        self.is_open = False
        if locked:
            self._lock.release()

    @contextmanager
    def _gate(self) -> Iterator[None]:
        with self._lock:
            if not self.is_open:
                raise _StepEnded
            yield


@dataclass
class _ReaderSession:
    """One Pipes session's view of its Glue run; a reused reader starts each session afresh."""

    closed: threading.Event = field(default_factory=threading.Event)
    launched: threading.Event = field(default_factory=threading.Event)
    log_group: str | None = None
    run_id: str | None = None
    # When a retried step attaches to a run started by an earlier attempt, that run writes where the
    # earlier session told it to.
    messages_params: PipesParams = field(default_factory=dict)
    delivery: _Delivery = field(default_factory=_Delivery)
    # Why the result is incomplete though the script may have closed Pipes (first cause wins).
    lost: str | None = None
    reader_error: str | None = None

    @property
    def run_label(self) -> str:
        return f"Glue run {self.run_id or '(id not reported)'}"


class LiveGlueReaderMixin:
    """The live read loop shared by both readers; subclasses say where messages and logs come from."""

    tail_policy: TailPolicy
    logs_client: Any

    def _init_live(self, logs_client: Any, tail_policy: TailPolicy | None) -> None:
        self.logs_client = logs_client
        self.tail_policy = tail_policy or TailPolicy()
        self._session = _ReaderSession()

    def on_launched(self, launched_payload: PipesLaunchedData) -> None:
        super().on_launched(launched_payload)  # type: ignore[misc]
        extras = launched_payload.get("extras", {})
        session = self._session
        session.log_group = extras.get("glue_log_group")
        session.run_id = extras.get("log_stream")
        session.messages_params = dict(extras.get("messages_params") or {})
        session.launched.set()

    @contextmanager
    def read_messages(self, handler: PipesMessageHandler) -> Iterator[PipesParams]:
        session = self._session = _ReaderSession()
        with self.get_params() as params:  # type: ignore[attr-defined]
            threads = [
                threading.Thread(target=self._guarded, args=(handler, session, self._pump_messages, params)),
                threading.Thread(target=self._guarded, args=(handler, session, self._pump_logs)),
            ]
            for thread in threads:
                thread.daemon = True
                thread.start()
            try:
                yield params
            except INTERRUPTS:
                session.closed.set()
                session.delivery.close(timeout=1.0)  # terminating: stop delivering at once
                raise
            except BaseException:
                # The client's own failure (e.g. the run FAILED) stays the step's error; the run's
                # last logs still help explain it.
                session.closed.set()
                if problem := self._drain(handler, session, threads):
                    _step_log(handler, "WARNING", f"[pipes] {problem}")
                raise
            session.closed.set()
            if problem := self._drain(handler, session, threads):
                raise Failure(description=problem)

    # -- what subclasses provide -----------------------------------------------------------------

    def _message_source(
        self, session: _ReaderSession, params: PipesParams, handler: PipesMessageHandler
    ) -> tuple[Read, Consume]:
        raise NotImplementedError

    def _log_sources(self, session: _ReaderSession) -> list[tuple[Read, Consume]]:
        raise NotImplementedError

    # -- after the run ended -------------------------------------------------------------------------

    def _drain(
        self, handler: PipesMessageHandler, session: _ReaderSession, threads: list[threading.Thread]
    ) -> str | None:
        """Wait for the readers while they progress; why the result is incomplete, if it is."""
        policy = self.tail_policy
        delivery = session.delivery
        started = last_report = time.monotonic()
        reported = delivery.messages
        try:
            while alive := [thread for thread in threads if thread.is_alive()]:
                alive[0].join(min(0.1, policy.progress_seconds))
                now = time.monotonic()
                if now - delivery.last_progress > policy.stall_seconds:
                    return (
                        f"Reading the Pipes messages of {session.run_label} stalled: no progress for "
                        f"{policy.stall_seconds:g} s after the run ended, {delivery.messages} messages delivered. "
                        f"The result is incomplete."
                    )
                if now - last_report >= policy.progress_seconds:
                    rate = (delivery.messages - reported) / (now - last_report)
                    _step_log(
                        handler,
                        "INFO",
                        f"[pipes] delivered {delivery.messages} messages of {session.run_label} so far "
                        f"({rate:.0f}/s), still draining {now - started:.0f} s after the run ended",
                    )
                    last_report, reported = now, delivery.messages
        finally:
            delivery.close(timeout=policy.stall_seconds)
        return self._incomplete(handler, session)

    def _incomplete(self, handler: PipesMessageHandler, session: _ReaderSession) -> str | None:
        if session.lost:
            return session.lost
        if session.reader_error:
            return (
                f"Reading the Pipes messages of {session.run_label} failed ({session.reader_error}); "
                f"the result is incomplete."
            )
        if handler.received_closed_message:
            return None
        if not session.launched.is_set():
            return f"No Pipes messages could be read from {session.run_label}: it reported no CloudWatch log group."
        if not handler.received_opened_message:
            return (
                f"{session.run_label} ended without its script ever opening Dagster Pipes "
                f"(open_dagster_pipes): nothing it did was reported to Dagster."
            )
        return (
            f"{session.run_label} ended but its script never closed Dagster Pipes: no 'closed' message "
            f"arrived, and its output was quiet for {self.tail_policy.settle_seconds:g} s after the run ended. "
            f"The script crashed or was killed, or its last output was lost, so what it reported is "
            f"incomplete ({session.delivery.messages} messages delivered)."
        )

    # -- the loops ---------------------------------------------------------------------------------

    def _pump_messages(self, handler: PipesMessageHandler, session: _ReaderSession, params: PipesParams) -> None:
        if not self._wait_for_launch(session):
            return
        read, consume = self._message_source(session, {**params, **session.messages_params}, handler)
        delivery = session.delivery
        quiet_since: float | None = None
        poll = self.tail_policy.min_poll_seconds
        while delivery.is_open:
            lines = read()
            delivery.progressed()
            for line in lines:
                delivery.deliver(consume, line)
            if handler.received_closed_message:
                return  # `closed` is the last thing a Pipes process writes
            if lines:
                poll, quiet_since = self.tail_policy.min_poll_seconds, None
                continue
            if session.closed.is_set():
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since > self.tail_policy.settle_seconds:
                    return  # no `closed` will come: _incomplete says so
                time.sleep(poll)
            else:
                session.closed.wait(poll)  # the run's end wakes us for a final read at once
            poll = min(poll * 2, self.tail_policy.max_poll_seconds)

    def _pump_logs(self, handler: PipesMessageHandler, session: _ReaderSession) -> None:
        if not self._wait_for_launch(session):
            return
        sources = self._log_sources(session)
        delivery = session.delivery
        poll = self.tail_policy.min_log_poll_seconds
        while delivery.is_open:
            was_closed = session.closed.is_set()
            read_any = False
            for read, consume in sources:
                lines = read()
                delivery.progressed()
                read_any = read_any or bool(lines)
                for line in lines:
                    delivery.deliver(consume, line)
            if was_closed and not read_any:
                return  # the run has ended and its streams are drained
            if read_any:
                poll = self.tail_policy.min_log_poll_seconds
                continue
            session.closed.wait(poll)  # the run's end wakes us for a final read at once
            poll = min(poll * 2, self.tail_policy.max_log_poll_seconds)

    def _wait_for_launch(self, session: _ReaderSession) -> bool:
        while not session.launched.wait(self.tail_policy.min_poll_seconds):
            if session.closed.is_set():
                return False  # the run never started
        return True

    def _stream(self, session: _ReaderSession, suffix: str) -> Read:
        return CloudWatchTail(self.logs_client, f"{session.log_group}/{suffix}", str(session.run_id)).read

    @staticmethod
    def _guarded(
        handler: PipesMessageHandler, session: _ReaderSession, target: Callable[..., None], *args: Any
    ) -> None:
        try:
            target(handler, session, *args)
        except _StepEnded:
            pass  # the step stopped listening
        except Exception as exc:
            session.reader_error = session.reader_error or f"{type(exc).__name__}: {exc}"
            error = sys.exc_info()
            with contextlib.suppress(_StepEnded):
                session.delivery.report(
                    lambda: handler.report_pipes_framework_exception(f"{target.__name__} thread", error)
                )


def _to_stdout(line: str) -> bool:
    sys.stdout.write(line + "\n")
    return False


def _to_stderr(line: str) -> bool:
    sys.stderr.write(line + "\n")
    return False


class GlueCloudWatchMessageReader(LiveGlueReaderMixin, PipesCloudWatchMessageReader):
    """Pipes messages from the run's stdout in ``{LogGroupName}/output``, read live from the head."""

    def __init__(self, client: Any = None, *, tail_policy: TailPolicy | None = None):
        super().__init__(client=client)
        self._init_live(self.client, tail_policy)

    def _message_source(
        self, session: _ReaderSession, params: PipesParams, handler: PipesMessageHandler
    ) -> tuple[Read, Consume]:
        return self._stream(session, "output"), lambda line: _handle_output_line(handler, session, line)

    def _log_sources(self, session: _ReaderSession) -> list[tuple[Read, Consume]]:
        return [(self._stream(session, "error"), _to_stderr)]


def _handle_output_line(handler: PipesMessageHandler, session: _ReaderSession, line: str) -> bool:
    """A Pipes message goes to the handler, any other line to stdout; a broken message fails the step.

    Dagster's ``extract_message_or_forward_to_stdout`` would forward a message that does not parse to
    stdout, so the step would succeed without whatever that message reported.
    """
    try:
        message = json.loads(line)
    except ValueError:
        message = None
    if isinstance(message, dict) and PIPES_PROTOCOL_VERSION_FIELD in message:
        handler.handle_message(cast(PipesMessage, message))
        return True
    if message is None and line.startswith("{") and PIPES_PROTOCOL_VERSION_FIELD in line[:64]:
        session.lost = session.lost or _unreadable_message(session, line)
    return _to_stdout(line)


def _unreadable_message(session: _ReaderSession, line: str) -> str:
    size = len(line.encode("utf-8"))
    if size < CLOUDWATCH_EVENT_MAX_BYTES - _CUT_SLACK_BYTES:
        return f"A Pipes message from {session.run_label} is not valid JSON ({size} bytes), so it was lost."
    return (
        f"A Pipes message from {session.run_label} was cut at CloudWatch Logs' 256 KB event size limit "
        f"({size} bytes arrived), so it was lost with what it reported (e.g. materialization metadata). "
        f"Use the S3 message reader for large messages (resource glue_pipes_s3_client, "
        f'message_reader="s3", with an S3 message writer in the script), or report smaller metadata '
        f"(e.g. write large values to S3 and report their location)."
    )


class GlueS3MessageReader(LiveGlueReaderMixin, PipesS3MessageReader):
    """Pipes messages from the chunks ``PipesS3MessageWriter`` uploads, every chunk as soon as it lands."""

    def __init__(
        self,
        *,
        bucket: str,
        client: Any,
        logs_client: Any,
        key_prefix: str = "",
        tail_policy: TailPolicy | None = None,
    ):
        super().__init__(bucket=bucket, client=client, interval=0)
        self._key_prefix = key_prefix
        self._init_live(logs_client, tail_policy)

    @contextmanager
    def get_params(self) -> Iterator[PipesParams]:
        """dagster-aws's params, with the chunks under ``key_prefix`` instead of the bucket's root, so
        the Glue job role's write access stays on one prefix."""
        with super().get_params() as params:
            yield {**params, "key_prefix": f"{self._key_prefix}{params['key_prefix']}"}

    def _message_source(
        self, session: _ReaderSession, params: PipesParams, handler: PipesMessageHandler
    ) -> tuple[Read, Consume]:
        next_index = 1

        def read() -> list[str]:
            nonlocal next_index
            lines: list[str] = []
            while (chunk := self.download_messages_chunk(next_index, params)) is not None:
                next_index += 1
                lines += chunk.splitlines()
            return lines

        return read, lambda line: _handle_json_line(handler, line)

    def _log_sources(self, session: _ReaderSession) -> list[tuple[Read, Consume]]:
        return [(self._stream(session, "output"), _to_stdout), (self._stream(session, "error"), _to_stderr)]


def _handle_json_line(handler: PipesMessageHandler, line: str) -> bool:
    if not line:
        return False
    handler.handle_message(json.loads(line))
    return True


def _step_log(handler: PipesMessageHandler, level: str, text: str) -> None:
    """Write to the step's log through the handler's public API: a Pipes ``log`` message, as a script sends."""
    message: PipesMessage = {
        "__dagster_pipes_version": PIPES_PROTOCOL_VERSION,
        "method": "log",
        "params": {"message": text, "level": level},
    }
    handler.handle_message(message)

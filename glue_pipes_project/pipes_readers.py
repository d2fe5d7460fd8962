"""Message readers that follow a Glue run live and lose nothing, for both message-writer variants.

dagster-aws's readers poll on ``PipesThreadedMessageReader``'s loop: a 1 s sleep per iteration, at
most one chunk or page per iteration, and they stop 10 s after the session closes whether or not
everything arrived. Its Glue client also attaches the CloudWatch reader only after the run succeeded.
These readers start as soon as the client reports the launched run, drain everything available
before sleeping, back off briefly when idle, and stop on the Pipes ``closed`` message.

Both readers also forward the run's output streams as logs: lines that are not Pipes messages
go to the step's stdout, ``{LogGroupName}/error`` to its stderr (Dagster captures both).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from dagster._core.pipes.client import PipesLaunchedData, PipesParams
from dagster._core.pipes.context import PipesMessageHandler
from dagster._core.pipes.utils import extract_message_or_forward_to_stdout
from dagster_aws.pipes import PipesCloudWatchMessageReader, PipesS3MessageReader

from glue_pipes_project.cloudwatch_tail import CloudWatchTail

# Joining a reader thread never takes longer than this after the session closed.
_JOIN_TIMEOUT = 60.0


@dataclass(frozen=True)
class TailPolicy:
    """How often to poll while idle, and how long to wait for stragglers after the run ended."""

    min_poll_seconds: float = 0.05
    # Idle polling cap for the messages stream (latency) and the log streams (less urgent). Every
    # poll is a GetLogEvents call, and CloudWatch allows about 10 per second per account and region.
    max_poll_seconds: float = 0.25
    max_log_poll_seconds: float = 5.0
    # Only when a run ended without a Pipes ``closed`` message (killed, timed out, crashed before
    # opening Pipes): stop reading once its streams have been quiet this long, since CloudWatch may
    # still be ingesting its last lines.
    settle_seconds: float = 5.0


Read = Callable[[], list[str]]


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
                threading.Thread(target=self._guarded, args=(handler, self._pump_messages, session, params, handler)),
                threading.Thread(target=self._guarded, args=(handler, self._pump_logs, session)),
            ]
            for thread in threads:
                thread.daemon = True
                thread.start()
            try:
                yield params
            finally:
                session.closed.set()
                for thread in threads:
                    thread.join(_JOIN_TIMEOUT)

    # -- what subclasses provide -----------------------------------------------------------------

    def _message_source(
        self, session: _ReaderSession, params: PipesParams, handler: PipesMessageHandler
    ) -> tuple[Read, Callable[[str], None]]:
        raise NotImplementedError

    def _log_sources(self, session: _ReaderSession) -> list[tuple[Read, Callable[[str], None]]]:
        raise NotImplementedError

    # -- the loops ---------------------------------------------------------------------------------

    def _pump_messages(self, session: _ReaderSession, params: PipesParams, handler: PipesMessageHandler) -> None:
        if not self._wait_for_launch(session):
            return
        read, consume = self._message_source(session, {**params, **session.messages_params}, handler)
        quiet_since: float | None = None
        poll = self.tail_policy.min_poll_seconds
        while True:
            lines = read()
            for line in lines:
                consume(line)
            if handler.received_closed_message:
                return  # `closed` is the last thing a Pipes process writes
            if lines:
                poll, quiet_since = self.tail_policy.min_poll_seconds, None
                continue
            if session.closed.is_set():
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since > self.tail_policy.settle_seconds:
                    handler._context.log.warning(  # noqa: SLF001 - the handler's context is the step's
                        f"[pipes] Glue run {session.run_id} ended without a Pipes 'closed' message; "
                        f"read its output until it was quiet for {self.tail_policy.settle_seconds:g} s"
                    )
                    return
                time.sleep(poll)
            else:
                session.closed.wait(poll)  # the run's end wakes us for a final read at once
            poll = min(poll * 2, self.tail_policy.max_poll_seconds)

    def _pump_logs(self, session: _ReaderSession) -> None:
        if not self._wait_for_launch(session):
            return
        sources = self._log_sources(session)
        poll = self.tail_policy.min_poll_seconds
        while True:
            was_closed = session.closed.is_set()
            read_any = False
            for read, consume in sources:
                lines = read()
                read_any = read_any or bool(lines)
                for line in lines:
                    consume(line)
            if was_closed and not read_any:
                return  # the run has ended and its streams are drained
            if read_any:
                poll = self.tail_policy.min_poll_seconds
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
    def _guarded(handler: PipesMessageHandler, target: Callable[..., None], *args: Any) -> None:
        try:
            target(*args)
        except Exception:
            handler.report_pipes_framework_exception(f"{target.__name__} thread", sys.exc_info())


def _to_stdout(line: str) -> None:
    sys.stdout.write(line + "\n")


def _to_stderr(line: str) -> None:
    sys.stderr.write(line + "\n")


class GlueCloudWatchMessageReader(LiveGlueReaderMixin, PipesCloudWatchMessageReader):
    """Pipes messages from the run's stdout in ``{LogGroupName}/output``, read live from the head."""

    def __init__(self, client: Any = None, *, tail_policy: TailPolicy | None = None):
        super().__init__(client=client)
        self._init_live(self.client, tail_policy)

    def _message_source(
        self, session: _ReaderSession, params: PipesParams, handler: PipesMessageHandler
    ) -> tuple[Read, Callable[[str], None]]:
        return self._stream(session, "output"), lambda line: extract_message_or_forward_to_stdout(handler, line)

    def _log_sources(self, session: _ReaderSession) -> list[tuple[Read, Callable[[str], None]]]:
        return [(self._stream(session, "error"), _to_stderr)]


class GlueS3MessageReader(LiveGlueReaderMixin, PipesS3MessageReader):
    """Pipes messages from the chunks ``PipesS3MessageWriter`` uploads, every chunk as soon as it lands."""

    def __init__(self, *, bucket: str, client: Any, logs_client: Any, tail_policy: TailPolicy | None = None):
        super().__init__(bucket=bucket, client=client, interval=0)
        self._init_live(logs_client, tail_policy)

    def _message_source(
        self, session: _ReaderSession, params: PipesParams, handler: PipesMessageHandler
    ) -> tuple[Read, Callable[[str], None]]:
        next_index = 1

        def read() -> list[str]:
            nonlocal next_index
            lines: list[str] = []
            while (chunk := self.download_messages_chunk(next_index, params)) is not None:
                next_index += 1
                lines += chunk.splitlines()
            return lines

        return read, lambda line: _handle_json_line(handler, line)

    def _log_sources(self, session: _ReaderSession) -> list[tuple[Read, Callable[[str], None]]]:
        return [(self._stream(session, "output"), _to_stdout), (self._stream(session, "error"), _to_stderr)]


def _handle_json_line(handler: PipesMessageHandler, line: str) -> None:
    if line:
        handler.handle_message(json.loads(line))

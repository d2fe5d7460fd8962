"""`glue-pipes local-aws run -- COMMAND`: what `make dev` runs, so the endpoint it starts stops with it.

The endpoint is started before the command (so it is known to be this session's) and stopped
when the command ends: Ctrl-C, closing the terminal (SIGHUP) or `kill`. An endpoint that was
already running belongs to someone else's session and is left alone.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
from collections.abc import Sequence
from types import FrameType

from .daemon import ensure_running, status, stop


def run_with_endpoint(port: int | None, command: Sequence[str]) -> int:
    """Run `command` with our endpoint on `port` (None: no endpoint); its exit status (128 + signal if killed)."""
    started_pid = None
    if port is not None and status(port) is None:
        ensure_running(port)
        started_pid = status(port)["pid"]  # type: ignore[index]
    try:
        child = subprocess.Popen(list(command))

        def forward(signum: int, frame: FrameType | None) -> None:
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(signum)

        # Ctrl-C reaches the command from the terminal: only wait for it to finish.
        signal.signal(signal.SIGINT, lambda signum, frame: None)
        signal.signal(signal.SIGTERM, forward)
        signal.signal(signal.SIGHUP, forward)
        code = child.wait()
    finally:
        if port is not None and started_pid is not None and (status(port) or {}).get("pid") == started_pid:
            stop(port)
    return 128 - code if code < 0 else code

"""The endpoint as a background server on a fixed port, shared by every process on the machine."""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

from .control_client import ControlClient, ForeignServerError

MINUTE_SECONDS_ENV = "GLUE_PIPES_LOCAL_MINUTE_SECONDS"
QUOTAS_ENV = "GLUE_PIPES_LOCAL_QUOTAS"
PORT_SETTING = "GLUE_PIPES_LOCAL_PORT"
START_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 30.0
LOG_TAIL_LINES = 20


def serve(port: int, host: str = "127.0.0.1", quotas: str | None = None) -> None:
    """Run the endpoint in the foreground until SIGTERM/SIGINT or a control-API shutdown.

    `quotas` (default: the `GLUE_PIPES_LOCAL_QUOTAS` variable, else off) as `QuotaTable.parse` reads it.
    """
    from .server import LocalAWS  # here, not at the top: clients of the daemon need no moto
    from .traffic import QuotaTable

    minute_seconds = float(os.environ.get(MINUTE_SECONDS_ENV, "60"))
    table = QuotaTable.parse(os.environ.get(QUOTAS_ENV, "") if quotas is None else quotas)
    aws = LocalAWS(port=port, host=host, minute_seconds=minute_seconds, quotas=table).start()
    stop_requested = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop_requested.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    print(f"glue-pipes local AWS endpoint at {aws.endpoint_url} (pid {os.getpid()})", flush=True)
    # Short waits: the main thread must come back to Python for the signal handler to run.
    while not stop_requested.is_set() and not aws.wait_stopped(0.2):
        pass
    aws.stop()
    print("glue-pipes local AWS endpoint stopped", flush=True)


def endpoint_url(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def status(port: int) -> dict[str, Any] | None:
    """Health of our server on `port`, or None if nothing listens there."""
    return _health(port)


def ensure_running(port: int) -> str:
    """The URL of our server on `port`, starting it in the background if needed.

    Concurrent callers (several Dagster runs starting at once) start exactly one server: the
    start is serialised by an exclusive lock on a file named after the port.
    """
    if _health(port):
        return endpoint_url(port)
    with open(_state_file(port, "lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _health(port):
            return endpoint_url(port)
        process = _spawn(port)
        _state_file(port, "pid").write_text(f"{process.pid}\n")
        _wait_healthy(port, process)
    return endpoint_url(port)


def stop(port: int) -> bool:
    """Stop our server on `port` and its runs; False if none was running."""
    health = _health(port)
    if health is None:
        return False
    ControlClient(endpoint_url(port)).shutdown()
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    while time.monotonic() < deadline and (_port_open(port) or _alive(health["pid"])):
        time.sleep(0.05)
    if _alive(health["pid"]):
        raise RuntimeError(f"local AWS endpoint (pid {health['pid']}) on port {port} did not stop")
    _state_file(port, "pid").unlink(missing_ok=True)
    return True


def _health(port: int) -> dict[str, Any] | None:
    try:
        return ControlClient(endpoint_url(port), timeout=2.0).health()
    except ForeignServerError as error:
        raise RuntimeError(
            f"Port {port} is in use by something other than the glue-pipes local AWS endpoint. "
            f"Free the port or choose another one with {PORT_SETTING}."
        ) from error


def _spawn(port: int) -> subprocess.Popen[bytes]:
    package_root = str(Path(__file__).resolve().parents[2])  # importable wherever we are run from
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")])),
    }
    with open(_state_file(port, "log"), "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "glue_pipes_project.local_aws", "serve", "--port", str(port)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # outlives the caller and its terminal's signals
        )


def _wait_healthy(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        if _health(port):
            return
        time.sleep(0.1)
    if process.poll() is None:
        process.kill()
    raise RuntimeError(
        f"The local AWS endpoint did not start on port {port}. "
        f"Last lines of {_state_file(port, 'log')}:\n{_log_tail(port)}"
    )


def _log_tail(port: int) -> str:
    try:
        return "\n".join(_state_file(port, "log").read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:])
    except OSError:
        return "(no log)"


def _state_file(port: int, kind: str) -> Path:
    return Path(tempfile.gettempdir()) / f"glue-pipes-local-aws-{port}.{kind}"


def _port_open(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _alive(pid: int) -> bool:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reap it if it is our own child
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _exited(pid)


def _exited(pid: int) -> bool:
    """A zombie whose threads have all ended (not yet reaped by its parent) has exited.

    The main thread of a killed process turns zombie before its other threads are done (and
    before its sockets are closed), so the thread count matters.
    """
    try:
        fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    except (FileNotFoundError, ProcessLookupError):
        return True
    except OSError:  # no /proc here: kill(pid, 0) said it exists
        return False
    return fields["State"].strip().startswith("Z") and fields["Threads"].strip() == "1"

"""The endpoint as a background server on a fixed port, shared by every process on the machine."""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

from .control_client import ControlClient, ForeignServerError
from .credentials import credentials_path
from .runtime_dir import open_private, read_private, runtime_dir

MINUTE_SECONDS_ENV = "GLUE_PIPES_LOCAL_MINUTE_SECONDS"
QUOTAS_ENV = "GLUE_PIPES_LOCAL_QUOTAS"
PORT_SETTING = "GLUE_PIPES_LOCAL_PORT"
START_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 30.0
LOG_TAIL_LINES = 20
_PROC = Path("/proc")


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
    if _recorded_pid(port) == os.getpid():  # started by ensure_running: a clean stop leaves no state behind
        for kind in ("pid", "log", "lock"):
            _state_file(port, kind).unlink(missing_ok=True)


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
    if not _health(port):
        with _port_lock(port):
            if not _health(port):
                _forget_stale_server(port)
                process = _spawn(port)
                _write_state(port, "pid", f"{process.pid}\n".encode())
                _wait_healthy(port, process)
    _require_ours(port)
    return endpoint_url(port)


def stop(port: int) -> bool:
    """Stop our server on `port` and its runs; False if none was running."""
    health = _health(port)
    if health is None:
        return False
    _require_ours(port)
    ControlClient(endpoint_url(port)).shutdown()
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    while time.monotonic() < deadline and (_port_open(port) or process_alive(health["pid"])):
        time.sleep(0.05)
    if process_alive(health["pid"]):
        raise RuntimeError(f"local AWS endpoint (pid {health['pid']}) on port {port} did not stop")
    _forget_stale_server(port)
    return True


def _health(port: int) -> dict[str, Any] | None:
    try:
        return ControlClient(endpoint_url(port), timeout=2.0).health()
    except ForeignServerError as error:
        raise RuntimeError(
            f"Port {port} is in use by something other than the glue-pipes local AWS endpoint. "
            f"Free the port or choose another one with {PORT_SETTING}."
        ) from error


@contextlib.contextmanager
def _port_lock(port: int) -> Iterator[None]:
    """An exclusive lock on the port's lock file, which a clean stop may remove at any time.

    Holding the lock only counts if the file is still the one at the path (not unlinked meanwhile).
    """
    path = _state_file(port, "lock")
    while True:
        descriptor = open_private(path, os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            if _is_file_at(path, descriptor):
                yield
                return
        finally:
            os.close(descriptor)


def _is_file_at(path: Path, descriptor: int) -> bool:
    try:
        return os.stat(path, follow_symlinks=False).st_ino == os.fstat(descriptor).st_ino
    except FileNotFoundError:
        return False


def _forget_stale_server(port: int) -> None:
    """A pid file whose process is gone (killed endpoint) and that endpoint's credentials."""
    pid = _recorded_pid(port)
    if pid is not None and not process_alive(pid):
        _state_file(port, "pid").unlink(missing_ok=True)
        credentials_path(port).unlink(missing_ok=True)


def _recorded_pid(port: int) -> int | None:
    text = read_private(_state_file(port, "pid"))
    return int(text) if text and text.strip().isdigit() else None


def _write_state(port: int, kind: str, data: bytes) -> None:
    descriptor = open_private(_state_file(port, kind), os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)


def _require_ours(port: int) -> None:
    """Our credentials open its control API: it is this user's endpoint, not another user's."""
    try:
        ControlClient(endpoint_url(port), timeout=2.0).requests()
    except (PermissionError, urllib.error.HTTPError) as error:
        raise RuntimeError(
            f"The local AWS endpoint on port {port} was not started by you (or its credentials file in "
            f"{runtime_dir()} is gone). Stop it, or choose another port with {PORT_SETTING}."
        ) from error


def _spawn(port: int) -> subprocess.Popen[bytes]:
    package_root = str(Path(__file__).resolve().parents[1])  # importable wherever we are run from
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")])),
    }
    log_descriptor = open_private(_state_file(port, "log"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    with os.fdopen(log_descriptor, "wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "glue_pipes_local_aws", "serve", "--port", str(port)],
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
    log = read_private(_state_file(port, "log"))
    if log is None:
        return "(no log)"
    return "\n".join(log.decode(errors="replace").splitlines()[-LOG_TAIL_LINES:])


def _state_file(port: int, kind: str) -> Path:
    return runtime_dir() / f"local-aws-{port}.{kind}"


def _port_open(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def process_alive(pid: int) -> bool:
    """Whether `pid` still runs (an exited process not yet reaped by its parent does not).

    Linux reads /proc; other POSIX systems (macOS) ask `ps` for the process state.
    """
    if pid <= 0:  # 0 and negatives name process groups, never one process
        return False
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reap it if it is our own child
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not (_exited_linux(pid) if (_PROC / "self" / "status").exists() else _exited_posix(pid))


def _exited_linux(pid: int) -> bool:
    """A zombie whose threads have all ended (not yet reaped by its parent) has exited.

    The main thread of a killed process turns zombie before its other threads are done (and
    before its sockets are closed), so the thread count matters.
    """
    try:
        fields = dict(line.split(":", 1) for line in (_PROC / str(pid) / "status").read_text().splitlines())
    except (FileNotFoundError, ProcessLookupError):
        return True
    return fields["State"].strip().startswith("Z") and fields["Threads"].strip() == "1"


def _exited_posix(pid: int) -> bool:
    """No such process, or a zombie (`ps` state Z)."""
    state = subprocess.run(["ps", "-o", "stat=", "-p", str(pid)], capture_output=True, text=True).stdout.strip()
    return not state or state.startswith("Z")

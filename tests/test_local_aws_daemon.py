"""The background local AWS endpoint: one server per port, however many callers start it at once."""

from __future__ import annotations

import contextlib
import http.server
import os
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from glue_pipes_project.local_aws import ensure_running, status, stop
from glue_pipes_project.local_aws.clients import make_client
from tests.helpers import wait_until


@pytest.fixture
def port() -> Iterator[int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    yield free
    if _listening(free):
        stop(free)
    for kind in ("lock", "log", "pid"):
        (Path(tempfile.gettempdir()) / f"glue-pipes-local-aws-{free}.{kind}").unlink(missing_ok=True)


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _gone(pid: int) -> bool:
    """True once `pid` has exited: no such process, or a zombie whose threads have all ended."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reap it if it was our child
    try:
        status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    except (FileNotFoundError, ProcessLookupError):
        return True
    return status["State"].strip().startswith("Z") and status["Threads"].strip() == "1"


def _servers_on(port: int) -> list[int]:
    """pids of every `... local_aws serve --port <port>` process on the machine."""
    wanted = ["-m", "glue_pipes_project.local_aws", "serve", "--port", str(port)]
    pids = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes().decode().split("\0")
        except OSError:
            continue
        if argv[1:6] == wanted:
            pids.append(int(cmdline.parent.name))
    return pids


def _start_sleeper(url: str) -> tuple[Any, str, int]:
    """Start a Glue job run that prints its pid and sleeps; returns (glue client, run id, pid)."""
    s3, glue, logs = (make_client(service, url, "us-east-1") for service in ("s3", "glue", "logs"))
    bucket = f"daemon-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(
        Bucket=bucket,
        Key="sleep.py",
        Body=b"import os, time\nprint('pid', os.getpid(), flush=True)\ntime.sleep(300)\n",
    )
    name = f"sleeper-{uuid.uuid4().hex[:8]}"
    glue.create_job(
        Name=name, Role="role", Command={"Name": "pythonshell", "ScriptLocation": f"s3://{bucket}/sleep.py"}
    )
    run_id = glue.start_job_run(JobName=name)["JobRunId"]

    def printed_pid() -> int | None:
        try:
            events = logs.get_log_events(logGroupName="/aws-glue/python-jobs/output", logStreamName=run_id)["events"]
        except logs.exceptions.ResourceNotFoundException:
            return None
        return next((int(event["message"].split()[1]) for event in events), None)

    return glue, run_id, wait_until(printed_pid, what="the run to print its pid")


def test_ensure_running_starts_one_server_and_stop_stops_it(port: int) -> None:
    assert status(port) is None
    url = ensure_running(port)
    assert url == f"http://127.0.0.1:{port}"
    health = status(port)
    assert health is not None and health["endpoint_url"] == url and health["pid"] != os.getpid()
    assert ensure_running(port) == url
    assert status(port) == health  # the same server, not a second one
    assert _servers_on(port) == [health["pid"]]
    pid_file = Path(tempfile.gettempdir()) / f"glue-pipes-local-aws-{port}.pid"
    assert pid_file.read_text().strip() == str(health["pid"])
    assert stop(port) is True
    assert status(port) is None and not _listening(port) and _gone(health["pid"])
    assert not pid_file.exists()
    assert stop(port) is False


def test_concurrent_callers_start_exactly_one_server(port: int) -> None:
    code = f"from glue_pipes_project.local_aws import ensure_running; print(ensure_running({port}))"
    processes = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) for _ in range(3)]
    urls: list[str] = []
    threads = [threading.Thread(target=lambda: urls.append(ensure_running(port))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    urls += [process.communicate(timeout=60)[0].strip() for process in processes]
    assert urls == [f"http://127.0.0.1:{port}"] * 7
    health = status(port)
    assert health is not None
    assert _servers_on(port) == [health["pid"]]


def test_a_foreign_server_on_the_port_is_named_in_the_error(port: int) -> None:
    server = http.server.HTTPServer(("127.0.0.1", port), http.server.SimpleHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with pytest.raises(RuntimeError, match=rf"Port {port} is in use .*GLUE_PIPES_LOCAL_PORT"):
            ensure_running(port)
    finally:
        server.shutdown()
        server.server_close()


def test_a_server_that_fails_to_start_reports_its_log(port: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GLUE_PIPES_LOCAL_MINUTE_SECONDS", "not-a-number")
    with pytest.raises(RuntimeError, match=r"(?s)did not start on port .*could not convert string to float"):
        ensure_running(port)
    assert not _listening(port)


def test_stop_stops_the_server_s_runs(port: int) -> None:
    _, _, pid = _start_sleeper(ensure_running(port))
    assert stop(port)
    assert _gone(pid)


def test_sigterm_stops_the_server_and_its_runs_cleanly(port: int) -> None:
    url = ensure_running(port)
    server_pid = status(port)["pid"]  # type: ignore[index]
    _, _, pid = _start_sleeper(url)
    os.kill(server_pid, signal.SIGTERM)
    wait_until(lambda: _gone(server_pid) and _gone(pid), what="server and run to exit")
    log = Path(tempfile.gettempdir()) / f"glue-pipes-local-aws-{port}.log"
    assert log.read_text().rstrip().endswith("glue-pipes local AWS endpoint stopped")


def test_a_killed_server_leaves_no_run_behind(port: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # the killed server cannot remove its work directory
    url = ensure_running(port)
    server_pid = status(port)["pid"]  # type: ignore[index]
    _, _, pid = _start_sleeper(url)
    os.kill(server_pid, signal.SIGKILL)  # no clean-up code runs: the kernel's parent-death signal must
    wait_until(lambda: _gone(server_pid) and _gone(pid), what="the run to die with its server")


def test_serve_module_runs_in_the_foreground_until_interrupted(port: int) -> None:
    server = subprocess.Popen(
        [sys.executable, "-m", "glue_pipes_project.local_aws", "serve", "--port", str(port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    banner = server.stdout.readline()
    assert f"http://127.0.0.1:{port}" in banner and str(server.pid) in banner
    assert status(port)["pid"] == server.pid  # type: ignore[index]
    server.send_signal(signal.SIGINT)
    assert server.wait(timeout=15) == 0
    assert textwrap.dedent(server.stdout.read()).strip() == "glue-pipes local AWS endpoint stopped"

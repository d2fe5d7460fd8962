"""The background local AWS endpoint: one server per port, however many callers start it at once."""

from __future__ import annotations

import http.server
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from glue_pipes_local_aws import daemon, ensure_running, status, stop
from glue_pipes_local_aws.clients import make_client
from glue_pipes_local_aws.credentials import credentials_for
from glue_pipes_local_aws.runtime_dir import runtime_dir
from tests.helpers import wait_until


@pytest.fixture
def port() -> Iterator[int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    yield free
    if _listening(free):
        stop(free)
    for path in _state_files(free):
        path.unlink()


def _state_files(port: int) -> list[Path]:
    return sorted(runtime_dir().glob(f"local-aws-{port}.*"))


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _gone(pid: int) -> bool:
    return not daemon.process_alive(pid)


def _servers_on(port: int) -> list[int]:
    """pids of every `... local_aws serve --port <port>` process on the machine (`ps`: Linux and macOS)."""
    wanted = f"-m glue_pipes_local_aws serve --port {port}"
    listing = subprocess.run(["ps", "-ww", "-eo", "pid=,args="], capture_output=True, text=True, check=True).stdout
    return [int(line.split()[0]) for line in listing.splitlines() if line.rstrip().endswith(wanted)]


def _start_sleeper(url: str) -> tuple[Any, str, int]:
    """Start a Glue job run that prints its pid and sleeps; returns (glue client, run id, pid)."""
    credentials = credentials_for(url)
    assert credentials is not None
    s3, glue, logs = (make_client(service, url, "us-east-1", credentials) for service in ("s3", "glue", "logs"))
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
    pid_file = runtime_dir() / f"local-aws-{port}.pid"
    assert pid_file.read_text().strip() == str(health["pid"])
    assert [path.suffix for path in _state_files(port)] == [".credentials", ".lock", ".log", ".pid"]
    assert stop(port) is True
    assert status(port) is None and not _listening(port) and _gone(health["pid"])
    assert _state_files(port) == []  # a clean stop leaves nothing behind
    assert stop(port) is False


def test_concurrent_callers_start_exactly_one_server(port: int) -> None:
    code = f"from glue_pipes_local_aws import ensure_running; print(ensure_running({port}))"
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


def test_the_cli_names_a_foreign_server_in_one_line(port: int) -> None:
    server = http.server.HTTPServer(("127.0.0.1", port), http.server.SimpleHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        result = subprocess.run(
            [sys.executable, "-m", "glue_pipes_project.cli", "local-aws", "start", "--port", str(port)],
            capture_output=True,
            text=True,
        )
    finally:
        server.shutdown()
        server.server_close()
    assert result.returncode == 1
    assert result.stderr.startswith(f"glue-pipes: Port {port} is in use") and len(result.stderr.splitlines()) == 1


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
    assert _state_files(port) == []  # stopped cleanly: pid, log, lock and credentials removed


def test_a_killed_server_leaves_no_run_behind_and_the_next_start_cleans_up(port: int) -> None:
    url = ensure_running(port)
    server_pid = status(port)["pid"]  # type: ignore[index]
    _, _, pid = _start_sleeper(url)
    work_dirs = list(runtime_dir().glob(f"endpoint-{server_pid}-*"))
    assert len(work_dirs) == 1
    os.kill(server_pid, signal.SIGKILL)  # no clean-up code runs: the kernel's parent-death signal must
    wait_until(lambda: _gone(server_pid) and _gone(pid), what="the run to die with its server")
    assert work_dirs[0].exists()  # the killed server could not remove its work folder...
    ensure_running(port)
    assert not work_dirs[0].exists()  # ...the next start does
    assert status(port)["pid"] != server_pid  # type: ignore[index]


def test_a_stale_pid_file_is_recognised(port: int) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    (runtime_dir() / f"local-aws-{port}.pid").write_text(f"{dead.pid}\n")
    (runtime_dir() / f"local-aws-{port}.credentials").write_text(
        '{"aws_access_key_id": "x", "aws_secret_access_key": "y"}'
    )
    url = ensure_running(port)
    health = status(port)
    assert health is not None and health["pid"] != dead.pid
    assert (runtime_dir() / f"local-aws-{port}.pid").read_text().strip() == str(health["pid"])
    assert credentials_for(url) is not None and credentials_for(url).access_key_id != "x"  # type: ignore[union-attr]


def test_state_files_are_never_opened_through_a_symlink(port: int, tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    (runtime_dir() / f"local-aws-{port}.log").symlink_to(victim)
    with pytest.raises(OSError):
        ensure_running(port)
    assert victim.read_text() == "precious\n" and status(port) is None


@pytest.mark.parametrize("proc", [True, False], ids=["with /proc", "without /proc (macOS): ps"])
def test_process_alive_tells_running_from_exited(proc: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if not proc:
        monkeypatch.setattr(daemon, "_PROC", tmp_path / "no-proc")
    # A grandchild that exits and stays a zombie: its parent (our child) never reaps it.
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import os, time\npid = os.fork()\nif pid == 0: os._exit(0)\nprint(pid, flush=True)\ntime.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert parent.stdout is not None
        zombie = int(parent.stdout.readline())
        assert daemon.process_alive(parent.pid)
        # The grandchild prints before it exits: give it the moment it needs to become a zombie.
        wait_until(lambda: not daemon.process_alive(zombie), timeout=5, what="the exited grandchild to count as gone")
    finally:
        parent.kill()
        parent.wait()
    assert not daemon.process_alive(parent.pid)


def test_serve_module_runs_in_the_foreground_until_interrupted(port: int) -> None:
    server = subprocess.Popen(
        [sys.executable, "-m", "glue_pipes_local_aws", "serve", "--port", str(port)],
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
    assert _state_files(port) == []


REPO = Path(__file__).resolve().parents[1]
# Stands in for `dagster dev`: like a Dagster run, it starts the endpoint on the port in .env on demand.
FAKE_DAGSTER_DEV = """
import os, time, dotenv
from glue_pipes_local_aws import ensure_running
from glue_pipes_project.settings import Settings
settings = Settings.from_env({**os.environ, **dotenv.dotenv_values(".env")})
print(ensure_running(settings.local_port), flush=True)
time.sleep(600)
"""


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGHUP], ids=["Ctrl-C", "terminal closed"])
def test_make_dev_stops_the_endpoint_it_started_on_the_dotenv_port(port: int, signum: int, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(f"GLUE_PIPES_LOCAL_PORT={port}\n")
    (tmp_path / "fake_dagster_dev.py").write_text(FAKE_DAGSTER_DEV)
    venv = REPO / ".venv"
    make = subprocess.Popen(
        # The project's own Makefile and recipe, run from a project directory holding that .env.
        ["make", "-s", "-f", str(REPO / "Makefile"), "-o", f"{venv}/.synced", f"VENV={venv}", "dev"],
        cwd=tmp_path,
        env={**os.environ, "DAGSTER_DEV": f"{sys.executable} fake_dagster_dev.py"},
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )
    assert make.stdout is not None
    before_ui = [make.stdout.readline().strip()]
    while not before_ui[-1].startswith("http://"):  # the deploy's plan and summary come first
        before_ui.append(make.stdout.readline().strip())
    assert before_ui[-1] == f"http://127.0.0.1:{port}"
    assert f"Plan for local environment, s3://glue-pipes-local/glue-pipes/local, http://127.0.0.1:{port}:" in before_ui
    assert any(line.startswith("Deployed: files 9 uploaded") for line in before_ui), before_ui
    server_pid = status(port)["pid"]  # type: ignore[index]
    os.killpg(make.pid, signum)  # what the terminal does: the whole foreground group gets it
    make.wait(timeout=60)
    wait_until(lambda: _gone(server_pid), what="the endpoint make dev started to stop")
    assert status(port) is None


def test_make_dev_leaves_an_endpoint_it_did_not_start_running(port: int) -> None:
    url = ensure_running(port)
    result = subprocess.run(
        [sys.executable, "-m", "glue_pipes_project.cli", "local-aws", "run", "--port", str(port), "--", "true"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert status(port) is not None and ensure_running(port) == url

"""Executes Glue job runs as local processes, one supervising thread per run."""

from __future__ import annotations

import logging
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ..clients import InternalClients
from ..processes import signal_group, spawn_group
from .log_shipper import LogShipper
from .models import JobRun
from .runtime import GlueRuntime

POLL_SECONDS = 0.05
STOP_GRACE_SECONDS = 3.0
READER_GRACE_SECONDS = 2.0
# Job bookmarks between the endpoint and the local awsglue's Job: JSON files, {transformation_ctx: state}.
BOOKMARK_IN = "GLUE_PIPES_BOOKMARK_IN"
BOOKMARK_OUT = "GLUE_PIPES_BOOKMARK_OUT"

logger = logging.getLogger(__name__)


class Runner:
    def __init__(
        self,
        endpoint_url: str,
        clients: InternalClients,
        runtime: GlueRuntime,
        work_root: Path,
        minute_seconds: float,
    ) -> None:
        self._endpoint_url = endpoint_url
        self._work_root = work_root
        self._clients = clients
        self._runtime = runtime
        self._minute_seconds = minute_seconds
        self._lock = threading.Lock()
        self._live: dict[str, tuple[JobRun, threading.Thread]] = {}
        self._closed = False

    def launch(self, run: JobRun, commit_bookmark: Callable[[str], None]) -> None:
        """`commit_bookmark` keeps the state the run's `Job.commit()` wrote, called only if it SUCCEEDED."""
        # The supervising thread spawns the process and lives as long as it: the kernel's
        # parent-death signal is tied to that thread.
        thread = threading.Thread(
            target=self._supervise, args=(run, commit_bookmark), name=f"glue-{run.id[:15]}", daemon=True
        )
        with self._lock:
            if self._closed:  # started while the endpoint shuts down: it would outlive it
                run.finish("STOPPED", "The local AWS endpoint is shutting down.")
                return
            self._live[run.id] = (run, thread)
        thread.start()

    def shutdown(self) -> None:
        """Stop every run and wait until their processes are gone; refuse new ones."""
        with self._lock:
            self._closed = True
            live = list(self._live.values())
        for run, _ in live:
            run.request_stop()
        for _, thread in live:
            thread.join()

    def _supervise(self, run: JobRun, commit_bookmark: Callable[[str], None]) -> None:
        work_dir = self._work_root / run.id
        work_dir.mkdir(parents=True)
        try:
            self._execute(run, work_dir, commit_bookmark)
        except Exception as error:  # a bug here must still end the run, not leave it RUNNING
            logger.exception("job run %s crashed", run.id)
            run.finish("ERROR", f"Internal error of the local Glue emulation: {error}")
        finally:
            shutil.rmtree(work_dir, ignore_errors=True)
            with self._lock:
                self._live.pop(run.id, None)

    def _execute(self, run: JobRun, work_dir: Path, commit_bookmark: Callable[[str], None]) -> None:
        try:
            script, extra_paths = self._fetch(run, work_dir)
        except (ClientError, BotoCoreError, ValueError) as error:
            run.finish("FAILED", f"Could not fetch the job's files: {error}")
            return
        shipper = LogShipper(self._clients.get("logs", run.region), run.log_group, run.id)
        shipper.create_streams()
        if run.stop_requested.is_set():
            run.finish("STOPPED")
            return
        argv = self._runtime.command(script, run.id, run.job_name, run.merged_arguments())
        spark = run.job["Command"]["Name"] == "glueetl"
        env = self._runtime.environment(
            self._endpoint_url, run.region, extra_paths, spark_dir=work_dir / "spark" if spark else None
        )
        env.update(_bookmark_files(run, work_dir))
        if spark and (warning := self._runtime.spark_warning(run.job.get("GlueVersion"))):
            shipper.note(warning)
        process = spawn_group(argv, env, work_dir)
        run.mark_running()
        shipper.start(process.stdout, process.stderr)  # type: ignore[arg-type]
        state = self._wait(run, process)
        signal_group(process, signal.SIGKILL)  # whatever the script left running in its group
        bookmark_out = Path(env[BOOKMARK_OUT])
        # As Glue: kept only with bookmarks enabled, committed, and the run succeeded.
        enabled = run.merged_arguments().get("--job-bookmark-option") == "job-bookmark-enable"
        if enabled and state == "SUCCEEDED" and bookmark_out.exists():
            commit_bookmark(bookmark_out.read_text())
        shipper.close(READER_GRACE_SECONDS)
        # Only now, with every line in CloudWatch, may a reader see the run as finished.
        run.finish(state, self._error_message(state, run, process.returncode, shipper.stderr_tail))

    def _fetch(self, run: JobRun, work_dir: Path) -> tuple[Path, list[Path]]:
        """Download the script and `--extra-py-files`; returns the script and the PYTHONPATH entries."""
        s3 = self._clients.get("s3", run.region)
        script = _download(s3, run.job["Command"]["ScriptLocation"], work_dir / "script")
        extra_dir = work_dir / "extra"
        paths: list[Path] = []
        for url in _split(run.merged_arguments().get("--extra-py-files", "")):
            local = _download(s3, url, extra_dir)
            if local.suffix == ".py":
                if extra_dir not in paths:
                    paths.append(extra_dir)
            elif local.suffix in (".zip", ".whl"):
                paths.append(local)
            else:
                raise ValueError(f"--extra-py-files takes .py, .zip or .whl files, got {url}")
        return script, paths

    def _wait(self, run: JobRun, process: subprocess.Popen[bytes]) -> str:
        deadline = time.monotonic() + run.timeout_minutes * self._minute_seconds
        while True:
            if run.stop_requested.wait(POLL_SECONDS):
                _terminate(process)
                return "STOPPED"
            if process.poll() is not None:
                return "SUCCEEDED" if process.returncode == 0 else "FAILED"
            if time.monotonic() >= deadline:
                signal_group(process, signal.SIGKILL)
                process.wait()
                return "TIMEOUT"

    @staticmethod
    def _error_message(state: str, run: JobRun, exit_code: int, stderr_tail: Iterable[str]) -> str | None:
        if state == "TIMEOUT":
            return f"Job run timed out: it ran longer than its Timeout of {run.timeout_minutes} minutes."
        if state == "FAILED":
            return final_exception(stderr_tail) or f"Command failed with exit code {exit_code}"
        return None


def final_exception(stderr_lines: Iterable[str]) -> str | None:
    """`ValueError: boom` from the last traceback: its first line that is not indented."""
    lines = list(stderr_lines)
    starts = [index for index, line in enumerate(lines) if line.startswith("Traceback (most recent call last)")]
    if not starts:
        return None
    return next((line for line in lines[starts[-1] + 1 :] if not line[:1].isspace()), None)


def _bookmark_files(run: JobRun, work_dir: Path) -> dict[str, str]:
    """The state the run starts from (if the job has one) and where its `Job.commit()` writes the new one."""
    files = {BOOKMARK_OUT: str(work_dir / "bookmark-out.json")}
    if run.bookmark is not None:
        (work_dir / "bookmark-in.json").write_text(run.bookmark)
        files[BOOKMARK_IN] = str(work_dir / "bookmark-in.json")
    return files


def _terminate(process: subprocess.Popen[bytes]) -> None:
    signal_group(process, signal.SIGTERM)
    try:
        process.wait(STOP_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        signal_group(process, signal.SIGKILL)
        process.wait()


def _download(s3: Any, url: str, directory: Path) -> Path:
    bucket, _, key = url.removeprefix("s3://").partition("/")
    if not url.startswith("s3://") or not bucket or not key:
        raise ValueError(f"not an s3://bucket/key URL: {url!r}")
    directory.mkdir(parents=True, exist_ok=True)
    local = directory / Path(key).name
    s3.download_file(bucket, key, str(local))
    return local


def _split(urls: str) -> list[str]:
    return [url.strip() for url in urls.split(",") if url.strip()]

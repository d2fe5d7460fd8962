"""`LocalAWS`: the embedded local AWS endpoint, served from a thread of this process."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

from botocore.config import Config
from werkzeug.serving import BaseWSGIServer, make_server

from .app import EndpointApp, StartResponse
from .auth import RequestGuard
from .clients import InternalClients, make_client
from .control import ControlApi
from .control_client import ControlClient
from .credentials import EndpointCredentials, publish, remove_credentials_of_dead_endpoints, withdraw
from .daemon import process_alive
from .glue.responses import GlueApi
from .glue.runner import Runner
from .glue.runtime import GlueRuntime
from .moto_compat import MotoRequestHandler
from .runtime_dir import runtime_dir
from .traffic import FaultPlan, QuotaEnforcer, QuotaTable, RequestCounter


class _QuietRequestHandler(MotoRequestHandler):
    """moto's handler (keeps S3 metadata headers intact) without a log line per request."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class LocalAWS:
    """One HTTP endpoint on 127.0.0.1: moto serves S3 and CloudWatch Logs, we serve Glue jobs.

    moto keeps its backends (buckets, log groups) in process-global state, so every `LocalAWS` in
    one process shares them; Glue jobs and runs belong to each instance.

        with LocalAWS() as aws:
            s3 = aws.client("s3")

    `minute_seconds` is the length of an emulated minute, for Glue's `Timeout` (tests shorten it).
    Requests must be signed with `credentials` (fresh random ones per instance), which `start()`
    publishes in the user's private runtime directory for the project's clients to find, or with one
    of `principals` (`deploy`, `deploy-check`, `runtime`, `glue-job`: one per IAM identity of a deployment; Glue job
    runs get `glue-job`'s), so that `calls()` attributes each call to the policy that must allow it.
    `quotas` makes it throttle calls beyond per-operation rates as AWS does (`QuotaTable.aws()` for
    AWS's defaults, or `QuotaTable.parse("logs:GetLogEvents=10")`); off by default.
    `spark=False` gives glueetl runs no Spark even where pyspark and Java are installed.
    """

    def __init__(
        self,
        port: int = 0,
        region: str = "us-east-1",
        minute_seconds: float = 60.0,
        host: str = "127.0.0.1",
        quotas: QuotaTable | None = None,
        spark: bool = True,
    ) -> None:
        self.region = region
        self._spark = spark
        self._quotas = quotas
        self._port = port
        self._host = host
        self._minute_seconds = minute_seconds
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._runner: Runner | None = None
        self._work_dir: Path | None = None
        self._app: RequestGuard | None = None
        self.credentials = EndpointCredentials.generate()
        self.principals = EndpointCredentials.generate_principals()
        self._stop_lock = threading.Lock()
        self._stopped = threading.Event()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("LocalAWS is not running; call start() or use it as a context manager")
        return self._server.server_address[1]

    @property
    def endpoint_url(self) -> str:
        # Always the IP, never `localhost`: boto3 then addresses S3 buckets path-style.
        return f"http://127.0.0.1:{self.port}"

    @property
    def control(self) -> ControlClient:
        return ControlClient(self.endpoint_url, credentials=self.credentials)

    def start(self) -> LocalAWS:
        # Bind first: with port 0 the URL (which the app needs) is known only after binding.
        self._server = make_server(
            self._host, self._port, self._wsgi, threaded=True, request_handler=_QuietRequestHandler
        )
        # One private directory for everything on disk, so a killed endpoint leaves one thing behind
        # (and its credentials file), which the next start removes.
        _remove_work_dirs_of_dead_endpoints()
        remove_credentials_of_dead_endpoints(process_alive)
        self._work_dir = Path(tempfile.mkdtemp(prefix=f"{_WORK_DIR_PREFIX}{os.getpid()}-", dir=runtime_dir()))
        self._runner = Runner(
            self.endpoint_url,
            # Glue reads the script and writes its logs as the job's role, and the script runs as it.
            InternalClients(self.endpoint_url, self.principals["glue-job"]),
            GlueRuntime(self._work_dir / "runtime", self.principals["glue-job"], spark=self._spark),
            self._work_dir / "runs",
            self._minute_seconds,
        )
        counter, faults, glue = RequestCounter(), FaultPlan(), GlueApi(self._runner)
        quotas = QuotaEnforcer(self._quotas)
        control = ControlApi(self.endpoint_url, counter, faults, glue, quotas, on_shutdown=self._stop_in_background)
        app = EndpointApp(glue, control, counter, faults, self.region, quotas)
        self._app = RequestGuard(app, self.credentials, self._host, self.port, self.principals)
        publish(self.port, self.credentials)
        self._thread = threading.Thread(target=self._server.serve_forever, name="local-aws", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop every job run (waiting for their processes to be gone), then the server."""
        with self._stop_lock:
            if self._server is None:
                return
            assert self._runner and self._work_dir and self._thread
            self._runner.shutdown()  # first: runs ship their last log lines through the server
            self._server.shutdown()
            withdraw(self.port, self.credentials)  # while the port is still ours: no newer endpoint's file
            self._server.server_close()
            self._thread.join()
            shutil.rmtree(self._work_dir, ignore_errors=True)
            self._server = None
            self._stopped.set()

    def wait_stopped(self, timeout: float | None = None) -> bool:
        return self._stopped.wait(timeout)

    def client(
        self, service_name: str, region: str | None = None, config: Config | None = None, principal: str | None = None
    ) -> Any:
        """A boto3 client for this endpoint (its credentials, or `principal`'s; path-style S3)."""
        credentials = self.principals[principal] if principal else self.credentials
        return make_client(service_name, self.endpoint_url, region or self.region, credentials, config)

    def requests(self) -> dict[str, int]:
        """Requests received per operation (`glue:StartJobRun`, `s3:PutObject`, ...) since the last reset."""
        return self.control.requests()

    def calls(self) -> list[dict[str, Any]]:
        """Every call since the last reset, by principal (`admin` for `credentials`), with what IAM
        would evaluate: `{"principal", "operation", "authorizations": [{"action", "resource",
        "context"}], "count"}`."""
        return self.control.calls()

    def throttled(self) -> dict[str, int]:
        """Requests per operation that were throttled for exceeding a quota (also in `requests()`)."""
        return self.control.throttled()

    def reset_requests(self) -> None:
        self.control.reset_requests()

    def inject_fault(self, operation: str, error: str, count: int = 1, status: int = 400) -> None:
        """Make the next `count` client requests for `operation` fail with the AWS error code `error`."""
        self.control.inject_fault(operation, error, count, status)

    def delay_response(self, operation: str, seconds: float, count: int = 1) -> None:
        """Serve the next `count` requests for `operation`, then answer each `seconds` late (a slow network)."""
        self.control.delay_response(operation, seconds, count)

    def clear_faults(self) -> None:
        self.control.clear_faults()

    def set_run_state(self, run_id: str, state: str, error_message: str | None = None) -> None:
        """Make GetJobRun report `state` from now on (e.g. EXPIRED, which no script can cause).

        A forced terminal state also ends the run's process; the state then sticks.
        """
        self.control.set_run_state(run_id, state, error_message)

    def __enter__(self) -> LocalAWS:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    def _wsgi(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        assert self._app is not None
        return self._app(environ, start_response)

    def _stop_in_background(self) -> None:
        # Called from a request thread: the response must go out before the server stops.
        threading.Thread(target=self.stop, name="local-aws-stop").start()


_WORK_DIR_PREFIX = "endpoint-"


def _remove_work_dirs_of_dead_endpoints() -> None:
    """Work directories are named `endpoint-<pid>-*`: those of gone processes were left by a kill."""
    for path in runtime_dir().glob(f"{_WORK_DIR_PREFIX}*-*"):
        with contextlib.suppress(ValueError):
            if not process_alive(int(path.name.split("-")[1])):
                shutil.rmtree(path, ignore_errors=True)

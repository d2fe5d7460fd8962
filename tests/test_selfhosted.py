"""The self-hosted deployment (deploy/self-hosted/) on a real PostgreSQL 15 server.

Every dagster.yaml loads as a Dagster instance (storages connected, launcher and coordinator built),
and the whole topology runs: `dagster api grpc` serving this code location, `dagster-daemon run` and
`dagster-webserver` on the self-hosted instance, a Glue asset launched through the webserver's
GraphQL API, queued, run on the local AWS endpoint, and read back from Postgres.

A machine without PostgreSQL skips these tests, saying what to install; GLUE_PIPES_REQUIRE_SYSTEM_DEPS=1
(set by .ci/run) turns that skip into a failure.
"""

import contextlib
import dataclasses
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import dagster as dg
import psycopg2
import pytest
import yaml
from dagster_aws.ecs import EcsRunLauncher
from dagster_aws.s3.compute_log_manager import S3ComputeLogManager
from dagster_docker import DockerRunLauncher
from dagster_graphql import DagsterGraphQLClient

from glue_pipes_project import cli
from tests.helpers import wait_until

# One worker runs the whole module: its session-scoped set-up is costly, once is enough.
pytestmark = pytest.mark.xdist_group("selfhosted")

ROOT = Path(__file__).resolve().parent.parent
SELF_HOSTED = ROOT / "deploy" / "self-hosted"
POSTGRES_BIN = Path("/usr/lib/postgresql/15/bin")
VENV_BIN = Path(sys.executable).parent
LOCATION = "glue_pipes_project"
GLUE_JOB_TAG = "glue-pipes/glue-job"
# Long enough for a loaded 2-core machine; the test ends as soon as the run does.
RUN_TIMEOUT = 120.0

T = TypeVar("T")


def missing_system_dependency(what: str, package: str = "postgresql-15") -> None:
    message = f"the self-hosted tests need {what}: apt install {package}"
    if os.environ.get("GLUE_PIPES_REQUIRE_SYSTEM_DEPS") == "1":
        pytest.fail(f"{message} (GLUE_PIPES_REQUIRE_SYSTEM_DEPS=1 makes a missing system dependency a failure)")
    pytest.skip(message)


def politely(check: Callable[[], T | None], interval: float = 0.5) -> Callable[[], T | None]:
    """``check`` for wait_until, called at most every ``interval`` seconds: the servers it polls share
    the machine's cores with it."""

    def throttled() -> T | None:
        result = check()
        if not result:
            time.sleep(interval)
        return result

    return throttled


def run_quietly(args: list[str]) -> None:
    """Run a command; its output only if it fails."""
    result = subprocess.run(args, capture_output=True, text=True)
    assert result.returncode == 0, f"{args[0]} failed ({result.returncode}):\n{result.stdout}{result.stderr}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Processes:
    """Servers, each in its own process group, stopped by group whatever happens to the test."""

    log_dir: Path
    started: list[tuple[str, subprocess.Popen[bytes], signal.Signals]] = field(default_factory=list)

    def start(
        self, name: str, args: list[str], env: Mapping[str, str], stop_signal: signal.Signals = signal.SIGTERM
    ) -> subprocess.Popen[bytes]:
        with open(self.log_dir / f"{name}.log", "wb") as log:
            process = subprocess.Popen(
                args, env=dict(env), cwd=self.log_dir, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.started.append((name, process, stop_signal))
        return process

    def stop_all(self) -> None:
        # All at once, newest first, then wait: they shut down side by side.
        for _, process, stop_signal in reversed(self.started):
            _signal_group(process, stop_signal)
        for _, process, _ in reversed(self.started):
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
                process.wait()
            # Children that outlived their parent (a run worker) go with the group.
            _signal_group(process, signal.SIGKILL)
        self.started.clear()

    def check_running(self) -> None:
        for name, process, _ in self.started:
            if process.poll() is not None:
                raise AssertionError(f"{name} exited with {process.returncode}")

    @contextlib.contextmanager
    def logs_on_failure(self) -> Iterator[None]:
        """A failure inside says what the servers logged."""
        try:
            yield
        except AssertionError as error:
            raise AssertionError(f"{error}\n{self.logs()}") from error

    def logs(self, tail: int = 40) -> str:
        parts = []
        for name, _, _ in self.started:
            lines = (self.log_dir / f"{name}.log").read_text(errors="replace").splitlines()[-tail:]
            parts.append(f"--- {name} (last {len(lines)} lines) ---\n" + "\n".join(lines))
        return "\n".join(parts)


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):  # the whole group is gone already
        os.killpg(process.pid, sig)


@dataclass(frozen=True)
class Postgres:
    port: int
    database: str
    user: str
    password: str

    def dagster_env(self) -> dict[str, str]:
        """dagster.yaml's `env:` values for this server."""
        return {
            "DAGSTER_POSTGRES_HOST": "127.0.0.1",
            "DAGSTER_POSTGRES_PORT": str(self.port),
            "DAGSTER_POSTGRES_DB": self.database,
            "DAGSTER_POSTGRES_USER": self.user,
            "DAGSTER_POSTGRES_PASSWORD": self.password,
        }

    def query(self, sql: str, *params: object) -> list[tuple[Any, ...]]:
        """Run one statement on its own connection (autocommit); the rows it returns, if any."""
        connection = psycopg2.connect(
            host="127.0.0.1", port=self.port, dbname=self.database, user=self.user, password=self.password
        )
        try:
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchall() if cursor.description else []
        finally:
            connection.close()


@pytest.fixture(scope="session")  # lives on the worker: a module fixture is rebuilt when xdist interleaves modules
def postgres_server() -> Iterator[Postgres]:
    """A PostgreSQL 15 server on a free loopback port, password-authenticated, in a temp dir.

    initdb and postgres refuse to run as root: as root they run as the `postgres` system user.
    """
    if not (POSTGRES_BIN / "initdb").is_file() or not (POSTGRES_BIN / "postgres").is_file():
        missing_system_dependency(f"PostgreSQL 15's initdb and postgres in {POSTGRES_BIN}")
    as_user: list[str] = []
    owner = None
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            missing_system_dependency("the `postgres` system user to run the server as (we run as root)")
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            missing_system_dependency("setpriv (util-linux) to run the server as the `postgres` user")
        as_user = [setpriv, "--reuid=postgres", "--regid=postgres", "--init-groups", "--"]
    openssl = shutil.which("openssl")
    if openssl is None:
        missing_system_dependency("openssl to make the server's TLS certificate", package="openssl")

    server = Postgres(port=free_port(), database="postgres", user="dagster", password=secrets.token_urlsafe(16))
    # Not under pytest's tmp_path: its parents are private to root, and the server's user must reach it.
    work = Path(tempfile.mkdtemp(prefix="glue-pipes-pg-"))
    processes = Processes(work)
    try:
        password_file = work / "password"
        password_file.write_text(server.password)
        # ecs/dagster.yaml connects with sslmode=require, as RDS wants: any certificate will do.
        run_quietly(
            [
                *(openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"),
                *("-keyout", str(work / "server.key"), "-out", str(work / "server.crt")),
            ]
        )
        (work / "server.key").chmod(0o600)
        if owner is not None:
            for path in (work, password_file, work / "server.key", work / "server.crt"):
                os.chown(path, owner.pw_uid, owner.pw_gid)
        run_quietly(
            [
                *as_user,
                str(POSTGRES_BIN / "initdb"),
                f"--pgdata={work / 'data'}",
                f"--username={server.user}",
                f"--pwfile={password_file}",
                "--auth=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
                "--no-instructions",
            ]
        )
        settings = {
            "listen_addresses": "127.0.0.1",
            "unix_socket_directories": str(work),
            "ssl": "on",
            "ssl_cert_file": str(work / "server.crt"),
            "ssl_key_file": str(work / "server.key"),
            # A throwaway server: nothing to make durable.
            "fsync": "off",
            "synchronous_commit": "off",
        }
        processes.start(
            "postgres",
            [
                *as_user,
                *(str(POSTGRES_BIN / "postgres"), "-D", str(work / "data"), "-p", str(server.port)),
                *(arg for name, value in settings.items() for arg in ("-c", f"{name}={value}")),
            ],
            os.environ,
            stop_signal=signal.SIGINT,  # fast shutdown: ends the sessions still open
        )

        def accepts_connections() -> bool:
            processes.check_running()
            try:
                server.query("SELECT 1")
            except psycopg2.OperationalError:
                return False
            return True

        with processes.logs_on_failure():
            wait_until(politely(accepts_connections, interval=0.1), timeout=30, what="PostgreSQL to accept connections")
        yield server
    finally:
        processes.stop_all()
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture
def postgres(postgres_server: Postgres) -> Postgres:
    """An empty database of its own on the module's server, as the `dagster` user."""
    database = f"dagster_{secrets.token_hex(4)}"
    postgres_server.query(f"CREATE DATABASE {database}")
    return dataclasses.replace(postgres_server, database=database)


@pytest.fixture
def work_dir() -> Iterator[Path]:
    """The smoke test's DAGSTER_HOME, storage and server logs; removed afterwards, whatever happened
    (the logs' tails are in any failure message)."""
    with tempfile.TemporaryDirectory(prefix="glue-pipes-selfhosted-") as path:
        yield Path(path)


def smoke_instance_config() -> dict[str, Any]:
    """The self-hosted dagster.yaml with another launcher: runs start as processes of the gRPC server
    (DefaultRunLauncher), since this machine has no Docker engine. That launcher cannot resume a run
    on a new worker, and Dagster refuses it with max_resume_run_attempts above 0."""
    config = yaml.safe_load((SELF_HOSTED / "dagster.yaml").read_text())
    config["run_launcher"] = {"module": "dagster", "class": "DefaultRunLauncher"}
    config["run_monitoring"]["max_resume_run_attempts"] = 0
    return config


def load_instance(config: Mapping[str, Any], home: Path) -> dg.DagsterInstance:
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(yaml.safe_dump(dict(config)))
    return dg.DagsterInstance.from_config(str(home))


def assert_shared_instance_settings(instance: dg.DagsterInstance, postgres: Postgres) -> None:
    """What every variant shares: Postgres through psycopg2, the queue, run monitoring, retention."""
    assert instance.run_storage.postgres_url.startswith("postgresql+psycopg2://dagster:")
    assert f"@127.0.0.1:{postgres.port}/{postgres.database}" in instance.run_storage.postgres_url
    assert instance.get_runs() == []  # the tables exist in our database and answer
    tables = "SELECT count(*) FROM information_schema.tables WHERE table_name IN ('runs', 'event_logs')"
    assert postgres.query(tables) == [(2,)]

    coordinator = instance.run_coordinator
    assert isinstance(coordinator, dg.QueuedRunCoordinator)
    queue = coordinator.get_run_queue_config()
    assert queue.max_concurrent_runs == 10
    assert queue.tag_concurrency_limits == [
        {"key": GLUE_JOB_TAG, "value": {"applyLimitPerUniqueValue": True}, "limit": 2}
    ]
    assert instance.run_monitoring_enabled
    assert instance.run_monitoring_start_timeout_seconds == 300
    assert instance.run_monitoring_max_resume_run_attempts == 2
    assert instance.get_settings("retention") == {
        "schedule": {"purge_after_days": 90},
        "sensor": {"purge_after_days": {"skipped": 7, "failure": 30, "success": -1, "started": -1}},
    }


def test_docker_compose_instance_loads_with_postgres_and_the_docker_launcher(postgres, tmp_path, monkeypatch):
    for name, value in {**postgres.dagster_env(), "DAGSTER_STORAGE_DIR": str(tmp_path / "storage")}.items():
        monkeypatch.setenv(name, value)
    with load_instance(yaml.safe_load((SELF_HOSTED / "dagster.yaml").read_text()), tmp_path / "home") as instance:
        assert_shared_instance_settings(instance, postgres)
        # Built from its config only: the Docker engine is contacted at launch, not here.
        launcher = instance.run_launcher
        assert isinstance(launcher, DockerRunLauncher)
        assert launcher.networks == ["glue_pipes_dagster"]
        assert {"DAGSTER_POSTGRES_PASSWORD", "DAGSTER_STORAGE_DIR", "GLUE_PIPES_BUCKET"} <= set(launcher.env_vars)
        assert launcher.container_kwargs == {"volumes": ["glue_pipes_dagster_storage:/opt/dagster/storage"]}
        # `env:` values resolve in each process: the run containers get their own DAGSTER_STORAGE_DIR.
        assert instance.compute_log_manager.inst_data.config_dict["base_dir"] == {"env": "DAGSTER_STORAGE_DIR"}
        assert instance.storage_directory() == str(tmp_path / "storage" / "storage")


def test_ecs_instance_loads_with_postgres_and_the_ecs_launcher(postgres, tmp_path, monkeypatch):
    for name, value in {
        **postgres.dagster_env(),
        "DAGSTER_COMPUTE_LOGS_BUCKET": "my-dagster-logs",
        # The launcher and the S3 log manager build boto3 clients: no call is made, and any would
        # go to a closed local port with dummy credentials, never to AWS.
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",
        "AWS_ACCESS_KEY_ID": "dummy",
        "AWS_SECRET_ACCESS_KEY": "dummy",
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, value)
    with load_instance(yaml.safe_load((SELF_HOSTED / "ecs" / "dagster.yaml").read_text()), tmp_path) as instance:
        assert_shared_instance_settings(instance, postgres)
        launcher = instance.run_launcher
        assert isinstance(launcher, EcsRunLauncher)
        # Runs copy the daemon's task definition, its environment and secrets with it: the launcher
        # adds none and looks none up.
        assert launcher.use_current_ecs_task_config
        assert (launcher.env_vars, launcher.secrets, launcher.secrets_tags) == ([], [], [])
        assert launcher.propagate_tags == {"allow_list": [GLUE_JOB_TAG]}
        logs = instance.compute_log_manager
        assert isinstance(logs, S3ComputeLogManager)
        assert logs.inst_data.config_dict["bucket"] == {"env": "DAGSTER_COMPUTE_LOGS_BUCKET"}


def test_smoke_instance_differs_from_the_self_hosted_one_only_in_its_launcher():
    self_hosted = yaml.safe_load((SELF_HOSTED / "dagster.yaml").read_text())
    smoke = smoke_instance_config()
    assert {key for key in self_hosted if self_hosted[key] != smoke[key]} == {"run_launcher", "run_monitoring"}
    assert {**smoke["run_monitoring"], "max_resume_run_attempts": 2} == self_hosted["run_monitoring"]


def graphql(port: int, query: str) -> dict[str, Any]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)["data"]


LOCATION_STATUS = """{
  workspaceOrError { ... on Workspace { locationEntries {
    name loadStatus locationOrLoadError { __typename ... on PythonError { message } }
  } } }
}"""


# dagster-graphql's client calls gql with arguments gql deprecated.
@pytest.mark.filterwarnings("ignore:Using variable_values and operation_name:DeprecationWarning")
def test_self_hosted_topology_materializes_a_glue_asset_through_the_queue(postgres, local_aws, work_dir, monkeypatch):
    # The code location runs in local mode on the test session's endpoint, under its own names.
    for name in [name for name in os.environ if name.startswith("GLUE_PIPES_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("GLUE_PIPES_ENDPOINT_URL", local_aws.endpoint_url)
    monkeypatch.setenv("GLUE_PIPES_JOB_PREFIX", "selfhosted-")
    monkeypatch.setenv("GLUE_PIPES_S3_PREFIX", "selfhosted")
    code_server_port = free_port()
    env = {
        **os.environ,
        **postgres.dagster_env(),
        "DAGSTER_HOME": str(work_dir / "home"),
        "DAGSTER_STORAGE_DIR": str(work_dir / "storage"),
        "DAGSTER_CODE_SERVER_HOST": "127.0.0.1",
        "DAGSTER_CODE_SERVER_PORT": str(code_server_port),
        # The `dagster` the gRPC server starts each run with.
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    (work_dir / "home").mkdir()
    (work_dir / "home" / "dagster.yaml").write_text(yaml.safe_dump(smoke_instance_config()))
    workspace = str(SELF_HOSTED / "workspace.yaml")
    webserver_port = free_port()
    processes = Processes(work_dir)
    try:
        processes.start(
            "grpc",
            [
                str(VENV_BIN / "dagster"),
                *("api", "grpc", "-m", "glue_pipes_project.definitions", "--location-name", LOCATION),
                *("-h", "127.0.0.1", "-p", str(code_server_port)),
            ],
            env,
        )
        # Runs never deploy: the Glue jobs go to the endpoint first (here while the code server starts).
        assert cli.main(["deploy"]) == 0

        def code_server_listens() -> bool:
            processes.check_running()
            try:
                socket.create_connection(("127.0.0.1", code_server_port), timeout=1).close()
            except OSError:
                return False
            return True

        def location_loaded() -> bool:
            processes.check_running()
            try:
                entries = graphql(webserver_port, LOCATION_STATUS)["workspaceOrError"]["locationEntries"]
            except (urllib.error.URLError, ConnectionError):
                return False
            (entry,) = entries
            location = entry["locationOrLoadError"]
            assert location is None or location["__typename"] != "PythonError", location
            return entry["name"] == LOCATION and entry["loadStatus"] == "LOADED" and location is not None

        with processes.logs_on_failure():
            # It listens once the definitions are loaded; the webserver and daemon load the workspace
            # when they start (compose: they depend on the code server's health check).
            wait_until(politely(code_server_listens), timeout=RUN_TIMEOUT, what="the gRPC code server")
            processes.start("daemon", [str(VENV_BIN / "dagster-daemon"), "run", "-w", workspace], env)
            processes.start(
                "webserver",
                [str(VENV_BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(webserver_port), "-w", workspace],
                env,
            )
            wait_until(politely(location_loaded), timeout=RUN_TIMEOUT, what="the webserver to load the code location")

            client = DagsterGraphQLClient("127.0.0.1", port_number=webserver_port)
            run_id = client.submit_job_execution(
                "__ASSET_JOB",
                repository_location_name=LOCATION,
                repository_name="__repository__",
                asset_selection=["glue_pipes_asset"],
                # The step in the run worker itself: one process start fewer on a busy 2-core machine.
                run_config={"execution": {"config": {"in_process": {}}}},
                tags={GLUE_JOB_TAG: "glue_pipes_asset"},
            )

            def finished() -> dg.DagsterRunStatus | None:
                processes.check_running()
                status = client.get_run_status(run_id)
                return status if status in (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE) else None

            status = wait_until(politely(finished), timeout=RUN_TIMEOUT, what=f"run {run_id} to finish")
            assert status == dg.DagsterRunStatus.SUCCESS
    finally:
        processes.stop_all()

    # What the instance stored, read from Postgres itself.
    ((stored_status,),) = postgres.query("SELECT status FROM runs WHERE run_id = %s", run_id)
    tags = dict(postgres.query("SELECT key, value FROM run_tags WHERE run_id = %s", run_id))
    run_events = [
        dg.DagsterEventType(event_type).name  # stored by value: RUN_START is "PIPELINE_START"
        for (event_type,) in postgres.query(
            "SELECT dagster_event_type FROM event_logs WHERE run_id = %s AND dagster_event_type LIKE 'PIPELINE_%%'"
            " ORDER BY id",
            run_id,
        )
    ]
    materializations = [
        dg.deserialize_value(event, dg.EventLogEntry)
        for (event,) in postgres.query(
            "SELECT event FROM event_logs WHERE run_id = %s AND dagster_event_type = 'ASSET_MATERIALIZATION'", run_id
        )
    ]

    assert stored_status == "SUCCESS"
    assert tags[GLUE_JOB_TAG] == "glue_pipes_asset"
    # Through the queue: the webserver enqueued it, the daemon launched it.
    assert run_events == ["RUN_ENQUEUED", "RUN_STARTING", "RUN_START", "RUN_SUCCESS"]
    (entry,) = materializations
    materialization = entry.asset_materialization
    assert materialization is not None and materialization.asset_key == dg.AssetKey("glue_pipes_asset")
    metadata = materialization.metadata
    assert metadata["row_count"].value == 1000
    assert {"total_amount", "amount_by_region", "preview", "AWS Glue Job Run ID"} <= set(metadata)
    glue_run_id = metadata["AWS Glue Job Run ID"].value
    glue_run = local_aws.client("glue").get_job_run(JobName="selfhosted-glue_pipes_asset", RunId=glue_run_id)
    assert glue_run["JobRun"]["JobRunState"] == "SUCCEEDED"

    # What `make smoke-selfhosted` prints.
    print(f"\nrun {run_id}: {stored_status} (read from PostgreSQL on port {postgres.port})")
    print(f"materialization of glue_pipes_asset, metadata keys read back: {', '.join(sorted(metadata))}")

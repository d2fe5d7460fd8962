"""boto3 clients for Glue, S3 and CloudWatch Logs: the one place where local and AWS differ.

Locally the clients point at the local endpoint (started on demand) and sign with the
credentials it published for its user; on AWS they use the default credential chain. Everything
downstream takes these clients and never asks which it got.

This is the package's only bridge to the endpoint (`glue_pipes_local_aws`, a development dependency
the production wheel does not contain): it is imported here, only when local mode needs it.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.exceptions import ConnectTimeoutError, ReadTimeoutError
from botocore.loaders import Loader

from glue_pipes_project.settings import Settings

if TYPE_CHECKING:  # stubs are a dev dependency: types only
    from mypy_boto3_glue import GlueClient
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sts import STSClient

# Standard retry mode backs off on throttling for every call, Glue and CloudWatch alike.
_RETRIES = {"mode": "standard", "max_attempts": 8}
# A call that timed out is tried this many times in all (not max_attempts): an endpoint that accepts
# and never answers then fails a call in about 2 x (connect + read timeout) seconds.
_TIMEOUT_ATTEMPTS = 2
EMULATOR = "glue_pipes_local_aws"
EMULATOR_MISSING = (
    "the local AWS endpoint (the glue-pipes-local-aws package, a development dependency) is not installed: "
    "run from a checkout of the repository after `make dev` or `uv sync`, or set GLUE_PIPES_MODE=aws"
)


class _AppendOnce(list[str]):
    def append(self, path: str) -> None:
        if path not in self:
            super().append(path)


class _SharedLoader(Loader):
    """One botocore loader for every session of the process, so each model is parsed once.

    A new session otherwise re-reads and re-parses the endpoint rules and every service model it
    uses (megabytes of JSON): most of what creating clients costs, paid per materialization. boto3
    adds its own data directory to the loader of each session it wraps: kept once here.
    """

    def __init__(self) -> None:
        super().__init__()
        self._paths = _AppendOnce(super().search_paths)

    @property
    def search_paths(self) -> list[str]:
        return self._paths


_LOADER = _SharedLoader()


def _session(region: str, credentials: dict[str, str]) -> boto3.session.Session:
    """A session of its own (credentials resolve per session), on the process-wide loader."""
    core = botocore.session.Session()
    core.register_component("data_loader", _LOADER)
    return boto3.session.Session(botocore_session=core, region_name=region, **credentials)


class LocalEndpointError(RuntimeError):
    """The local endpoint could not be started or reached (not installed, port taken by another program)."""


def _client_config(settings: Settings) -> Config:
    return Config(
        retries=_RETRIES,
        connect_timeout=settings.aws_connect_timeout_seconds,
        read_timeout=settings.aws_read_timeout_seconds,
    )


def _give_up_on_repeated_timeouts(attempts: int, caught_exception: Exception | None = None, **_: Any) -> None:
    """A ``needs-retry`` hook that ends a call that keeps timing out: raising wins over any retry delay."""
    if isinstance(caught_exception, (ConnectTimeoutError, ReadTimeoutError)) and attempts >= _TIMEOUT_ATTEMPTS:
        raise caught_exception


@dataclass(frozen=True)
class AwsClients:
    glue: GlueClient
    s3: S3Client
    logs: CloudWatchLogsClient
    sts: STSClient
    region: str
    endpoint_url: str | None

    @classmethod
    def connect(cls, settings: Settings) -> AwsClients:
        endpoint_url = settings.endpoint_url
        credentials: dict[str, str] = {}
        if settings.is_local:
            if endpoint_url is None:
                endpoint_url = _start_local_endpoint(settings.local_port)
            credentials = _local_credentials(endpoint_url)
        session = _session(settings.region, credentials)

        config = _client_config(settings)

        def client(service: str) -> Any:
            made = session.client(service, endpoint_url=endpoint_url, config=config)
            made.meta.events.register_first("needs-retry", _give_up_on_repeated_timeouts)
            return made

        return cls(
            glue=client("glue"),
            s3=client("s3"),
            logs=client("logs"),
            sts=client("sts"),
            region=settings.region,
            endpoint_url=endpoint_url,
        )


def local_endpoint_command(arguments: Sequence[str], settings: Settings) -> int:
    """`glue-pipes local-aws ARGUMENTS`: the endpoint's own command line, on the port and region of `settings`."""
    _require_emulator()
    from glue_pipes_local_aws.cli import command

    try:
        return command(
            arguments,
            prog="glue-pipes local-aws",
            port=settings.local_port,
            region=settings.region,
            # On AWS, or with an endpoint of the user's own choosing, `run` has nothing of ours to start.
            start_endpoint=settings.is_local and not settings.endpoint_url,
        )
    except RuntimeError as exc:  # port taken by something else, unsafe runtime directory, another user's endpoint
        raise LocalEndpointError(str(exc)) from exc


def _local_credentials(endpoint_url: str) -> dict[str, str]:
    """Our endpoint's per-instance credentials; dummy ones for another emulator at a custom URL."""
    credentials = None
    if _emulator_installed():  # without it, the URL is another emulator's
        from glue_pipes_local_aws.credentials import credentials_for

        credentials = credentials_for(endpoint_url)
    if credentials is None:
        return {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    return credentials.client_kwargs()


def _start_local_endpoint(port: int) -> str:
    _require_emulator()
    from glue_pipes_local_aws import ensure_running

    try:
        return ensure_running(port)
    except RuntimeError as exc:  # e.g. another program answers on the port
        raise LocalEndpointError(str(exc)) from exc


def _emulator_installed() -> bool:
    return importlib.util.find_spec(EMULATOR) is not None


def _require_emulator() -> None:
    if not _emulator_installed():
        raise LocalEndpointError(EMULATOR_MISSING)

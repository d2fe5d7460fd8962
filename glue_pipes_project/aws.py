"""boto3 clients for Glue, S3 and CloudWatch Logs: the one place where local and AWS differ.

Locally the clients point at the embedded endpoint (started on demand) and sign with the
credentials it published for its user; on AWS they use the default credential chain. Everything
downstream takes these clients and never asks which it got.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import ConnectTimeoutError, ReadTimeoutError

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


class LocalEndpointError(RuntimeError):
    """The local endpoint could not be started or reached (moto missing, port taken by another program)."""


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
        session = boto3.session.Session(region_name=settings.region, **credentials)

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


def _local_credentials(endpoint_url: str) -> dict[str, str]:
    """Our endpoint's per-instance credentials; dummy ones for another emulator at a custom URL."""
    from glue_pipes_project.local_aws.credentials import credentials_for

    credentials = credentials_for(endpoint_url)
    if credentials is None:
        return {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    return credentials.client_kwargs()


def _start_local_endpoint(port: int) -> str:
    try:
        from glue_pipes_project.local_aws import ensure_running
    except ImportError as exc:  # moto is an optional extra: AWS deployments do not install it
        raise LocalEndpointError(
            "local mode needs the local AWS endpoint, which needs moto: "
            "pip install 'glue-pipes-project[local]', or set GLUE_PIPES_MODE=aws"
        ) from exc
    try:
        return ensure_running(port)
    except RuntimeError as exc:  # e.g. another program answers on the port
        raise LocalEndpointError(str(exc)) from exc

"""boto3 clients for the endpoint: for callers, and marked ones for the endpoint's own calls."""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.config import Config

from .credentials import EndpointCredentials

INTERNAL_HEADER = "x-glue-pipes-internal"

# One session for every client the process makes: a new session re-reads and re-parses botocore's
# endpoint rules and service models (megabytes of JSON, most of a client's cost). Credentials are the
# client's own, so sharing it mixes nothing; creating clients on one session is not thread-safe.
_SESSION = boto3.session.Session()
_SESSION_LOCK = threading.Lock()


def make_client(
    service_name: str,
    endpoint_url: str,
    region: str,
    credentials: EndpointCredentials,
    config: Config | None = None,
) -> Any:
    """A client against the local endpoint, signing with its credentials, path-style S3."""
    path_style = Config(s3={"addressing_style": "path"})
    with _SESSION_LOCK:
        return _SESSION.client(
            service_name,
            endpoint_url=endpoint_url,
            region_name=region,
            config=path_style.merge(config) if config else path_style,
            **credentials.client_kwargs(),
        )


class InternalClients:
    """Cached clients whose requests are marked, so they are neither counted nor faulted."""

    def __init__(self, endpoint_url: str, credentials: EndpointCredentials) -> None:
        self._endpoint_url = endpoint_url
        self._credentials = credentials
        self._lock = threading.Lock()
        self._clients: dict[tuple[str, str], Any] = {}

    def get(self, service_name: str, region: str) -> Any:
        with self._lock:
            key = (service_name, region)
            if key not in self._clients:
                client = make_client(service_name, self._endpoint_url, region, self._credentials)
                client.meta.events.register("before-sign", _mark_internal)
                self._clients[key] = client
            return self._clients[key]


def _mark_internal(request: Any, **_: Any) -> None:
    request.headers[INTERNAL_HEADER] = "1"

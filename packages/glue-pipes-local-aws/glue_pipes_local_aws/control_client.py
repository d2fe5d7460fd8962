"""Talks to a running endpoint's control API over HTTP (the in-process one or a daemon)."""

from __future__ import annotations

import contextlib
import http.client
import json
import urllib.error
import urllib.request
from typing import Any

from .credentials import EndpointCredentials, credentials_for

CONTROL_PREFIX = "/_glue_pipes/"
HEALTH_ROUTE = "health"
TOKEN_HEADER = "x-glue-pipes-token"
SERVICE_NAME = "glue-pipes-local-aws"
# Never through an HTTP(S)_PROXY from the environment: the endpoint is on this machine.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class ControlClient:
    """`credentials` default to those the endpoint at `endpoint_url` published for its user."""

    def __init__(self, endpoint_url: str, timeout: float = 5.0, credentials: EndpointCredentials | None = None) -> None:
        self.endpoint_url = endpoint_url.rstrip("/")
        self._timeout = timeout
        self._credentials = credentials

    def health(self) -> dict[str, Any] | None:
        """Our server's health, or None if nothing listens. Raises if something else answers."""
        try:
            body = self._call("GET", HEALTH_ROUTE)
        except urllib.error.URLError as error:
            if isinstance(error.reason, ConnectionRefusedError):
                return None
            raise ForeignServerError(self.endpoint_url, str(error)) from error
        except (ConnectionError, ValueError, OSError) as error:
            raise ForeignServerError(self.endpoint_url, str(error)) from error
        if not isinstance(body, dict) or body.get("service") != SERVICE_NAME:
            raise ForeignServerError(self.endpoint_url, f"unexpected health answer {body!r}")
        return body

    def requests(self) -> dict[str, int]:
        return self._call("GET", "requests")

    def throttled(self) -> dict[str, int]:
        """Requests per operation answered with a quota throttle (counted in `requests()` too)."""
        return self._call("GET", "requests/throttled")

    def calls(self) -> list[dict[str, Any]]:
        """Every call since the last reset, once per principal, operation and authorizations, with a count."""
        return self._call("GET", "requests/calls")["calls"]

    def reset_requests(self) -> None:
        """Reset the request and throttled counts and the attributed calls."""
        self._call("DELETE", "requests")

    def set_quotas(self, quotas: str) -> None:
        """Enforce per-operation quotas: `aws` (AWS's defaults), `service:Operation=TPS,...`, or both."""
        self._call("PUT", "quotas", {"quotas": quotas})

    def clear_quotas(self) -> None:
        self._call("DELETE", "quotas")

    def quotas(self) -> dict[str, Any]:
        return self._call("GET", "quotas")

    def inject_fault(self, operation: str, error: str, count: int = 1, status: int = 400) -> None:
        self._call("POST", "faults", {"operation": operation, "error": error, "count": count, "status": status})

    def delay_response(self, operation: str, seconds: float, count: int = 1) -> None:
        self._call("POST", "faults", {"operation": operation, "delay_seconds": seconds, "count": count})

    def clear_faults(self) -> None:
        self._call("DELETE", "faults")

    def set_run_state(self, run_id: str, state: str, error_message: str | None = None) -> None:
        self._call("POST", f"runs/{run_id}/state", {"state": state, "error_message": error_message})

    def shutdown(self) -> None:
        # A stopping server may exit while its answer is still on the way; callers check it is gone.
        with contextlib.suppress(http.client.IncompleteRead, http.client.RemoteDisconnected, ConnectionResetError):
            self._call("POST", "shutdown")

    def _call(self, method: str, route: str, body: dict[str, Any] | None = None) -> Any:
        headers = {"Content-Type": "application/json"}
        if route != HEALTH_ROUTE:
            headers[TOKEN_HEADER] = self._token()
        request = urllib.request.Request(
            f"{self.endpoint_url}{CONTROL_PREFIX}{route}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers=headers,
        )
        with _OPENER.open(request, timeout=self._timeout) as response:
            return json.loads(response.read() or b"null")

    def _token(self) -> str:
        credentials = self._credentials or credentials_for(self.endpoint_url)
        if credentials is None:
            raise PermissionError(
                f"no credentials for the local endpoint at {self.endpoint_url}: "
                "it was not started by this user on this machine"
            )
        return credentials.control_token


class ForeignServerError(RuntimeError):
    """Something that is not the glue-pipes local endpoint answers at the URL."""

    def __init__(self, endpoint_url: str, detail: str) -> None:
        super().__init__(f"{endpoint_url} is not a glue-pipes local AWS endpoint ({detail})")

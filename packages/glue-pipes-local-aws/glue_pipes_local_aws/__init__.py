"""The local AWS endpoint: moto for S3 and CloudWatch Logs, our own Glue job runs.

`LocalAWS` (and with it moto) is imported on first use: starting, stopping or asking about the
background endpoint stays quick in every process that only talks to it.
"""

from typing import TYPE_CHECKING, Any

from .control_client import ControlClient
from .daemon import endpoint_url, ensure_running, serve, status, stop

if TYPE_CHECKING:
    from .server import LocalAWS

__all__ = ["ControlClient", "LocalAWS", "endpoint_url", "ensure_running", "serve", "status", "stop"]


def __getattr__(name: str) -> Any:
    if name == "LocalAWS":
        from .server import LocalAWS

        return LocalAWS
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

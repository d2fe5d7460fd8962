"""The embedded local AWS endpoint: moto for S3 and CloudWatch Logs, our own Glue job runs.

`LocalAWS` is imported on first use: the daemon functions work without moto installed (an AWS
deployment installs the package without the `local` extra).
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

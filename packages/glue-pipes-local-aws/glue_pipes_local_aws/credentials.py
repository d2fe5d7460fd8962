"""Per-instance credentials of a local endpoint, and where its clients find them.

Each endpoint generates a random access key id and secret when it starts and writes them to
`<runtime dir>/local-aws-<port>.credentials` (mode 0600): whoever can read that file is the user
who started it, and only they can sign requests it accepts.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from .runtime_dir import read_private, runtime_dir, write_private

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
# Named principals besides the endpoint's own (admin) key: each stands for one IAM identity of a real
# deployment, so the endpoint can attribute every call to the policy that would have to allow it
# (infra/glue-pipes.yaml). Their keys stay in the process that started the endpoint.
PRINCIPALS = ("deploy", "deploy-check", "runtime", "glue-job")
ADMIN = "admin"


@dataclass(frozen=True)
class EndpointCredentials:
    access_key_id: str
    secret_access_key: str

    @classmethod
    def generate(cls) -> EndpointCredentials:
        return cls(f"GLUEPIPES{secrets.token_hex(6).upper()}", secrets.token_urlsafe(30))

    @classmethod
    def generate_principals(cls) -> dict[str, EndpointCredentials]:
        return {name: cls.generate() for name in PRINCIPALS}

    @property
    def control_token(self) -> str:
        """What the control API wants in its header: derived from the secret, so one file holds both."""
        return hmac.new(self.secret_access_key.encode(), b"glue-pipes-control", hashlib.sha256).hexdigest()

    def client_kwargs(self) -> dict[str, str]:
        return {"aws_access_key_id": self.access_key_id, "aws_secret_access_key": self.secret_access_key}

    def environment(self) -> dict[str, str]:
        return {"AWS_ACCESS_KEY_ID": self.access_key_id, "AWS_SECRET_ACCESS_KEY": self.secret_access_key}


def credentials_path(port: int) -> Path:
    return runtime_dir() / f"local-aws-{port}.credentials"


def publish(port: int, credentials: EndpointCredentials) -> Path:
    path = credentials_path(port)
    write_private(path, json.dumps({**credentials.client_kwargs(), "pid": os.getpid()}).encode())
    return path


def remove_credentials_of_dead_endpoints(alive: Callable[[int], bool]) -> None:
    """Files a killed endpoint could not withdraw: their publishing process is gone."""
    for path in runtime_dir().glob("local-aws-*.credentials"):
        data = read_private(path)
        if data is not None and not alive(json.loads(data).get("pid", 0)):
            path.unlink(missing_ok=True)


def withdraw(port: int, credentials: EndpointCredentials) -> None:
    """Remove the file if it still holds `credentials` (a newer endpoint on the port keeps its own)."""
    if credentials_for_port(port) == credentials:
        credentials_path(port).unlink(missing_ok=True)


def credentials_for_port(port: int) -> EndpointCredentials | None:
    data = read_private(credentials_path(port))
    if data is None:
        return None
    fields = json.loads(data)
    return EndpointCredentials(fields["aws_access_key_id"], fields["aws_secret_access_key"])


def credentials_for(endpoint_url: str) -> EndpointCredentials | None:
    """The credentials of our endpoint at `endpoint_url`, or None if it is not one of ours on this machine."""
    parts = urlsplit(endpoint_url)
    if parts.hostname not in LOOPBACK_HOSTS or parts.port is None:
        return None
    return credentials_for_port(parts.port)

"""The Python environment a Glue script gets: boto3 and its dependencies, nothing else installed.

Glue ships boto3 but not dagster or dagster_pipes; those must arrive through `--extra-py-files`.
We reproduce that by running the interpreter with `-S` (no site-packages) and a PYTHONPATH of a
directory that links only to boto3 and its dependencies, plus the job's extra files.
"""

from __future__ import annotations

import importlib.util
import os
import secrets
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..credentials import EndpointCredentials

RUNTIME_MODULES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six", "urllib3")


class GlueRuntime:
    """A per-endpoint directory of symlinks to the modules Glue provides."""

    def __init__(self, path: Path, credentials: EndpointCredentials) -> None:
        self.path = path
        self._credentials = credentials  # the Glue job role's: what the script's own AWS calls act as
        path.mkdir(parents=True)
        for name in RUNTIME_MODULES:
            source = _module_location(name)
            (path / source.name).symlink_to(source)

    def command(self, script: Path, run_id: str, job_name: str, arguments: Mapping[str, str]) -> list[str]:
        """argv exactly as Glue builds it; keys in `arguments` carry their leading `--`."""
        argv = [sys.executable, "-S", str(script)]
        argv += ["--JOB_ID", f"j_{secrets.token_hex(32)}", "--JOB_RUN_ID", run_id, "--JOB_NAME", job_name]
        for key, value in arguments.items():
            argv += [key, value]
        return argv

    def environment(self, endpoint_url: str, region: str, extra_paths: Sequence[Path]) -> dict[str, str]:
        """The parent's environment minus anything AWS or PYTHONPATH, plus the endpoint and the role's keys."""
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("AWS_") and key not in ("PYTHONPATH", "PYTHONHOME")
        }
        env.update(
            AWS_ENDPOINT_URL=endpoint_url,  # boto3 honours it, so scripts stay plain boto3
            AWS_DEFAULT_REGION=region,
            **self._credentials.environment(),
            PYTHONUNBUFFERED="1",
            PYTHONPATH=os.pathsep.join([*map(str, extra_paths), str(self.path)]),
        )
        return env


def _module_location(name: str) -> Path:
    """The package directory (or single-file module) that `import name` would load."""
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise RuntimeError(f"{name} is not installed; the Glue runtime needs it")
    origin = Path(spec.origin)
    return origin.parent if spec.submodule_search_locations else origin

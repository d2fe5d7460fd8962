"""The files a Glue job needs, as content-addressed artifacts.

Each script and extra file, and dagster-pipes zipped from the installed package so the Glue side
always speaks the Pipes protocol version the Dagster side does. Zips are built byte-for-byte
reproducibly, so an unchanged package hashes the same on every machine and is never uploaded twice.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path

import dagster_pipes

from glue_pipes_project.deploy.manifest import Manifest

_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class Artifact:
    label: str  # what a person recognises: a path in glue_jobs/ or the package name
    filename: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def manifest_artifacts(manifest: Manifest) -> dict[Path, Artifact]:
    """Every file the manifest's jobs ship, keyed by absolute path, read once each."""
    paths = {job.script_path for job in manifest.jobs.values()}
    paths |= {p for job in manifest.jobs.values() for p in job.extra_py_paths}
    return {
        path: Artifact(label=str(path.relative_to(manifest.root.parent)), filename=path.name, data=path.read_bytes())
        for path in sorted(paths)
    }


@cache
def pipes_artifact() -> Artifact:
    package_dir = Path(dagster_pipes.__file__).parent
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(package_dir.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                info = zipfile.ZipInfo(f"dagster_pipes/{path.relative_to(package_dir).as_posix()}", _ZIP_EPOCH)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                archive.writestr(info, path.read_bytes())
    version = metadata.version("dagster-pipes")
    return Artifact(label=f"dagster-pipes {version}", filename=f"dagster_pipes-{version}.zip", data=buffer.getvalue())


def pipes_requires_python() -> str | None:
    """The lowest Python dagster-pipes supports (``"3.10"`` for ``>=3.10,<3.15``)."""
    spec = (metadata.metadata("dagster-pipes").get_all("Requires-Python") or [""])[0]
    for clause in spec.split(","):
        clause = clause.strip()
        if clause.startswith(">="):
            return clause[2:].strip()
    return None


def job_code_versions(manifest: Manifest) -> dict[str, str]:
    """Per job, a hash of everything it runs (script, extra files, dagster-pipes): Dagster's code version,
    so changing any of them marks the job's asset stale."""
    artifacts = manifest_artifacts(manifest)
    pipes = pipes_artifact().sha256
    versions = {}
    for name, job in manifest.jobs.items():
        parts = [artifacts[job.script_path].sha256, *(artifacts[p].sha256 for p in job.extra_py_paths), pipes]
        versions[name] = hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]
    return versions

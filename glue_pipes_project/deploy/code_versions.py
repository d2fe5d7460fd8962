"""The code version of a Glue job's asset, from the jobs.yaml the settings point at.

Read when Dagster loads the code location (defs modules are imported then, not at package import),
and once per process. A job name that is not in jobs.yaml fails the load, naming the known jobs.
"""

from __future__ import annotations

from functools import cache

from glue_pipes_project.deploy.artifacts import job_code_versions
from glue_pipes_project.deploy.manifest import unknown_job
from glue_pipes_project.deploy.plan import load_project_manifest
from glue_pipes_project.settings import Settings


@cache
def _project_code_versions() -> tuple[str, dict[str, str]]:
    settings = Settings.from_env()
    return settings.manifest_path, job_code_versions(load_project_manifest(settings))


def code_version(job_name: str) -> str:
    manifest_path, versions = _project_code_versions()
    if job_name not in versions:
        raise unknown_job(manifest_path, job_name, versions)
    return versions[job_name]

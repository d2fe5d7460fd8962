"""Manifest job → the Glue job definition to apply, and what differs from the one Glue has."""

from __future__ import annotations

from typing import Any

from glue_pipes_project.deploy.manifest import Job
from glue_pipes_project.deploy.naming import Naming
from glue_pipes_project.glue_facts import COMMAND_PYTHON_VERSION

DEFAULT_WORKER_TYPE = "G.1X"
DEFAULT_NUMBER_OF_WORKERS = 2
DEFAULT_PYTHONSHELL_CAPACITY = 0.0625


def environment_arguments(naming: Naming, bucket: str) -> dict[str, str]:
    """Arguments deploy sets on every job, per environment: where the pipeline's data and tables live."""
    return {
        "--data_location": f"s3://{bucket}/{naming.data_prefix}",
        "--catalog_database": naming.catalog_database,
    }


def job_definition(
    job: Job, *, role_arn: str, script_uri: str, extra_py_uris: list[str], environment: dict[str, str]
) -> dict[str, Any]:
    """The ``JobUpdate`` for UpdateJob; CreateJob takes the same plus ``Name`` and ``Tags``.

    ``environment`` (``environment_arguments``) goes last: jobs.yaml cannot point a job at another
    environment's data.
    """
    spec = job.spec
    arguments = {"--job-language": "python", **spec.default_arguments, **environment}
    if extra_py_uris:
        arguments["--extra-py-files"] = ",".join(extra_py_uris)
    definition: dict[str, Any] = {
        "Description": spec.description,
        "Role": role_arn,
        "Command": {
            "Name": spec.type,
            "ScriptLocation": script_uri,
            "PythonVersion": COMMAND_PYTHON_VERSION[spec.type],
        },
        "GlueVersion": spec.glue_version,
        "DefaultArguments": arguments,
        "ExecutionProperty": {"MaxConcurrentRuns": spec.max_concurrent_runs},
        "Timeout": spec.timeout_minutes,
        "MaxRetries": spec.max_retries,
    }
    if spec.type == "pythonshell":
        definition["MaxCapacity"] = spec.max_capacity or DEFAULT_PYTHONSHELL_CAPACITY
    else:
        definition["WorkerType"] = spec.worker_type or DEFAULT_WORKER_TYPE
        definition["NumberOfWorkers"] = spec.number_of_workers or DEFAULT_NUMBER_OF_WORKERS
        definition["ExecutionClass"] = spec.execution_class
    return definition


def changed_fields(desired: dict[str, Any], actual: dict[str, Any]) -> list[str]:
    """Top-level fields of ``desired`` whose value Glue does not have.

    Only what this project sets is compared: Glue adds fields of its own (CreatedOn,
    AllocatedCapacity, MaxCapacity for worker-based jobs) that must not count as drift. Argument
    maps are owned whole, so an argument removed from jobs.yaml is drift too.
    """
    return [
        field
        for field, value in desired.items()
        if not (
            value == (actual.get(field) or {}) if field == "DefaultArguments" else _covers(value, actual.get(field))
        )
    ]


def _covers(desired: Any, actual: Any) -> bool:
    if isinstance(desired, dict):
        return isinstance(actual, dict) and all(_covers(v, actual.get(k)) for k, v in desired.items())
    if isinstance(desired, (int, float)) and isinstance(actual, (int, float)):
        return float(desired) == float(actual)
    if desired == "" and actual is None:
        return True  # Glue omits an empty Description
    return desired == actual

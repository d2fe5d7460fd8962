"""Glue job definitions and their tags (one store per region), validated as Glue validates them."""

from __future__ import annotations

import copy
import threading
import time
from typing import Any

from .protocol import AwsError

ACCOUNT_ID = "123456789012"
DEFAULT_TIMEOUT_MINUTES = 2880
LOG_GROUPS = {"pythonshell": "/aws-glue/python-jobs", "glueetl": "/aws-glue/jobs"}
WORKER_DPU = {"Standard": 1.0, "G.025X": 0.25, "G.1X": 1.0, "G.2X": 2.0, "G.4X": 4.0, "G.8X": 8.0}
PYTHON_SHELL_CAPACITIES = (0.0625, 1.0)


class JobStore:
    def __init__(self, region: str) -> None:
        self._arn_prefix = f"arn:aws:glue:{region}:{ACCOUNT_ID}:job/"
        self._lock = threading.Lock()
        self._jobs: dict[str, dict[str, Any]] = {}
        self._tags: dict[str, dict[str, str]] = {}

    def create(self, definition: dict[str, Any]) -> None:
        definition = dict(definition)
        tags = definition.pop("Tags", {})
        job = _with_defaults(definition)
        now = time.time()
        with self._lock:
            if job["Name"] in self._jobs:
                raise AwsError("AlreadyExistsException", f"Job {job['Name']} already exists.")
            self._jobs[job["Name"]] = {**job, "CreatedOn": now, "LastModifiedOn": now}
            self._tags[job["Name"]] = dict(tags)

    def update(self, name: str, job_update: dict[str, Any]) -> None:
        """Glue replaces the whole definition: fields left out of JobUpdate go back to defaults."""
        job = _with_defaults({**job_update, "Name": name})
        with self._lock:
            created_on = self._locked_get(name)["CreatedOn"]
            self._jobs[name] = {**job, "CreatedOn": created_on, "LastModifiedOn": time.time()}

    def get(self, name: str) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._locked_get(name))

    def delete(self, name: str) -> None:
        with self._lock:
            self._jobs.pop(name, None)
            self._tags.pop(name, None)

    def all(self) -> list[dict[str, Any]]:
        """Every job, by name."""
        with self._lock:
            return [copy.deepcopy(self._jobs[name]) for name in sorted(self._jobs)]

    def names(self, tagged: dict[str, str]) -> list[str]:
        """Names of the jobs carrying all of the `tagged` tags, sorted."""
        with self._lock:
            return sorted(name for name, tags in self._tags.items() if tagged.items() <= tags.items())

    def tags(self, arn: str) -> dict[str, str]:
        with self._lock:
            return dict(self._tags[self._name_of(arn)])

    def tag(self, arn: str, tags: dict[str, str]) -> None:
        with self._lock:
            self._tags[self._name_of(arn)].update(tags)

    def untag(self, arn: str, keys: list[str]) -> None:
        with self._lock:
            job_tags = self._tags[self._name_of(arn)]
            for key in keys:
                job_tags.pop(key, None)

    def _locked_get(self, name: str) -> dict[str, Any]:
        try:
            return self._jobs[name]
        except KeyError:
            raise AwsError("EntityNotFoundException", f"Job {name} not found.") from None

    def _name_of(self, arn: str) -> str:
        name = arn.removeprefix(self._arn_prefix)
        if name == arn or name not in self._jobs:
            raise AwsError("EntityNotFoundException", f"Resource {arn} not found.")
        return name


def run_capacity(job: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """MaxCapacity / WorkerType / NumberOfWorkers of a run: its own overrides, else the job's.

    Like Glue, a run on workers also reports MaxCapacity as workers x DPU per worker.
    """
    if overrides.get("MaxCapacity") is not None:
        return {"MaxCapacity": float(overrides["MaxCapacity"])}
    worker_type = overrides.get("WorkerType") or job.get("WorkerType")
    workers = overrides.get("NumberOfWorkers") or job.get("NumberOfWorkers")
    if worker_type and workers:
        _check_worker_type(worker_type)
        return {
            "WorkerType": worker_type,
            "NumberOfWorkers": workers,
            "MaxCapacity": workers * WORKER_DPU[worker_type],
        }
    return {"MaxCapacity": job["MaxCapacity"]}


def _with_defaults(definition: dict[str, Any]) -> dict[str, Any]:
    """Validate a definition and fill in what Glue fills in when it is left out."""
    job = copy.deepcopy(definition)
    kind = job.get("Command", {}).get("Name")
    if kind not in LOG_GROUPS:
        raise AwsError("InvalidInputException", f"Command.Name must be one of {sorted(LOG_GROUPS)}, got {kind!r}.")
    job.setdefault("Timeout", DEFAULT_TIMEOUT_MINUTES)
    _check_positive("Timeout", job["Timeout"])
    job["ExecutionProperty"] = {"MaxConcurrentRuns": 1, **job.get("ExecutionProperty", {})}
    _check_positive("ExecutionProperty.MaxConcurrentRuns", job["ExecutionProperty"]["MaxConcurrentRuns"])
    if kind == "pythonshell":
        _python_shell_capacity(job)
    else:
        _etl_capacity(job)
    return job


def _python_shell_capacity(job: dict[str, Any]) -> None:
    if "WorkerType" in job or "NumberOfWorkers" in job:
        raise AwsError("InvalidInputException", "Python shell jobs take MaxCapacity, not WorkerType/NumberOfWorkers.")
    job.setdefault("MaxCapacity", PYTHON_SHELL_CAPACITIES[0])
    if job["MaxCapacity"] not in PYTHON_SHELL_CAPACITIES:
        raise AwsError("InvalidInputException", "MaxCapacity of a Python shell job must be 0.0625 or 1.")


def _etl_capacity(job: dict[str, Any]) -> None:
    on_workers = "WorkerType" in job or "NumberOfWorkers" in job
    if on_workers and "MaxCapacity" in job:
        raise AwsError(
            "InvalidInputException",
            "Please set only Allocated Capacity or Max Capacity or Worker Type/Number of Workers.",
        )
    if not on_workers:
        job.setdefault("MaxCapacity", 10.0)
        return
    if "WorkerType" not in job or "NumberOfWorkers" not in job:
        raise AwsError("InvalidInputException", "WorkerType and NumberOfWorkers must be set together.")
    _check_worker_type(job["WorkerType"])
    _check_positive("NumberOfWorkers", job["NumberOfWorkers"])


def _check_worker_type(worker_type: str) -> None:
    if worker_type not in WORKER_DPU:
        raise AwsError("InvalidInputException", f"Unknown WorkerType {worker_type!r}; use one of {sorted(WORKER_DPU)}.")


def _check_positive(field: str, value: Any) -> None:
    if not isinstance(value, int) or value < 1:
        raise AwsError("InvalidInputException", f"{field} must be a positive integer, got {value!r}.")

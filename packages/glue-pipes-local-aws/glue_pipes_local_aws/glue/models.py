"""Glue's state, one store per region as moto keeps it: job definitions and their tags, validated as Glue
validates them, and job runs with their state machine and per-job bookkeeping."""

from __future__ import annotations

import copy
import itertools
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from ..protocol import AwsError, epoch, without_none

ACCOUNT_ID = "123456789012"
DEFAULT_TIMEOUT_MINUTES = 2880
LOG_GROUPS = {"pythonshell": "/aws-glue/python-jobs", "glueetl": "/aws-glue/jobs"}
WORKER_DPU = {"Standard": 1.0, "G.025X": 0.25, "G.1X": 1.0, "G.2X": 2.0, "G.4X": 4.0, "G.8X": 8.0}
PYTHON_SHELL_CAPACITIES = (0.0625, 1.0)
# The Spark (major.minor) each Glue version runs (AWS Glue release notes); glueetl runs compare it with pyspark's.
SPARK_OF_GLUE_VERSION = {"2.0": "2.4", "3.0": "3.1", "4.0": "3.3", "5.0": "3.5", "5.1": "3.5", "6.0": "4.1"}


class JobStore:
    def __init__(self, region: str) -> None:
        self._arn_prefix = f"arn:aws:glue:{region}:{ACCOUNT_ID}:job/"
        self._lock = threading.Lock()
        self._jobs: dict[str, dict[str, Any]] = {}
        self._tags: dict[str, dict[str, str]] = {}
        self._bookmarks: dict[str, dict[str, Any]] = {}  # job name -> its JobBookmarkEntry

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
            self._bookmarks.pop(name, None)

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

    def bookmark(self, name: str) -> dict[str, Any]:
        """The job's JobBookmarkEntry; a job that never committed one has none, as on Glue."""
        with self._lock:
            self._locked_get(name)
            if name not in self._bookmarks:
                raise AwsError("EntityNotFoundException", f"Continuation for job {name} not found")
            return dict(self._bookmarks[name])

    def bookmark_state(self, name: str) -> str | None:
        """The JSON state a new run of the job starts from; None before its first commit."""
        with self._lock:
            return self._bookmarks.get(name, {}).get("JobBookmark")

    def commit_bookmark(self, name: str, run_id: str, state: str) -> None:
        """A run's `Job.commit()` state, kept once the run has SUCCEEDED (unless the job is gone by then)."""
        with self._lock:
            if name not in self._jobs:
                return
            previous = self._bookmarks.get(name, {})
            self._bookmarks[name] = _bookmark_entry(name, previous, run_id, state)

    def reset_bookmark(self, name: str) -> dict[str, Any]:
        """Forget the processed state: the next run starts from nothing."""
        with self._lock:
            self._locked_get(name)
            if name not in self._bookmarks:
                raise AwsError("EntityNotFoundException", f"Continuation for job {name} not found")
            previous = self._bookmarks[name]
            self._bookmarks[name] = _bookmark_entry(name, previous, previous.get("RunId"), "{}")
            return dict(self._bookmarks[name])

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


def _bookmark_entry(name: str, previous: dict[str, Any], run_id: str | None, state: str) -> dict[str, Any]:
    """Version counts the changes of the entry, Run the commits; Attempt is 0 (runs are not retried here)."""
    committed = run_id != previous.get("RunId")
    return without_none(
        [
            ("JobName", name),
            ("Version", previous.get("Version", 0) + 1),
            ("Run", previous.get("Run", 0) + committed),
            ("Attempt", 0),
            ("PreviousRunId", previous.get("RunId") if committed else previous.get("PreviousRunId")),
            ("RunId", run_id),
            ("JobBookmark", state),
        ]
    )


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


# Our own copy of Glue's states, on purpose: the client reads glue_facts.py, and the tests check one against the other.
TERMINAL_STATES = frozenset({"SUCCEEDED", "FAILED", "TIMEOUT", "STOPPED", "ERROR", "EXPIRED"})
STATES = TERMINAL_STATES | {"STARTING", "RUNNING", "STOPPING", "WAITING"}
RUN_OVERRIDES = ("MaxCapacity", "WorkerType", "NumberOfWorkers")


@dataclass
class JobRun:
    id: str
    sequence: int
    region: str
    job: dict[str, Any]  # the definition as it was when the run started
    arguments: dict[str, str]
    timeout_minutes: int
    capacity: dict[str, Any]
    execution_class: str | None
    bookmark: str | None = None  # the job's bookmark state (JSON) when the run started
    started_on: float = field(default_factory=time.time)
    state: str = "STARTING"
    last_modified_on: float = field(default_factory=time.time)
    running_since: float | None = None
    completed_on: float | None = None
    error_message: str | None = None
    stop_requested: threading.Event = field(default_factory=threading.Event)
    forced: bool = False  # the state was set through the control API and sticks
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def job_name(self) -> str:
        return self.job["Name"]

    @property
    def log_group(self) -> str:
        return LOG_GROUPS[self.job["Command"]["Name"]]

    @property
    def is_terminal(self) -> bool:
        return self.state in TERMINAL_STATES

    def merged_arguments(self) -> dict[str, str]:
        """DefaultArguments < run Arguments < NonOverridableArguments, as Glue merges them."""
        return {
            **self.job.get("DefaultArguments", {}),
            **self.arguments,
            **self.job.get("NonOverridableArguments", {}),
        }

    def mark_running(self) -> None:
        with self._lock:
            if self.state == "STARTING":  # a stop may have arrived first
                self._set_state("RUNNING")
            self.running_since = time.time()

    def request_stop(self) -> bool:
        """STOPPING now; the runner brings it to STOPPED. False if the run had already ended."""
        with self._lock:
            if self.is_terminal:
                return False
            self._set_state("STOPPING")
            self.stop_requested.set()
            return True

    def finish(self, state: str, error_message: str | None = None) -> None:
        with self._lock:
            if self.forced:
                return
            self.error_message = error_message
            self.completed_on = time.time()
            self._set_state(state)

    def force_state(self, state: str, error_message: str | None) -> None:
        """Fault injection: report `state` from now on. A forced end also ends the process."""
        with self._lock:
            self.forced = True
            self.error_message = error_message
            self._set_state(state)
            self.completed_on = (self.completed_on or time.time()) if self.is_terminal else None
            if self.is_terminal:
                self.stop_requested.set()

    def describe(self) -> dict[str, Any]:
        with self._lock:
            return without_none(
                [
                    ("Id", self.id),
                    ("Attempt", 0),
                    ("JobName", self.job_name),
                    ("StartedOn", epoch(self.started_on)),
                    ("LastModifiedOn", epoch(self.last_modified_on)),
                    ("CompletedOn", epoch(self.completed_on)),
                    ("JobRunState", self.state),
                    ("Arguments", self.arguments),
                    ("ErrorMessage", self.error_message),
                    ("ExecutionTime", self._execution_seconds()),
                    ("Timeout", self.timeout_minutes),
                    *self.capacity.items(),
                    ("GlueVersion", self.job.get("GlueVersion")),
                    ("LogGroupName", self.log_group),
                    ("ExecutionClass", self.execution_class),
                ]
            )

    def _set_state(self, state: str) -> None:
        self.state = state
        self.last_modified_on = time.time()

    def _execution_seconds(self) -> int:
        # Glue reports it once the run is over: time spent running, in whole seconds.
        if self.completed_on is None or self.running_since is None:
            return 0
        return round(self.completed_on - self.running_since)


class RunRegistry:
    def __init__(self, region: str) -> None:
        self._region = region
        self._lock = threading.Lock()
        self._runs: dict[str, dict[str, JobRun]] = {}  # job name -> run id -> run
        self._sequence = itertools.count(1)

    def start(self, job: dict[str, Any], request: dict[str, Any], bookmark: str | None = None) -> JobRun:
        """Register a new STARTING run, unless the job already has MaxConcurrentRuns active."""
        with self._lock:
            runs = self._runs.setdefault(job["Name"], {})
            active = sum(not run.is_terminal for run in runs.values())
            if active >= job["ExecutionProperty"]["MaxConcurrentRuns"]:
                raise AwsError("ConcurrentRunsExceededException", f"Concurrent runs exceeded for {job['Name']}")
            run = JobRun(
                id=f"jr_{secrets.token_hex(32)}",
                sequence=next(self._sequence),
                region=self._region,
                job=job,
                arguments=dict(request.get("Arguments", {})),
                timeout_minutes=request.get("Timeout") or job["Timeout"],
                capacity=run_capacity(job, {key: request.get(key) for key in RUN_OVERRIDES}),
                execution_class=request.get("ExecutionClass") or job.get("ExecutionClass"),
                bookmark=bookmark,
            )
            runs[run.id] = run
            return run

    def get(self, job_name: str, run_id: str) -> JobRun:
        with self._lock:
            run = self._runs.get(job_name, {}).get(run_id)
        if run is None:
            raise AwsError("EntityNotFoundException", f"Job run {run_id} of job {job_name} not found.")
        return run

    def newest_first(self, job_name: str) -> list[JobRun]:
        with self._lock:
            return sorted(self._runs.get(job_name, {}).values(), key=lambda run: -run.sequence)

    def find(self, run_id: str) -> JobRun | None:
        with self._lock:
            return next((runs[run_id] for runs in self._runs.values() if run_id in runs), None)

    def forget(self, job_name: str) -> list[JobRun]:
        """Drop a deleted job's runs; returns them so active ones can be stopped."""
        with self._lock:
            return list(self._runs.pop(job_name, {}).values())

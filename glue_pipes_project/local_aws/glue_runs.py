"""Glue job runs: their state machine and the per-job bookkeeping (one registry per region)."""

from __future__ import annotations

import itertools
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from .glue_jobs import LOG_GROUPS, run_capacity
from .protocol import AwsError, epoch, without_none

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

    def start(self, job: dict[str, Any], request: dict[str, Any]) -> JobRun:
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

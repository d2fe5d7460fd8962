"""The Glue job and job-run operations, as the JSON 1.1 `AWSGlue.<Op>` API answers them."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from ..protocol import AwsError, epoch
from .models import JobRun, JobStore, RunRegistry
from .runner import Runner

T = TypeVar("T")
DEFAULT_PAGE_SIZE = 100


@dataclass
class RegionState:
    jobs: JobStore
    runs: RunRegistry


class GlueApi:
    """The job operations are ours; other Glue calls (the Data Catalog) are left to moto."""

    def __init__(self, runner: Runner) -> None:
        self._runner = runner
        self._regions: dict[str, RegionState] = {}
        self._lock = threading.Lock()
        self._handlers: dict[str, Callable[[RegionState, dict[str, Any]], dict[str, Any]]] = {
            "CreateJob": self.create_job,
            "UpdateJob": self.update_job,
            "GetJob": self.get_job,
            "GetJobs": self.get_jobs,
            "ListJobs": self.list_jobs,
            "BatchGetJobs": self.batch_get_jobs,
            "DeleteJob": self.delete_job,
            "StartJobRun": self.start_job_run,
            "GetJobRun": self.get_job_run,
            "GetJobRuns": self.get_job_runs,
            "BatchStopJobRun": self.batch_stop_job_run,
            "GetJobBookmark": self.get_job_bookmark,
            "ResetJobBookmark": self.reset_job_bookmark,
            "GetTags": self.get_tags,
            "TagResource": self.tag_resource,
            "UntagResource": self.untag_resource,
        }

    def owns(self, operation: str) -> bool:
        return operation in self._handlers

    def handle(self, operation: str, region: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._handlers[operation](self._region(region), body)

    def find_run(self, run_id: str) -> JobRun | None:
        """A run by id alone, in any region (for the control API)."""
        with self._lock:
            regions = list(self._regions.values())
        return next((run for region in regions if (run := region.runs.find(run_id))), None)

    def _region(self, region: str) -> RegionState:
        with self._lock:
            if region not in self._regions:
                self._regions[region] = RegionState(JobStore(region), RunRegistry(region))
            return self._regions[region]

    # --- jobs -----------------------------------------------------------------------------------

    def create_job(self, glue: RegionState, body: dict[str, Any]) -> dict[str, Any]:
        glue.jobs.create(body)
        return {"Name": body["Name"]}

    def update_job(self, glue: RegionState, body: dict[str, Any]) -> dict[str, Any]:
        glue.jobs.update(body["JobName"], body["JobUpdate"])
        return {"JobName": body["JobName"]}

    def get_job(self, glue: RegionState, body: dict[str, Any]) -> dict[str, Any]:
        return {"Job": _job_view(glue.jobs.get(body["JobName"]))}

    def get_jobs(self, glue: RegionState, body: dict[str, Any]) -> dict[str, Any]:
        jobs, token = _page(glue.jobs.all(), lambda job: job["Name"], body)
        return {"Jobs": [_job_view(job) for job in jobs], **token}

    def list_jobs(self, glue: RegionState, body: dict[str, Any]) -> dict[str, Any]:
        names, token = _page(glue.jobs.names(tagged=body.get("Tags", {})), str, body)
        return {"JobNames": names, **token}

    def batch_get_jobs(self, glue: RegionState, body: dict[str, Any]) -> dict[str, Any]:
        found, missing = [], []
        for name in body["JobNames"]:
            try:
                found.append(_job_view(glue.jobs.get(name)))
            except AwsError:
                missing.append(name)
        return {"Jobs": found, "JobsNotFound": missing}

    def delete_job(self, glue: RegionState, body: dict[str, Any]) -> dict[str, Any]:
        """Succeeds for a missing job, as Glue does; stops the job's active runs and forgets its bookmark."""
        glue.jobs.delete(body["JobName"])
        for run in glue.runs.forget(body["JobName"]):
            run.request_stop()
        return {"JobName": body["JobName"]}

    # --- runs -----------------------------------------------------------------------------------

    def start_job_run(self, glue: RegionState, body: dict[str, Any]) -> dict[str, Any]:
        name = body["JobName"]
        run = glue.runs.start(glue.jobs.get(name), body, bookmark=glue.jobs.bookmark_state(name))
        self._runner.launch(run, commit_bookmark=functools.partial(glue.jobs.commit_bookmark, name, run.id))
        return {"JobRunId": run.id}

    def get_job_run(self, glue: RegionState, body: dict[str, Any]) -> dict[str, Any]:
        glue.jobs.get(body["JobName"])  # a missing job is reported as such, before its run
        return {"JobRun": glue.runs.get(body["JobName"], body["RunId"]).describe()}

    def get_job_runs(self, glue: RegionState, body: dict[str, Any]) -> dict[str, Any]:
        glue.jobs.get(body["JobName"])
        runs, token = _page(glue.runs.newest_first(body["JobName"]), lambda run: run.id, body)
        return {"JobRuns": [run.describe() for run in runs], **token}

    def batch_stop_job_run(self, glue: RegionState, body: dict[str, Any]) -> dict[str, Any]:
        name = body["JobName"]
        stopped, errors = [], []
        for run_id in body["JobRunIds"]:
            try:
                run = glue.runs.get(name, run_id)
            except AwsError as error:
                errors.append(_stop_error(name, run_id, error))
                continue
            if run.request_stop():
                stopped.append({"JobName": name, "JobRunId": run_id})
            else:
                errors.append(_stop_error(name, run_id, _already_finished(run)))
        return {"SuccessfulSubmissions": stopped, "Errors": errors}

    # --- bookmarks: what a run's Job.commit() recorded, kept when the run succeeded -----------------

    def get_job_bookmark(self, glue: RegionState, body: dict[str, Any]) -> dict[str, Any]:
        return {"JobBookmarkEntry": glue.jobs.bookmark(body["JobName"])}

    def reset_job_bookmark(self, glue: RegionState, body: dict[str, Any]) -> dict[str, Any]:
        return {"JobBookmarkEntry": glue.jobs.reset_bookmark(body["JobName"])}

    # --- tags -----------------------------------------------------------------------------------

    def get_tags(self, glue: RegionState, body: dict[str, Any]) -> dict[str, Any]:
        return {"Tags": glue.jobs.tags(body["ResourceArn"])}

    def tag_resource(self, glue: RegionState, body: dict[str, Any]) -> dict[str, Any]:
        glue.jobs.tag(body["ResourceArn"], body["TagsToAdd"])
        return {}

    def untag_resource(self, glue: RegionState, body: dict[str, Any]) -> dict[str, Any]:
        glue.jobs.untag(body["ResourceArn"], body["TagsToRemove"])
        return {}


def _job_view(job: dict[str, Any]) -> dict[str, Any]:
    return {**job, "CreatedOn": epoch(job["CreatedOn"]), "LastModifiedOn": epoch(job["LastModifiedOn"])}


def _page(items: Sequence[T], key: Callable[[T], str], body: dict[str, Any]) -> tuple[list[T], dict[str, str]]:
    """One page of `items` after the item named by NextToken; the token is the last key returned."""
    start = 0
    if body.get("NextToken"):
        keys = [key(item) for item in items]
        if body["NextToken"] not in keys:
            raise AwsError("InvalidInputException", "Invalid NextToken.")
        start = keys.index(body["NextToken"]) + 1
    size = body.get("MaxResults") or DEFAULT_PAGE_SIZE
    page = list(items[start : start + size])
    more = start + size < len(items)
    return page, ({"NextToken": key(page[-1])} if more else {})


def _already_finished(run: JobRun) -> AwsError:
    return AwsError("InvalidInputException", f"Job run {run.id} is already in terminal state {run.state}.")


def _stop_error(name: str, run_id: str, error: AwsError) -> dict[str, Any]:
    return {
        "JobName": name,
        "JobRunId": run_id,
        "ErrorDetail": {"ErrorCode": error.code, "ErrorMessage": error.message},
    }

"""Our Glue Pipes client: dagster-aws's PipesGlueClient plus what this project needs on top.

It is still a ``PipesGlueClient`` with the same ``run`` signature, so assets read exactly like
dagster-aws's documentation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dagster import AssetExecutionContext, OpExecutionContext
from dagster._core.pipes.client import PipesClientCompletedInvocation
from dagster_aws.pipes import PipesGlueClient


class GluePipesClient(PipesGlueClient):
    """Resolves logical job names from jobs.yaml to the environment's deployed Glue job names.

    ``start_job_run_params`` is copied, never mutated (upstream adds the Pipes arguments to the
    caller's dict, so a reused dict leaks one run's bootstrap into the next).
    """

    def __init__(self, *, job_names: Mapping[str, str], **kwargs: Any):
        super().__init__(**kwargs)
        self._job_names = dict(job_names)

    def deployed_job_name(self, job_name: str) -> str:
        """The Glue name of a logical job; names not in jobs.yaml pass through unchanged."""
        return self._job_names.get(job_name, job_name)

    def run(  # type: ignore[override]
        self,
        *,
        context: OpExecutionContext | AssetExecutionContext,
        start_job_run_params: Mapping[str, Any],
        extras: dict[str, Any] | None = None,
    ) -> PipesClientCompletedInvocation:
        params = {
            **start_job_run_params,
            "JobName": self.deployed_job_name(start_job_run_params["JobName"]),
            "Arguments": dict(start_job_run_params.get("Arguments") or {}),
        }
        return super().run(context=context, start_job_run_params=params, extras=extras)  # type: ignore[arg-type]

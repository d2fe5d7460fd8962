"""Dagster resources: a ready Glue Pipes client per message-reader variant, and the deploy step.

Runs never deploy: deploying is ``glue-pipes deploy`` or the ``deploy_glue_jobs`` job. Each run builds
its boto3 clients from ``Settings`` (starting the local endpoint if that is where they point), checks
that the deployed scripts in S3 are the ones deploy uploaded, and gives the asset a ``PipesGlueClient``
that knows the environment's deployed job names and refuses to start a job that is not deployed as
the repository has it (so a materialization never records a code version other than what ran).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import dagster as dg
from dagster import InitResourceContext, PipesMessageReader
from dagster_aws.pipes import PipesGlueClient, PipesS3ContextInjector
from pydantic import Field

from glue_pipes_project.aws import AwsClients
from glue_pipes_project.dagster_compat import ConfigurableResourceFactory
from glue_pipes_project.deploy.manifest import MessageReader
from glue_pipes_project.deploy.naming import Naming
from glue_pipes_project.deploy.plan import (
    DEPLOY_FIX,
    JobDrift,
    job_drift,
    load_project_manifest,
    verify_deployed_artifacts,
)
from glue_pipes_project.glue_facts import FLEX_DPU_HOUR_USD, STANDARD_DPU_HOUR_USD
from glue_pipes_project.pipes.client import Backoff, GlueRunPolicy, LiveGlueClient
from glue_pipes_project.pipes.costs import GlueRates
from glue_pipes_project.pipes.readers import GlueCloudWatchMessageReader, GlueS3MessageReader, TailPolicy
from glue_pipes_project.settings import Settings


class GluePipesClientResource(ConfigurableResourceFactory[PipesGlueClient]):
    """A ``PipesGlueClient`` for this project's Glue jobs.

    ``message_reader``: ``cloudwatch`` reads Pipes messages from the run's stdout in CloudWatch
    Logs (the script uses the default message writer); ``s3`` reads the chunks a script writes
    with an S3 message writer (``glue_jobs/pipes_s3_writer.py`` or dagster-pipes' own).
    """

    settings: Settings
    message_reader: MessageReader = "cloudwatch"
    poll_initial_seconds: float = Field(default=0.1, description="first GetJobRun poll interval")
    poll_max_seconds: float = Field(default=5.0, description="GetJobRun poll interval cap")
    start_retry_timeout_seconds: float = Field(
        default=300.0, description="how long to retry StartJobRun refused for MaxConcurrentRuns"
    )
    log_settle_seconds: float = Field(
        default=5.0,
        description="after a run ends without a Pipes 'closed' message, read its logs until quiet this long",
    )
    reader_stall_seconds: float = Field(
        default=120.0,
        description="after a run ends, fail the step if its message readers make no progress this long",
    )
    drain_progress_seconds: float = Field(
        default=5.0, description="while messages still arrive after a run ended, log progress this often"
    )
    slow_aws_call_warning_seconds: float = Field(
        default=30.0, description="warn in the step's log when one AWS call has been pending this long"
    )
    dpu_hour_usd: float = Field(
        default=STANDARD_DPU_HOUR_USD, description="standard DPU-hour rate for the cost estimate"
    )
    flex_dpu_hour_usd: float = Field(default=FLEX_DPU_HOUR_USD, description="Flex DPU-hour rate for the cost estimate")

    def create_resource(self, context: InitResourceContext) -> PipesGlueClient:
        clients = AwsClients.connect(self.settings)
        manifest = load_project_manifest(self.settings)
        verify_deployed_artifacts(self.settings, clients, manifest)
        naming = Naming.from_settings(self.settings)
        deployed_names = {name: naming.job_name(name) for name in manifest.jobs}
        # A JobName is a job of jobs.yaml, or its deployed name; anything else fails naming the known jobs.
        logical_names = {deployed: name for name, deployed in deployed_names.items()}
        return _DeployedJobsOnlyClient(
            deployed_job=lambda job: job_drift(self.settings, clients, manifest, logical_names.get(job, job)),
            client=clients.glue,
            context_injector=PipesS3ContextInjector(
                bucket=self.settings.bucket, client=clients.s3, key_prefix=naming.pipes_prefix
            ),
            message_reader=self._reader(clients),
            logs_client=clients.logs,
            job_names=deployed_names,
            policy=GlueRunPolicy(
                poll=Backoff(self.poll_initial_seconds, self.poll_max_seconds, factor=1.5),
                start_retry_timeout_seconds=self.start_retry_timeout_seconds,
                slow_call_warning_seconds=self.slow_aws_call_warning_seconds,
            ),
            rates=GlueRates(standard_dpu_hour_usd=self.dpu_hour_usd, flex_dpu_hour_usd=self.flex_dpu_hour_usd),
        )

    def _reader(self, clients: AwsClients) -> PipesMessageReader:
        tail_policy = TailPolicy(
            settle_seconds=self.log_settle_seconds,
            stall_seconds=self.reader_stall_seconds,
            progress_seconds=self.drain_progress_seconds,
        )
        if self.message_reader == "s3":
            return GlueS3MessageReader(
                bucket=self.settings.bucket,
                key_prefix=Naming.from_settings(self.settings).pipes_messages_prefix,
                client=clients.s3,
                logs_client=clients.logs,
                tail_policy=tail_policy,
            )
        return GlueCloudWatchMessageReader(client=clients.logs, tail_policy=tail_policy)


class _DeployedJobsOnlyClient(LiveGlueClient):
    """Our client, refusing before StartJobRun a job that is not deployed as the repository has it.

    The asset's code version is what the repository would deploy; running anything else would record
    a code version that is not what ran.
    """

    def __init__(self, *, deployed_job: Callable[[str], JobDrift], **kwargs: Any):
        super().__init__(**kwargs)
        self._deployed_job = deployed_job

    def run(  # type: ignore[override]  # LiveGlueClient's signature: upstream's PipesClient.run takes **kwargs
        self,
        *,
        context: dg.OpExecutionContext | dg.AssetExecutionContext,
        start_job_run_params: Mapping[str, Any],
        extras: dict[str, Any] | None = None,
    ) -> dg.PipesClientCompletedInvocation:
        drift = self._deployed_job(start_job_run_params["JobName"])
        if not drift.in_sync:
            raise dg.Failure(
                description=f"Not starting Glue: {drift.describe()}. To fix: {DEPLOY_FIX}, then materialize again.",
                metadata=drift.to_metadata(),
                allow_retries=False,
            )
        return super().run(context=context, start_job_run_params=start_job_run_params, extras=extras)


class GlueDeployResource(dg.ConfigurableResource):
    """The deploy step with the code location's settings: deploys, or compares Glue with the repository."""

    settings: Settings

    def job_drift(self, job: str) -> JobDrift:
        """Read-only: how the deployed Glue job ``job`` differs from what the repository would deploy."""
        return job_drift(self.settings, AwsClients.connect(self.settings), load_project_manifest(self.settings), job)

"""Dagster resources that hand assets a ready Glue Pipes client, one per message-reader variant.

Each run builds its boto3 clients from ``Settings`` (starting the local endpoint if that is where
they point), deploys the manifest first when ``deploy_on_run`` is set (otherwise checks that the
deployed scripts in S3 are the ones deploy uploaded), and gives the asset a
``PipesGlueClient`` that knows the environment's deployed job names.
"""

from __future__ import annotations

from typing import Literal

from dagster import InitResourceContext, PipesMessageReader, get_dagster_logger
from dagster_aws.pipes import PipesGlueClient, PipesS3ContextInjector
from pydantic import Field

from glue_pipes_project.aws import AwsClients
from glue_pipes_project.dagster_compat import ConfigurableResourceFactory
from glue_pipes_project.deploy.naming import Naming
from glue_pipes_project.deploy.plan import deploy_project, load_project_manifest, verify_deployed_artifacts
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
    message_reader: Literal["cloudwatch", "s3"] = "cloudwatch"
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
        if self.settings.deploy_on_run:
            summary = deploy_project(self.settings, clients, manifest=manifest).to_dict()
            (context.log or get_dagster_logger()).info(
                f"Deployed glue_jobs/ to {clients.endpoint_url or 'AWS'}: "
                f"{summary['files']['uploaded']} files uploaded, {summary['jobs']['created']} jobs created, "
                f"{summary['jobs']['updated']} updated, {summary['jobs']['unchanged']} unchanged"
            )
        else:
            verify_deployed_artifacts(self.settings, clients, manifest)
        naming = Naming.from_settings(self.settings)
        return LiveGlueClient(
            client=clients.glue,
            context_injector=PipesS3ContextInjector(
                bucket=self.settings.bucket, client=clients.s3, key_prefix=naming.pipes_prefix
            ),
            message_reader=self._reader(clients),
            logs_client=clients.logs,
            job_names={name: naming.job_name(name) for name in manifest.jobs},
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
                bucket=self.settings.bucket, client=clients.s3, logs_client=clients.logs, tail_policy=tail_policy
            )
        return GlueCloudWatchMessageReader(client=clients.logs, tail_policy=tail_policy)

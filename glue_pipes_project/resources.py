"""Dagster resources that hand assets a ready Glue Pipes client, one per message-reader variant.

Each run builds its boto3 clients from ``Settings`` (starting the local endpoint if that is where
they point), deploys the manifest first when ``deploy_on_run`` is set, and gives the asset a
``PipesGlueClient`` that knows the environment's deployed job names.
"""

from __future__ import annotations

from typing import Literal

from dagster import InitResourceContext

# The factory form of ConfigurableResource: configured like one, hands the asset the object it builds.
from dagster._config.pythonic_config import ConfigurableResourceFactory
from dagster._core.pipes.client import PipesMessageReader
from dagster_aws.pipes import (
    PipesCloudWatchMessageReader,
    PipesGlueClient,
    PipesS3ContextInjector,
    PipesS3MessageReader,
)

from glue_pipes_project.aws import AwsClients
from glue_pipes_project.deploy import deploy_project, load_project_manifest
from glue_pipes_project.naming import Naming
from glue_pipes_project.pipes_glue import GluePipesClient
from glue_pipes_project.settings import Settings

# Seconds between S3 message-chunk polls; the Glue scripts upload a chunk every second too.
S3_READER_INTERVAL = 1.0


class GluePipesClientResource(ConfigurableResourceFactory[PipesGlueClient]):
    """A ``PipesGlueClient`` for this project's Glue jobs.

    ``message_reader``: ``cloudwatch`` reads Pipes messages from the run's stdout in CloudWatch
    Logs (the script uses the default message writer); ``s3`` reads the chunks a script writes
    with ``PipesS3MessageWriter``.
    """

    settings: Settings
    message_reader: Literal["cloudwatch", "s3"] = "cloudwatch"

    def create_resource(self, context: InitResourceContext) -> PipesGlueClient:
        clients = AwsClients.connect(self.settings)
        if self.settings.deploy_on_run:
            plan = deploy_project(self.settings, clients)
            summary = plan.to_dict()
            context.log.info(
                f"Deployed glue_jobs/ to {clients.endpoint_url or 'AWS'}: "
                f"{summary['files']['uploaded']} files uploaded, {summary['jobs']['created']} jobs created, "
                f"{summary['jobs']['updated']} updated, {summary['jobs']['unchanged']} unchanged"
            )
        naming = Naming.from_settings(self.settings)
        manifest = load_project_manifest(self.settings)
        return GluePipesClient(
            client=clients.glue,
            context_injector=PipesS3ContextInjector(
                bucket=self.settings.bucket, client=clients.s3, key_prefix=naming.pipes_prefix
            ),
            message_reader=self._reader(clients),
            job_names={name: naming.job_name(name) for name in manifest.jobs},
        )

    def _reader(self, clients: AwsClients) -> PipesMessageReader:
        if self.message_reader == "s3":
            return PipesS3MessageReader(
                bucket=self.settings.bucket, client=clients.s3, interval=S3_READER_INTERVAL
            )
        return PipesCloudWatchMessageReader(client=clients.logs)

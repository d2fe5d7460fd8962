"""The resources the Glue assets and the deploy job use, built from the environment when Dagster loads the
code location (not at import), so a bad setting or jobs.yaml fails the load with one clear message."""

import dagster as dg

from glue_pipes_project.defs.glue.deploy_job import GlueDeployResource
from glue_pipes_project.deploy.plan import load_project_manifest
from glue_pipes_project.resources import GluePipesClientResource
from glue_pipes_project.settings import Settings


@dg.definitions
def resources() -> dg.Definitions:
    settings = Settings.from_env()
    load_project_manifest(settings)  # names the file, job and field of any problem
    return dg.Definitions(
        resources={
            "glue_pipes_client": GluePipesClientResource(settings=settings, message_reader="cloudwatch"),
            "glue_pipes_s3_client": GluePipesClientResource(settings=settings, message_reader="s3"),
            "glue_deploy": GlueDeployResource(settings=settings),
        },
    )

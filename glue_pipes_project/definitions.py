"""The code location: assets and resources wired together, nothing else."""

import dagster as dg

from glue_pipes_project.assets import glue_pipes_asset, glue_pipes_s3_asset
from glue_pipes_project.deploy import load_project_manifest
from glue_pipes_project.deploy_job import GlueDeployResource, deploy_glue_jobs
from glue_pipes_project.resources import GluePipesClientResource
from glue_pipes_project.settings import Settings

settings = Settings.from_env()
# Fail the load, not the first run, on a bad jobs.yaml (the error names file, job and field).
load_project_manifest(settings)

defs = dg.Definitions(
    assets=[glue_pipes_asset, glue_pipes_s3_asset],
    jobs=[deploy_glue_jobs],
    resources={
        "glue_pipes_client": GluePipesClientResource(settings=settings, message_reader="cloudwatch"),
        "glue_pipes_s3_client": GluePipesClientResource(settings=settings, message_reader="s3"),
        "glue_deploy": GlueDeployResource(settings=settings),
    },
)

"""The resources the Glue assets and the deploy job use, built from the environment when Dagster loads the
code location (not at import), so a bad setting or jobs.yaml fails the load with one clear message."""

import dagster as dg

from glue_pipes_project.deploy.manifest import MESSAGE_READER_RESOURCES
from glue_pipes_project.deploy.plan import load_project_manifest
from glue_pipes_project.resources import GlueDeployResource, GluePipesClientResource
from glue_pipes_project.settings import Settings


@dg.definitions
def resources() -> dg.Definitions:
    settings = Settings.from_env()
    load_project_manifest(settings)  # names the file, job and field of any problem
    return dg.Definitions(
        resources={
            **{
                key: GluePipesClientResource(settings=settings, message_reader=reader)
                for reader, key in MESSAGE_READER_RESOURCES.items()
            },
            "glue_deploy": GlueDeployResource(settings=settings),
        },
    )

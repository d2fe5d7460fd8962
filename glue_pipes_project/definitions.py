"""The code location: assets and resources wired together, nothing else."""

import dagster as dg

from glue_pipes_project.assets import glue_pipes_asset, glue_pipes_s3_asset
from glue_pipes_project.resources import GluePipesClientResource
from glue_pipes_project.settings import Settings

settings = Settings.from_env()

defs = dg.Definitions(
    assets=[glue_pipes_asset, glue_pipes_s3_asset],
    resources={
        "glue_pipes_client": GluePipesClientResource(settings=settings, message_reader="cloudwatch"),
        "glue_pipes_s3_client": GluePipesClientResource(settings=settings, message_reader="s3"),
    },
)

"""A code location with one Glue step, for tests that run Dagster in a process of their own.

Settings come from the usual GLUE_PIPES_* variables; TEST_GLUE_JOB and TEST_GLUE_ARGUMENTS (JSON)
say which Glue job the step runs and with which arguments.
"""

import json
import os

import dagster as dg
from dagster_aws.pipes import PipesGlueClient

from glue_pipes_project.resources import GluePipesClientResource
from glue_pipes_project.settings import Settings


@dg.asset
def glue_step(context: dg.AssetExecutionContext, glue_pipes_client: PipesGlueClient):
    params = {"JobName": os.environ["TEST_GLUE_JOB"], "Arguments": json.loads(os.environ["TEST_GLUE_ARGUMENTS"])}
    return glue_pipes_client.run(context=context, start_job_run_params=params).get_materialize_result()


defs = dg.Definitions(
    assets=[glue_step], resources={"glue_pipes_client": GluePipesClientResource(settings=Settings.from_env())}
)

"""``glue_pipes_s3_asset``: the same Glue job shape, with Pipes messages delivered as S3 chunks."""

import dagster as dg
from dagster_aws.pipes import PipesGlueClient

from glue_pipes_project.deploy.code_versions import code_version


@dg.asset(
    description="The same summary from the Glue job glue_pipes_s3_asset; messages via S3 chunks.",
    code_version=code_version("glue_pipes_s3_asset"),  # changes with the script, its extra files or dagster-pipes
    kinds={"glue", "python", "s3"},
)
def glue_pipes_s3_asset(context: dg.AssetExecutionContext, glue_pipes_s3_client: PipesGlueClient):
    return glue_pipes_s3_client.run(
        context=context,
        start_job_run_params={"JobName": "glue_pipes_s3_asset", "Arguments": {"--row_count": "1000"}},
    ).get_materialize_result()

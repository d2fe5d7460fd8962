"""Assets that run Glue jobs through Dagster Pipes.

``glue_pipes_asset`` is dagster-aws's documented example, unchanged: the job name is the logical
name from glue_jobs/jobs.yaml, and the resource maps it to the deployed Glue job.
"""

import dagster as dg
from dagster_aws.pipes import PipesGlueClient


@dg.asset(
    description="Orders summary computed by the Glue job glue_pipes_asset; messages via CloudWatch Logs.",
    kinds={"glue", "python"},
)
def glue_pipes_asset(context: dg.AssetExecutionContext, glue_pipes_client: PipesGlueClient):
    return glue_pipes_client.run(
        context=context,
        start_job_run_params={
            "JobName": "glue_pipes_asset",
            "Arguments": {"--row_count": "1000"},
        },
    ).get_materialize_result()


@dg.asset(
    description="The same summary from the Glue job glue_pipes_s3_asset; messages via S3 chunks.",
    kinds={"glue", "python", "s3"},
)
def glue_pipes_s3_asset(context: dg.AssetExecutionContext, glue_pipes_s3_client: PipesGlueClient):
    return glue_pipes_s3_client.run(
        context=context,
        start_job_run_params={"JobName": "glue_pipes_s3_asset", "Arguments": {"--row_count": "1000"}},
    ).get_materialize_result()

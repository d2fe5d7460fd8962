"""``glue_pipes_asset``: dagster-aws's documented example, unchanged.

The job name is the logical name from glue_jobs/jobs.yaml; the resource maps it to the deployed Glue
job. Write an asset by hand like this when its Glue call needs Python around it (arguments computed
at run time, several runs, post-processing of the result).
"""

import dagster as dg
from dagster_aws.pipes import PipesGlueClient

from glue_pipes_project.deploy.code_versions import code_version


@dg.asset(
    description="Orders summary computed by the Glue job glue_pipes_asset; messages via CloudWatch Logs.",
    code_version=code_version("glue_pipes_asset"),  # changes with the script, its extra files or dagster-pipes
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

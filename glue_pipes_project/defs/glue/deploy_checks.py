"""``deployed_job_matches_repository``: on every Glue asset, generated or hand-written, whether the
deployed Glue job is what the repository deploys for it. Read-only; the fix is a deploy.

A Python module rather than part of GlueJobsComponent: dagster re-wraps the asset checks of a
defs.yaml component (to add its source position) through a beta API that warns at every load.
"""

import dagster as dg

from glue_pipes_project.deploy.manifest import DEPLOY_CHECK, Job
from glue_pipes_project.deploy.plan import DEPLOY_FIX, load_project_manifest
from glue_pipes_project.resources import GlueDeployResource
from glue_pipes_project.settings import Settings


@dg.definitions
def deploy_checks() -> dg.Definitions:
    jobs = load_project_manifest(Settings.from_env()).jobs.values()
    return dg.Definitions(asset_checks=[deployed_job_check(job) for job in jobs])


def deployed_job_check(job: Job) -> dg.AssetChecksDefinition:
    """The check on ``job``'s asset: a deploy plan of that one job, passing when nothing would change."""

    @dg.asset_check(
        asset=job.asset_key,
        name=DEPLOY_CHECK,
        description=f"The deployed Glue job {job.name!r} is what glue_jobs/ deploys for it (definition and files).",
    )
    def deployed_job_matches_repository(glue_deploy: GlueDeployResource) -> dg.AssetCheckResult:
        drift = glue_deploy.job_drift(job.name)
        fix = {} if drift.in_sync else {"fix": DEPLOY_FIX}
        return dg.AssetCheckResult(
            passed=drift.in_sync, description=drift.describe(), metadata={**drift.to_metadata(), **fix}
        )

    return deployed_job_matches_repository

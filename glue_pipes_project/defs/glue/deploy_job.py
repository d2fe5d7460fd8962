"""``deploy_glue_jobs``: the deploy step as a Dagster job, so a deployment can deploy its own Glue jobs.

It runs the same code as ``glue-pipes deploy`` and reports what it changed as output metadata.
"""

import dagster as dg

from glue_pipes_project.aws import AwsClients
from glue_pipes_project.deploy.plan import deploy_project
from glue_pipes_project.resources import GlueDeployResource


class DeployConfig(dg.Config):
    prune: bool = False
    dry_run: bool = False


@dg.op(description="Upload changed Glue scripts and artifacts to S3 and create/update the Glue jobs.")
def deploy_glue_jobs_op(
    context: dg.OpExecutionContext, config: DeployConfig, glue_deploy: GlueDeployResource
) -> dg.Output[dict]:
    settings = glue_deploy.settings
    plan = deploy_project(
        settings,
        AwsClients.connect(settings),
        prune=config.prune,
        dry_run=config.dry_run,
        progress=lambda kind, item, done, total: context.log.info(f"[{done}/{total}] {kind} {item}"),
    )
    summary = plan.to_dict()
    changed = [item for item in summary["jobs"]["items"] if item["action"] != "unchanged"]
    table = "\n".join(
        ["| job | action | changed fields |", "| --- | --- | --- |"]
        + [f"| {i['glue_job_name']} | {i['action']} | {', '.join(i.get('changed_fields', []))} |" for i in changed]
    )
    return dg.Output(
        summary,
        metadata={
            "dry_run": config.dry_run,
            "environment": settings.environment,
            "files_uploaded": summary["files"]["uploaded"],
            "files_unchanged": summary["files"]["unchanged"],
            "jobs_created": summary["jobs"]["created"],
            "jobs_updated": summary["jobs"]["updated"],
            "jobs_deleted": summary["jobs"]["deleted"],
            "jobs_unchanged": summary["jobs"]["unchanged"],
            "changed_jobs": dg.MetadataValue.md(table if changed else "nothing changed"),
            "plan": dg.MetadataValue.json(summary),
        },
    )


@dg.job(description="Deploy glue_jobs/ (scripts, dagster-pipes, job definitions) to this environment's Glue.")
def deploy_glue_jobs():
    deploy_glue_jobs_op()

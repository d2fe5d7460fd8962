"""``GlueJobsComponent``: the jobs of glue_jobs/jobs.yaml as Dagster assets.

A standard Glue job needs no Python: its script, its jobs.yaml entry and, optionally, an ``asset:``
block there (key, group, description, kinds, deps, owners, tags, message reader, run arguments).
Every Glue asset's deploy check is in ``defs/glue/deploy_checks.py``.
"""

# No `from __future__ import annotations`: Dagster reads the compute functions' annotations at runtime.
from typing import TYPE_CHECKING

import dagster as dg
from dagster_aws.pipes import PipesGlueClient

from glue_pipes_project.deploy.code_versions import code_version
from glue_pipes_project.deploy.manifest import MESSAGE_READER_RESOURCES, Job
from glue_pipes_project.deploy.plan import load_project_manifest
from glue_pipes_project.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_glue.type_defs import StartJobRunRequestTypeDef


class GlueJobsComponent(dg.Component, dg.Model, dg.Resolvable):
    """Glue jobs from jobs.yaml as assets that run them through Dagster Pipes.

    Every job becomes an asset that starts it with the Glue Pipes client, shaped by the job's
    optional `asset:` block in jobs.yaml; a job marked `asset: {hand_written: true}` is run by an
    asset written in Python instead. Which jobs.yaml: the code location's settings
    (GLUE_PIPES_MANIFEST, default glue_jobs/jobs.yaml).
    """

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        jobs = load_project_manifest(Settings.from_env()).jobs.values()
        return dg.Definitions(assets=[glue_job_asset(job) for job in jobs if not job.spec.asset.hand_written])


def glue_job_asset(job: Job) -> dg.AssetsDefinition:
    """The asset that runs ``job`` on Glue, shaped like dagster-aws's documented example."""
    resource_key = MESSAGE_READER_RESOURCES[job.spec.asset.message_reader]
    params: StartJobRunRequestTypeDef = {"JobName": job.name, "Arguments": dict(job.spec.asset.run_arguments)}

    @dg.multi_asset(
        name=job.asset_key.to_python_identifier(),
        specs=[job.asset_spec(code_version=code_version(job.name))],
        required_resource_keys={resource_key},
    )
    def run_glue_job(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        client: PipesGlueClient = getattr(context.resources, resource_key)
        return client.run(context=context, start_job_run_params=params).get_materialize_result()

    return run_glue_job

"""``GlueJobsComponent``: the jobs of glue_jobs/jobs.yaml as Dagster assets.

A standard Glue job needs no Python: its script, its jobs.yaml entry and, optionally, an ``asset:``
block there (key, group, description, kinds, deps, owners, tags, message reader, run arguments,
daily partitions, the checks its script reports). Every generated asset takes per-run overrides in
its run config (``GlueRunConfig``). Every Glue asset's deploy check is in ``defs/glue/deploy_checks.py``.
"""

# No `from __future__ import annotations`: Dagster reads the compute functions' annotations at runtime.
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, cast

import dagster as dg
from dagster_aws.pipes import PipesGlueClient
from pydantic import Field

from glue_pipes_project.deploy.code_versions import code_version
from glue_pipes_project.deploy.manifest import (
    MESSAGE_READER_RESOURCES,
    PARTITION_ARGUMENT,
    Job,
    argument_problems,
    run_override_problems,
)
from glue_pipes_project.deploy.plan import load_project_manifest
from glue_pipes_project.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_glue.type_defs import StartJobRunRequestTypeDef

# Run config field → the StartJobRun parameter that overrides the job's value for one run.
RUN_OVERRIDES = {
    "worker_type": "WorkerType",
    "number_of_workers": "NumberOfWorkers",
    "timeout_minutes": "Timeout",
    "execution_class": "ExecutionClass",
}


class GlueRunConfig(dg.Config):
    """Overrides for one run of the Glue job, where Glue allows them per run; unset fields keep the job's."""

    worker_type: str | None = Field(default=None, description="glueetl: G.025X, G.1X, G.2X, G.4X or G.8X")
    number_of_workers: int | None = Field(default=None, description="glueetl: 2 or more")
    timeout_minutes: int | None = Field(default=None, description="1 to 10080")
    execution_class: str | None = Field(default=None, description="STANDARD, or FLEX (glueetl)")
    arguments: dict[str, str] = Field(
        default_factory=dict, description='extra job arguments for this run, "--name": "value"'
    )


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
    check_specs = job.check_specs()

    @dg.multi_asset(
        name=job.asset_key.to_python_identifier(),
        specs=[job.asset_spec(code_version=code_version(job.name))],
        check_specs=check_specs,
        required_resource_keys={resource_key},
    )
    def run_glue_job(context: dg.AssetExecutionContext, config: GlueRunConfig) -> Iterator[dg.PipesExecutionResult]:
        params = start_job_run_params(job, config, context.partition_key if context.has_partition_key else None)
        client: PipesGlueClient = getattr(context.resources, resource_key)
        results = client.run(context=context, start_job_run_params=params).get_results()
        reported = {result.check_name for result in results if isinstance(result, dg.AssetCheckResult)}
        missing = sorted(spec.name for spec in check_specs if spec.name not in reported)
        if missing:
            raise dg.Failure(
                description=f"Glue job {job.name} succeeded without reporting the checks jobs.yaml declares "
                f"for it: {', '.join(missing)} (report them with pipes.report_asset_check)",
                allow_retries=False,
            )
        # A failed blocking check (severity ERROR) then fails this step, so its downstream assets do not run.
        yield from results

    return run_glue_job


def start_job_run_params(job: Job, config: GlueRunConfig, partition_key: str | None) -> "StartJobRunRequestTypeDef":
    """StartJobRun's parameters for one run: the asset's run arguments, the run config's overrides and
    arguments, and the partition key; an override Glue would refuse fails here, before any Glue call."""
    overrides = {field: value for field in RUN_OVERRIDES if (value := getattr(config, field)) is not None}
    problems = run_override_problems(job.spec, overrides) + argument_problems("arguments", config.arguments)
    if partition_key is not None and PARTITION_ARGUMENT in config.arguments:
        problems.append(f"'arguments.{PARTITION_ARGUMENT}': set from the partition key")
    if problems:
        raise dg.Failure(description=f"Run config of Glue job {job.name}: " + "; ".join(problems), allow_retries=False)
    arguments = {**job.spec.asset.run_arguments, **config.arguments}
    if partition_key is not None:
        arguments[PARTITION_ARGUMENT] = partition_key
    params: dict[str, Any] = {
        "JobName": job.name,
        "Arguments": arguments,
        **{RUN_OVERRIDES[field]: value for field, value in overrides.items()},
    }
    return cast("StartJobRunRequestTypeDef", params)  # the keys come from RUN_OVERRIDES, all StartJobRun's

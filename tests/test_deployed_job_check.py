"""Dagster sees what is deployed: each Glue asset's check compares the deployed job with the repository,
and a run refuses to start a job that is not deployed as the repository has it."""

import shutil
from pathlib import Path

import dagster as dg
import pytest
from dagster_aws.pipes import PipesGlueClient

from glue_pipes_project.aws import AwsClients
from glue_pipes_project.defs.glue.deploy_checks import deployed_job_check
from glue_pipes_project.defs.glue.glue_pipes_asset import glue_pipes_asset
from glue_pipes_project.deploy.manifest import load_manifest
from glue_pipes_project.deploy.plan import deploy_project
from glue_pipes_project.resources import GlueDeployResource, GluePipesClientResource
from tests.helpers import local_settings

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def project(local_aws, tmp_path, request):
    """A copy of glue_jobs/ with a job and S3 prefix of this test's own, not deployed yet."""
    jobs = tmp_path / "glue_jobs"
    shutil.copytree(ROOT / "glue_jobs", jobs)
    name = request.node.name.replace("_", "-")[:40]
    settings = local_settings(
        local_aws,
        GLUE_PIPES_MANIFEST=str(jobs / "jobs.yaml"),
        GLUE_PIPES_JOB_PREFIX=f"{name}-",
        GLUE_PIPES_S3_PREFIX=name,
    )
    return jobs, settings


def deploy(settings) -> None:
    deploy_project(settings, AwsClients.connect(settings))


def run_check(settings, job: str = "glue_pipes_asset") -> dg.AssetCheckEvaluation:
    check = deployed_job_check(load_manifest(settings.manifest_path).jobs[job])
    result = dg.materialize(
        [glue_pipes_asset, check],
        selection=dg.AssetSelection.checks(check),  # the check alone, as "Execute" on it in the UI
        resources={
            "glue_deploy": GlueDeployResource(settings=settings),
            "glue_pipes_client": GluePipesClientResource(settings=settings),
        },
    )
    (evaluation,) = result.get_asset_check_evaluations()
    return evaluation


def test_the_check_fails_for_a_missing_job_passes_after_deploy_and_fails_after_a_script_edit(project):
    jobs, settings = project
    glue_job = f"{settings.job_name_prefix}glue_pipes_asset"

    missing = run_check(settings)
    assert not missing.passed and missing.severity == dg.AssetCheckSeverity.ERROR
    assert missing.metadata["job_missing"].value is True
    assert f"Glue job '{glue_job}' does not exist" in missing.description
    assert "glue-pipes deploy" in missing.metadata["fix"].value

    deploy(settings)
    in_sync = run_check(settings)
    assert in_sync.passed, in_sync.description
    assert in_sync.metadata["changed_fields"].value == [] and "fix" not in in_sync.metadata

    script = jobs / "glue_pipes_asset.py"
    script.write_bytes(script.read_bytes() + b"\n# edited\n")
    edited = run_check(settings)
    assert not edited.passed
    assert edited.metadata["changed_fields"].value == ["Command"]  # its ScriptLocation: a new content address
    assert edited.metadata["files_not_deployed"].value == ["glue_jobs/glue_pipes_asset.py"]
    assert f"Glue job '{glue_job}' differs in Command" in edited.description
    assert "this glue_jobs/glue_pipes_asset.py is not in S3" in edited.description


def test_a_run_after_a_script_edit_without_deploy_fails_before_starting_glue(local_aws, project):
    jobs, settings = project
    deploy(settings)
    script = jobs / "glue_pipes_asset.py"
    script.write_bytes(script.read_bytes() + b"\n# edited\n")
    local_aws.reset_requests()

    result = dg.materialize(
        [glue_pipes_asset],
        resources={"glue_pipes_client": GluePipesClientResource(settings=settings)},
        raise_on_error=False,
    )
    assert not result.success
    (failure,) = result.get_step_failure_events()
    message = failure.step_failure_data.error.to_string()
    assert (
        f"Not starting Glue: job 'glue_pipes_asset' is not deployed as the repository has it: "
        f"Glue job '{settings.job_name_prefix}glue_pipes_asset' differs in Command" in message
    ), message
    assert "run `glue-pipes deploy` (`make deploy`) or the deploy_glue_jobs job in Dagster" in message
    assert local_aws.requests().get("glue:StartJobRun", 0) == 0
    assert not result.asset_materializations_for_node("glue_pipes_asset")

    deploy(settings)  # the fix the message names
    assert run_check(settings).passed


def test_a_run_naming_a_job_missing_from_jobs_yaml_fails_naming_the_known_jobs(local_aws, project):
    _, settings = project

    @dg.asset
    def typo(context: dg.AssetExecutionContext, glue_pipes_client: PipesGlueClient):
        return glue_pipes_client.run(context=context, start_job_run_params={"JobName": "glue_pipes_asest"})

    deploy(settings)
    result = dg.materialize(
        [typo], resources={"glue_pipes_client": GluePipesClientResource(settings=settings)}, raise_on_error=False
    )
    (failure,) = result.get_step_failure_events()
    assert (
        "no job 'glue_pipes_asest' (jobs: glue_pipes_asset, glue_pipes_s3_asset, orders_curated, orders_daily_summary,"
        " raw_orders)" in failure.step_failure_data.error.to_string()
    )

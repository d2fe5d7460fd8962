"""Materialize the project's assets through Dagster against the local endpoint, as a user would."""

import importlib.util
import shutil
from pathlib import Path

import dagster as dg
import pytest
from dagster_aws.pipes import PipesGlueClient

from glue_pipes_project.aws import AwsClients
from glue_pipes_project.components.glue_jobs import glue_job_asset
from glue_pipes_project.defs.glue.glue_pipes_asset import glue_pipes_asset
from glue_pipes_project.deploy.manifest import load_manifest
from glue_pipes_project.deploy.plan import deploy_project
from glue_pipes_project.resources import GluePipesClientResource
from tests.helpers import local_settings, shared_instance

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("orders", ROOT / "glue_jobs" / "orders.py")
orders = importlib.util.module_from_spec(spec)
spec.loader.exec_module(orders)


# The asset GlueJobsComponent generates from jobs.yaml's entry.
glue_pipes_s3_asset = glue_job_asset(load_manifest(ROOT / "glue_jobs" / "jobs.yaml").jobs["glue_pipes_s3_asset"])


def user_messages(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    return [entry.user_message for entry in instance.all_logs(run_id)]


@pytest.fixture
def deployed(local_aws):
    """The project's jobs, deployed (runs never deploy); a no-op once they are."""
    settings = local_settings(local_aws, GLUE_PIPES_S3_PREFIX="e2e")
    deploy_project(settings, AwsClients.connect(settings))
    return settings


@pytest.mark.parametrize(
    ("asset", "resource_key", "reader"),
    [
        (glue_pipes_asset, "glue_pipes_client", "cloudwatch"),
        (glue_pipes_s3_asset, "glue_pipes_s3_client", "s3"),
    ],
)
def test_materialize_reports_script_metadata_run_id_and_logs(local_aws, deployed, asset, resource_key, reader):
    settings = deployed
    instance = shared_instance()
    result = dg.materialize(
        [asset],
        resources={resource_key: GluePipesClientResource(settings=settings, message_reader=reader)},
        instance=instance,
    )
    assert result.success

    (materialization,) = result.asset_materializations_for_node(asset.op.name)
    metadata = materialization.metadata
    expected = orders.summarize(orders.generate_orders(1000, 7))
    assert metadata["row_count"].value == 1000
    assert metadata["total_amount"].value == pytest.approx(expected["total_amount"])
    assert metadata["amount_by_region"].value == expected["amount_by_region"]
    assert "| region | amount |" in metadata["preview"].value
    assert materialization.tags["dagster/data_version"] == orders.materialization(expected)[1]

    run_id = metadata["AWS Glue Job Run ID"].value
    assert run_id.startswith("jr_") and len(run_id) == 67
    job_run = local_aws.client("glue").get_job_run(JobName=asset.op.name, RunId=run_id)["JobRun"]
    assert job_run["JobRunState"] == "SUCCEEDED"

    messages = user_messages(instance, result.run_id)
    assert any(f"Glue job {asset.op.name} run {run_id} started" in m for m in messages), messages
    assert any(f"Total amount {expected['total_amount']:.2f}" in m for m in messages), messages


def test_a_failing_script_fails_the_step_with_its_exception(local_aws, tmp_path):
    jobs = tmp_path / "glue_jobs"
    shutil.copytree(ROOT / "glue_jobs", jobs)
    (jobs / "broken.py").write_text(
        "import sys\n"
        "print('about to fail', flush=True)\n"
        "raise ValueError('orders table is empty: ' + sys.argv[sys.argv.index('--JOB_NAME') + 1])\n"
    )
    (jobs / "jobs.yaml").write_text((jobs / "jobs.yaml").read_text() + "\n  broken_job:\n    script: broken.py\n")
    settings = local_settings(
        local_aws,
        GLUE_PIPES_MANIFEST=str(jobs / "jobs.yaml"),
        GLUE_PIPES_JOB_PREFIX="failing-",
        GLUE_PIPES_S3_PREFIX="failing",
    )
    deploy_project(settings, AwsClients.connect(settings))

    @dg.asset
    def broken(context: dg.AssetExecutionContext, glue_pipes_client: PipesGlueClient):
        return glue_pipes_client.run(
            context=context, start_job_run_params={"JobName": "broken_job"}
        ).get_materialize_result()

    result = dg.materialize(
        [broken],
        resources={"glue_pipes_client": GluePipesClientResource(settings=settings)},
        raise_on_error=False,
    )
    assert not result.success
    (failure,) = result.get_step_failure_events()
    error = failure.step_failure_data.error
    text = error.to_string()
    assert "ValueError: orders table is empty: failing-broken_job" in text
    assert "FAILED" in text


def test_definitions_load_with_both_assets_and_resources():
    from glue_pipes_project.definitions import defs

    repository = defs().get_repository_def()  # @dg.definitions: nothing is built until Dagster asks
    assets = {"glue_pipes_asset", "glue_pipes_s3_asset", "raw_orders", "orders_curated", "orders_daily_summary"}
    assert {key.to_user_string() for key in repository.asset_graph.get_all_asset_keys()} == assets
    assert {"glue_pipes_client", "glue_pipes_s3_client", "glue_deploy"} <= set(repository.get_top_level_resources())
    assert {(key.asset_key.to_user_string(), key.name) for key in repository.asset_graph.asset_check_keys} == {
        *((asset, "deployed_job_matches_repository") for asset in assets),
        ("orders_curated", "no_null_order_ids"),
        ("orders_curated", "row_count_within_bounds_of_previous_partition"),
    }

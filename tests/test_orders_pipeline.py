"""The orders pipeline end to end on the local endpoint: glue_jobs/jobs.yaml deployed, raw_orders ->
orders_curated -> orders_daily_summary materialized by Dagster for a day, the Spark jobs running the
repository's scripts on the local awsglue, their data and catalog tables read back with boto3.

Three Spark Glue runs in the whole module (a JVM start each): both Spark jobs for the first day, then
orders_curated alone for a second day with bad rows planted, whose blocking check stops the summary.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from glue_pipes_project.aws import AwsClients
from glue_pipes_project.components.glue_jobs import glue_job_asset
from glue_pipes_project.deploy.manifest import load_manifest
from glue_pipes_project.deploy.naming import Naming
from glue_pipes_project.deploy.plan import deploy_project
from glue_pipes_project.infra import POLICIES_DIR
from glue_pipes_project.resources import GluePipesClientResource
from glue_pipes_project.settings import LOCAL_BUCKET
from tests.helpers import local_settings, shared_instance
from tests.iam_policy import load_policy, matching_grants
from tests.spark import requires_spark
from tests.test_end_to_end import ROOT
from tests.test_least_privilege import ACCOUNT_ID, SPARK_ONLY, attributed, denied

# Its own worker: the Spark Glue runs are costly, made once (session-scoped, as xdist interleaves modules).
pytestmark = [requires_spark, pytest.mark.xdist_group("orders_pipeline")]

JOB_PREFIX, S3_PREFIX = "orders-pipeline-", "orders-pipeline"
DAY, NEXT_DAY = "2026-11-01", "2026-11-02"
PLANTED = 3  # orders without an id on NEXT_DAY
CURATED_COLUMNS = ["order_id", "customer_id", "order_ts", "status", "quantity", "amount", "dt"]

MANIFEST = load_manifest(ROOT / "glue_jobs" / "jobs.yaml")
ASSETS = [glue_job_asset(MANIFEST.jobs[name]) for name in ("raw_orders", "orders_curated", "orders_daily_summary")]


@pytest.fixture(scope="session")
def pipeline(local_aws):
    """Deployed to the local environment of this module's prefixes; the Glue job's calls recorded from here."""
    settings = local_settings(local_aws, GLUE_PIPES_JOB_PREFIX=JOB_PREFIX, GLUE_PIPES_S3_PREFIX=S3_PREFIX)
    deploy_project(settings, AwsClients.connect(settings))
    local_aws.reset_requests()
    return settings, Naming.from_settings(settings)


def materialize(settings, partition_key: str, raw_arguments: dict[str, str] | None = None) -> dg.ExecuteInProcessResult:
    config = {"ops": {"raw_orders": {"config": {"arguments": raw_arguments}}}} if raw_arguments else None
    return dg.materialize(
        ASSETS,
        partition_key=partition_key,
        run_config=config,
        resources={"glue_pipes_client": GluePipesClientResource(settings=settings)},
        instance=shared_instance(),
        raise_on_error=False,
    )


def metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict[str, Any]:
    (materialization,) = result.asset_materializations_for_node(asset)
    return {key: value.value for key, value in materialization.metadata.items()}


def checks(result: dg.ExecuteInProcessResult, *keys: str) -> dict[str, tuple[bool, dict[str, Any]]]:
    """Each check's result, with the metadata under `keys` (the script's; the client adds the run's)."""
    return {
        event.asset_check_evaluation_data.check_name: (
            event.asset_check_evaluation_data.passed,
            {k: v.value for k, v in event.asset_check_evaluation_data.metadata.items() if k in keys},
        )
        for event in result.all_events
        if event.event_type_value == "ASSET_CHECK_EVALUATION"
    }


def started(result: dg.ExecuteInProcessResult) -> set[str]:
    return {event.step_key for event in result.all_events if event.event_type_value == "STEP_START"}


@pytest.fixture(scope="session")
def first_day(pipeline):
    settings, _ = pipeline
    return materialize(settings, DAY)


@pytest.fixture(scope="session")
def next_day(pipeline, first_day, local_aws):
    """NEXT_DAY with bad rows planted, over what an earlier, interrupted run left in its partition."""
    settings, naming = pipeline
    leftover = f"{naming.data_prefix}curated/orders/dt={NEXT_DAY}/part-00000-from-an-earlier-run.snappy.parquet"
    local_aws.client("s3").put_object(Bucket=LOCAL_BUCKET, Key=leftover, Body=b"not parquet")
    result = materialize(settings, NEXT_DAY, {"--null_order_ids": str(PLANTED)})
    return result, leftover


def test_a_day_runs_through_the_pipeline_with_metadata_checks_and_catalog(pipeline, first_day, local_aws):
    settings, naming = pipeline
    assert first_day.success
    assert started(first_day) == {"raw_orders", "orders_curated", "orders_daily_summary"}
    raw, curated = metadata(first_day, "raw_orders"), metadata(first_day, "orders_curated")
    data = f"s3://{LOCAL_BUCKET}/{naming.data_prefix}"
    assert data == f"s3://{LOCAL_BUCKET}/{S3_PREFIX}/data/local/"
    assert 2000 <= raw["row_count"] <= 3000 and raw["location"] == f"{data}raw/orders/dt={DAY}/"
    assert curated["row_count"] == raw["row_count"]
    assert [column.name for column in curated["dagster/column_schema"].columns] == CURATED_COLUMNS
    assert {c.name: c.type for c in curated["dagster/column_schema"].columns}["amount"] == "double"
    database = naming.catalog_database
    assert database == "orders_pipeline_local"
    assert (curated["partition"], curated["table"]) == (DAY, f"{database}.orders_curated")
    assert curated["location"] == f"{data}curated/orders/dt={DAY}/"
    assert checks(first_day, "null_order_ids", "row_count", "previous_partition", "previous_row_count") == {
        "no_null_order_ids": (True, {"null_order_ids": 0}),
        # The first day has no previous one to compare with.
        "row_count_within_bounds_of_previous_partition": (
            True,
            {"row_count": raw["row_count"], "previous_partition": "2026-10-31", "previous_row_count": None},
        ),
    }
    summary = metadata(first_day, "orders_daily_summary")
    assert (summary["orders"], summary["table"]) == (raw["row_count"], f"{database}.orders_daily_summary")

    # What a user types to see the partition: the AWS CLI against the endpoint, with its credentials.
    listed = subprocess.run(
        [
            str(Path(sys.executable).parent / "aws"),
            "glue",
            "get-partitions",
            "--database-name",
            database,
            "--table-name",
            "orders_curated",
            "--output",
            "json",
        ],
        env={
            **{key: value for key, value in os.environ.items() if not key.startswith("AWS_")},
            "AWS_ENDPOINT_URL": local_aws.endpoint_url,
            "AWS_DEFAULT_REGION": local_aws.region,
            **local_aws.credentials.environment(),
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert listed.returncode == 0, listed.stderr
    # NEXT_DAY's partition is there too when the other test's run came first (random order).
    locations = {p["Values"][0]: p["StorageDescriptor"]["Location"] for p in json.loads(listed.stdout)["Partitions"]}
    assert set(locations) <= {DAY, NEXT_DAY}
    assert locations[DAY].rstrip("/") == f"{data}curated/orders/dt={DAY}"
    table = local_aws.client("glue").get_table(DatabaseName=database, Name="orders_daily_summary")["Table"]
    assert [key["Name"] for key in table["PartitionKeys"]] == ["dt"]


def test_a_failed_blocking_check_stops_the_summary(pipeline, first_day, next_day, local_aws):
    result, leftover = next_day
    assert not result.success
    assert started(result) == {"raw_orders", "orders_curated"}  # orders_daily_summary never ran
    found = checks(result, "null_order_ids", "previous_row_count")
    assert found["no_null_order_ids"] == (False, {"null_order_ids": PLANTED})
    # The WARN check compared with the first day's partition, read back through the catalog.
    passed, bounds = found["row_count_within_bounds_of_previous_partition"]
    assert passed and bounds["previous_row_count"] == metadata(first_day, "orders_curated")["row_count"]
    assert metadata(result, "orders_curated")["row_count"] == metadata(result, "raw_orders")["row_count"]

    # The run replaced what was in its partition before writing it.
    keys = local_aws.client("s3").list_objects_v2(Bucket=LOCAL_BUCKET, Prefix=leftover.rsplit("/", 1)[0])
    assert leftover not in {obj["Key"] for obj in keys["Contents"]}
    _, naming = pipeline
    glue = local_aws.client("glue")
    partitions = glue.get_partitions(DatabaseName=naming.catalog_database, TableName="orders_curated")["Partitions"]
    assert sorted(p["Values"] for p in partitions) == [[DAY], [NEXT_DAY]]


def test_the_glue_jobs_calls_are_what_the_glue_job_role_grants(pipeline, first_day, next_day, local_aws):
    """Least privilege for the Spark jobs (tests/test_least_privilege.py leaves them to this module)."""
    _, naming = pipeline
    policy = load_policy(
        POLICIES_DIR / "glue-job-policy.json",
        {
            "<ACCOUNT_ID>": ACCOUNT_ID,
            "<REGION>": local_aws.region,
            "<BUCKET>": LOCAL_BUCKET,
            "<S3_PREFIX>": S3_PREFIX,
            "<CATALOG_DATABASE_PREFIX>": naming.catalog_database.removesuffix("local"),
        },
    )
    calls = [call for call in attributed(local_aws.calls()) if call[0] == "glue-job"]
    assert calls and denied(calls, {"glue-job": policy}) == []
    used = {(grant.sid, grant.action) for _, _, request in calls for grant in matching_grants(policy, request)}
    assert {(sid, action) for _, sid, action in SPARK_ONLY} <= used

"""Daily partitions, checks reported from Glue, per-run overrides and the schedule of generated assets.

No Spark: stand-in scripts in a copy of glue_jobs/, deployed to the session's local endpoint and
materialized in-process, as Dagster would run the generated assets.
"""

import dataclasses
import datetime
import json
import shutil
import threading
import uuid
from pathlib import Path

import dagster as dg
import pytest

from glue_pipes_project.aws import AwsClients
from glue_pipes_project.components.glue_jobs import GlueRunConfig, glue_job_asset, start_job_run_params
from glue_pipes_project.deploy import code_versions
from glue_pipes_project.deploy.manifest import load_manifest
from glue_pipes_project.deploy.plan import deploy_project
from glue_pipes_project.resources import GluePipesClientResource
from tests.helpers import local_settings, shared_instance, wait_until

GLUE_JOBS = Path(__file__).resolve().parent.parent / "glue_jobs"
PREFIX = "partitions-"

# Reports the partition it was given and the check results its --checks argument asks for; with
# --release_key, it first waits (up to a minute) for that object to exist.
SCRIPT = """\
import json
import sys
import time

import boto3
from dagster_pipes import PipesCliArgsParamsLoader, PipesS3ContextLoader, open_dagster_pipes

args = dict(zip(sys.argv[1::2], sys.argv[2::2]))
deadline = time.monotonic() + 60
while "--release_key" in args and time.monotonic() < deadline:
    listed = boto3.client("s3").list_objects_v2(Bucket=args["--release_bucket"], Prefix=args["--release_key"])
    if listed.get("KeyCount"):
        break
    time.sleep(0.1)
with open_dagster_pipes(
    context_loader=PipesS3ContextLoader(client=boto3.client("s3")), params_loader=PipesCliArgsParamsLoader()
) as pipes:
    pipes.report_asset_materialization(metadata={"partition_date": args["--partition_date"]})
    for name, (passed, severity) in json.loads(args.get("--checks", "{}")).items():
        pipes.report_asset_check(check_name=name, passed=passed, severity=severity)
"""

JOBS = """
  curated:
    script: partitioned.py
    worker_type: G.1X
    number_of_workers: 2
    max_concurrent_runs: 1
    asset:
      group: orders
      partitions:
        daily: {start_date: "2026-11-01"}
      checks:
        - name: no_null_order_ids
          blocking: true
          description: Every curated order has an order id.
        - name: row_count_within_bounds
  summary:
    script: partitioned.py
    asset:
      group: orders
      deps: [curated]
      partitions:
        daily: {start_date: "2026-11-01"}
"""
PASSING = {"no_null_order_ids": [True, "ERROR"], "row_count_within_bounds": [True, "WARN"]}


@pytest.fixture(scope="module")
def project(local_aws, tmp_path_factory):
    """The project's glue_jobs/ plus two partitioned jobs, deployed; the code location reads this jobs.yaml."""
    glue_jobs = tmp_path_factory.mktemp("partitions") / "glue_jobs"
    shutil.copytree(GLUE_JOBS, glue_jobs)
    (glue_jobs / "partitioned.py").write_text(SCRIPT)
    with (glue_jobs / "jobs.yaml").open("a") as manifest:
        manifest.write(JOBS)
    environment = {
        "GLUE_PIPES_MANIFEST": str(glue_jobs / "jobs.yaml"),
        "GLUE_PIPES_JOB_PREFIX": PREFIX,
        "GLUE_PIPES_S3_PREFIX": "partitions-tests",
    }
    settings = local_settings(local_aws, **environment)
    deploy_project(settings, AwsClients.connect(settings))
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {**environment, "GLUE_PIPES_ENDPOINT_URL": local_aws.endpoint_url}.items():
            patch.setenv(name, value)
        code_versions._project_code_versions.cache_clear()  # noqa: SLF001 - read once per process, from this jobs.yaml
        yield settings, load_manifest(glue_jobs / "jobs.yaml")
    code_versions._project_code_versions.cache_clear()  # noqa: SLF001


@pytest.fixture(scope="module")
def assets(project):
    _, manifest = project
    return [glue_job_asset(manifest.jobs["curated"]), glue_job_asset(manifest.jobs["summary"])]


def materialize(project, assets, partition_key, config=None, instance=None):
    settings, _ = project
    instance = instance or shared_instance()
    result = dg.materialize(
        assets,
        partition_key=partition_key,
        run_config={"ops": {"curated": {"config": config}}} if config else None,
        resources={"glue_pipes_client": GluePipesClientResource(settings=settings)},
        instance=instance,
        raise_on_error=False,
    )
    return result


def started_steps(result) -> set[str]:
    return {event.step_key for event in result.all_events if event.event_type_value == "STEP_START"}


def check_results(result) -> dict[str, tuple[bool, str]]:
    return {
        event.asset_check_evaluation_data.check_name: (
            event.asset_check_evaluation_data.passed,
            event.asset_check_evaluation_data.severity.value,
        )
        for event in result.all_events
        if event.event_type_value == "ASSET_CHECK_EVALUATION"
    }


def test_the_partition_and_the_run_configs_overrides_reach_glue_metadata_and_cost(project, assets, local_aws):
    config = {
        "worker_type": "G.2X",
        "number_of_workers": 3,
        "timeout_minutes": 7,
        "execution_class": "FLEX",
        "arguments": {"--checks": json.dumps(PASSING)},
    }
    result = materialize(project, assets[:1], "2026-11-03", config)
    assert result.success, result.get_step_failure_events()

    (materialization,) = result.asset_materializations_for_node("curated")
    metadata = {key: value.value for key, value in materialization.metadata.items()}
    assert metadata["partition_date"] == "2026-11-03" and materialization.partition == "2026-11-03"
    job_run = local_aws.client("glue").get_job_run(JobName=PREFIX + "curated", RunId=metadata["AWS Glue Job Run ID"])
    job_run = job_run["JobRun"]
    assert job_run["Arguments"]["--partition_date"] == "2026-11-03"
    assert (job_run["WorkerType"], job_run["NumberOfWorkers"], job_run["Timeout"], job_run["ExecutionClass"]) == (
        "G.2X",
        3,
        7,
        "FLEX",
    )
    assert (metadata["AWS Glue Worker Type"], metadata["AWS Glue Number of Workers"]) == ("G.2X", 3)
    assert (metadata["AWS Glue Timeout (min)"], metadata["AWS Glue Execution Class"]) == (7, "FLEX")
    # 3 G.2X workers are 6 DPUs, billed at least a minute, at the Flex rate.
    assert metadata["AWS Glue DPU Hours"] == pytest.approx(6 / 60, abs=1e-6)
    assert metadata["AWS Glue Estimated Cost (USD)"] == pytest.approx(6 / 60 * 0.29, abs=1e-6)
    assert check_results(result) == {"no_null_order_ids": (True, "ERROR"), "row_count_within_bounds": (True, "WARN")}


def test_a_failed_warn_check_lets_downstream_run_and_a_failed_blocking_check_stops_it(project, assets):
    warn = {**PASSING, "row_count_within_bounds": [False, "WARN"]}
    result = materialize(project, assets, "2026-11-04", {"arguments": {"--checks": json.dumps(warn)}})
    assert result.success, result.get_step_failure_events()
    assert started_steps(result) == {"curated", "summary"}
    assert check_results(result)["row_count_within_bounds"] == (False, "WARN")

    blocking = {**PASSING, "no_null_order_ids": [False, "ERROR"]}
    result = materialize(project, assets, "2026-11-04", {"arguments": {"--checks": json.dumps(blocking)}})
    assert not result.success
    assert started_steps(result) == {"curated"}  # summary never started
    assert check_results(result)["no_null_order_ids"] == (False, "ERROR")
    (failure,) = result.get_step_failure_events()
    assert "blocking asset check failed" in failure.step_failure_data.error.message
    assert "curated: no_null_order_ids" in failure.step_failure_data.error.message
    # The partition's data was still written: its materialization is recorded, with the failed check.
    assert [m.partition for m in result.asset_materializations_for_node("curated")] == ["2026-11-04"]


def test_a_declared_check_the_script_does_not_report_fails_the_step_naming_it(project, assets):
    only_one = {"row_count_within_bounds": [True, "WARN"]}
    result = materialize(project, assets[:1], "2026-11-05", {"arguments": {"--checks": json.dumps(only_one)}})
    assert not result.success
    (failure,) = result.get_step_failure_events()
    text = failure.step_failure_data.user_failure_data.description
    assert "without reporting the checks jobs.yaml declares for it: no_null_order_ids" in text


def test_bad_overrides_fail_before_any_glue_run_listing_every_problem(project, assets, local_aws):
    glue = local_aws.client("glue")
    runs_before = len(glue.get_job_runs(JobName=PREFIX + "curated")["JobRuns"])
    config = {"worker_type": "G.9X", "number_of_workers": 1, "timeout_minutes": 0, "arguments": {"rows": "1"}}
    result = materialize(project, assets[:1], "2026-11-06", config)
    assert not result.success
    (failure,) = result.get_step_failure_events()
    text = failure.step_failure_data.user_failure_data.description
    assert text.startswith("Run config of Glue job curated: 'timeout_minutes': Input should be greater than or equal")
    assert "'arguments.rows': argument names start with '--'" in text
    assert len(glue.get_job_runs(JobName=PREFIX + "curated")["JobRuns"]) == runs_before


def test_overrides_follow_jobs_yaml_rules_for_the_job_type(project):
    _, manifest = project
    curated = manifest.jobs["curated"]
    with pytest.raises(dg.Failure) as caught:
        start_job_run_params(curated, GlueRunConfig(worker_type="G.9X", number_of_workers=1), None)
    assert caught.value.description == (
        "Run config of Glue job curated: 'worker_type': must be one of G.025X, G.1X, G.2X, G.4X, G.8X (got 'G.9X'); "
        "'number_of_workers': glueetl jobs need at least 2 (got 1)"
    )
    with pytest.raises(dg.Failure) as caught:
        start_job_run_params(curated, GlueRunConfig(arguments={"--partition_date": "2026-01-01"}), "2026-11-01")
    assert "'arguments.--partition_date': set from the partition key" in caught.value.description
    shell_spec = {"type": "pythonshell", "glue_version": "3.0", "worker_type": None, "number_of_workers": None}
    shell_job = dataclasses.replace(curated, spec=curated.spec.model_copy(update=shell_spec))
    with pytest.raises(dg.Failure) as caught:
        start_job_run_params(shell_job, GlueRunConfig(execution_class="FLEX", worker_type="G.1X"), None)
    assert "FLEX is only for glueetl jobs" in caught.value.description
    assert "pythonshell jobs take max_capacity, not workers" in caught.value.description
    # Only what the run config sets is sent; the job's own values stay the job's.
    assert start_job_run_params(curated, GlueRunConfig(number_of_workers=4), "2026-11-02") == {
        "JobName": "curated",
        "Arguments": {"--partition_date": "2026-11-02"},
        "NumberOfWorkers": 4,
    }


def test_partitions_of_a_backfill_wait_for_a_slot_at_max_concurrent_runs(project, assets, local_aws):
    # curated allows one run at a time: two partitions at once, as a backfill launches them. Each run
    # holds until released, so the second start is refused however the two threads are timed.
    settings, _ = project
    results: dict[str, tuple[dg.ExecuteInProcessResult, dg.DagsterInstance]] = {}
    release = f"release/{uuid.uuid4().hex}"
    arguments = {"--checks": json.dumps(PASSING), "--release_bucket": settings.bucket, "--release_key": release}

    # An in-memory instance each: two runs writing to one at once fail ("database table is locked").
    instances = {day: dg.DagsterInstance.ephemeral() for day in ("2026-11-07", "2026-11-08")}

    def run(day: str) -> None:
        results[day] = materialize(project, assets[:1], day, {"arguments": arguments}, instances[day]), instances[day]

    local_aws.reset_requests()
    threads = [threading.Thread(target=run, args=(day,)) for day in instances]
    for thread in threads:
        thread.start()
    wait_until(lambda: local_aws.requests().get("glue:StartJobRun", 0) >= 2, what="a second start while the first runs")
    AwsClients.connect(settings).s3.put_object(Bucket=settings.bucket, Key=release, Body=b"go")
    for thread in threads:
        thread.join(120)
    assert all(result.success for result, _ in results.values())
    logs = [entry.user_message for result, instance in results.values() for entry in instance.all_logs(result.run_id)]
    assert any("MaxConcurrentRuns; retrying" in message for message in logs)


def test_the_schedule_materializes_yesterdays_partition_of_the_groups_job(project):
    from glue_pipes_project.definitions import defs

    repository = defs().get_repository_def()
    job = repository.get_job("orders_job")
    assert job.partitions_def == dg.DailyPartitionsDefinition(start_date="2026-11-01")
    # This module's two jobs join the project's orders pipeline in group orders.
    pipeline = {"raw_orders", "orders_curated", "orders_daily_summary"}
    assert {key.to_user_string() for key in job.asset_layer.selected_asset_keys} == {"curated", "summary", *pipeline}
    schedule = repository.get_schedule_def("orders_schedule")
    assert schedule.cron_schedule == "0 0 * * *"
    tick = datetime.datetime(2026, 11, 20, 0, 0, tzinfo=datetime.UTC)
    (request,) = schedule.evaluate_tick(dg.build_schedule_context(scheduled_execution_time=tick)).run_requests
    assert (request.partition_key, request.job_name) == ("2026-11-19", "orders_job")

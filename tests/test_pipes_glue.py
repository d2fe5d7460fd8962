"""Our Glue Pipes client beside dagster-aws's, on the same local endpoint and the same Glue jobs.

Each test shows one behaviour of ours; where the point is a difference from upstream, the same
scenario runs against dagster-aws's ``PipesGlueClient`` and the test asserts the difference, so a
fix can be deleted the day upstream ships it.
"""

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from dagster_aws.pipes import (
    PipesCloudWatchMessageReader,
    PipesGlueClient,
    PipesS3ContextInjector,
    PipesS3MessageReader,
)

from glue_pipes_local_aws.glue import log_shipper
from glue_pipes_project.aws import AwsClients
from glue_pipes_project.pipes.client import Backoff, GlueRunPolicy
from glue_pipes_project.pipes.readers import CLOUDWATCH_EVENT_MAX_BYTES
from glue_pipes_project.resources import GluePipesClientResource
from tests.helpers import deployed_test_jobs, shared_instance, wait_until

MESSAGE = re.compile(r"^message (\d+)$")
STEP_ENDS = {"STEP_SUCCESS", "STEP_FAILURE"}
PREFIX = "pipes-"
# Most of these tests wait on Glue runs and on upstream's fixed polls: spread through the session.
pytestmark = pytest.mark.waits


@pytest.fixture(scope="session")  # lives on the worker: these tests are spread between other modules
def settings(local_aws):
    return deployed_test_jobs(local_aws, PREFIX, "pipes-tests")


@pytest.fixture
def glue(local_aws):
    return local_aws.client("glue")


@pytest.fixture
def release(local_aws, settings):
    """Arguments that make hold.py wait, and a function that lets it finish."""
    key = f"release/{uuid.uuid4().hex}"
    s3 = local_aws.client("s3")
    arguments = {"--release-bucket": settings.bucket, "--release-key": key}
    return arguments, lambda: s3.put_object(Bucket=settings.bucket, Key=key, Body=b"go")


def ours(settings, reader: str = "cloudwatch", **fields: Any) -> GluePipesClientResource:
    return GluePipesClientResource(settings=settings, message_reader=reader, **fields)


def upstream(settings, reader: str = "cloudwatch", glue_client: Any = None) -> PipesGlueClient:
    clients = AwsClients.connect(settings)
    message_reader = (
        PipesCloudWatchMessageReader(client=clients.logs)
        if reader == "cloudwatch"
        else PipesS3MessageReader(bucket=settings.bucket, client=clients.s3, interval=1)
    )
    return PipesGlueClient(
        client=glue_client or clients.glue,
        context_injector=PipesS3ContextInjector(bucket=settings.bucket, client=clients.s3),
        message_reader=message_reader,
    )


def glue_asset(job: str, arguments: dict[str, str] | None = None, sink: dict | None = None, **asset_kwargs: Any):
    """An asset like the project's: runs one Glue job and returns what the script reported."""

    @dg.asset(name="glue_step", **asset_kwargs)
    def glue_step(context: dg.AssetExecutionContext, glue_pipes_client: PipesGlueClient):
        invocation = glue_pipes_client.run(
            context=context, start_job_run_params={"JobName": PREFIX + job, "Arguments": dict(arguments or {})}
        )
        if sink is not None:
            sink["custom_messages"] = invocation.get_custom_messages()
        return invocation.get_materialize_result()

    return glue_step


def materialize(asset, client, instance=None):
    """Materialize with ``client`` as ``glue_pipes_client``; ``result.logs`` holds the run's log lines."""
    return materialize_all([asset], client, instance)


def materialize_all(assets, client, instance=None):
    instance = instance or shared_instance()
    result = dg.materialize(assets, resources={"glue_pipes_client": client}, instance=instance, raise_on_error=False)
    result.logs = [entry.user_message for entry in instance.all_logs(result.run_id)]
    return result


def in_thread(fn: Callable[[], Any]) -> tuple[threading.Thread, dict]:
    box: dict = {}
    thread = threading.Thread(target=lambda: box.setdefault("result", fn()), daemon=True)
    thread.start()
    return thread, box


def first_log_seen(instance: dg.DagsterInstance, text: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for run in instance.get_runs():
            if any(text in (entry.user_message or "") for entry in instance.all_logs(run.run_id)):
                return True
        time.sleep(0.05)
    return False


def runs_of(glue, job: str) -> list[dict]:
    return glue.get_job_runs(JobName=PREFIX + job)["JobRuns"]


def wait_for_state(glue, job: str, states: set[str], timeout: float = 20) -> dict:
    def reached() -> dict | None:
        return next((r for r in runs_of(glue, job) if r["JobRunState"] in states), None)

    return wait_until(reached, timeout, f"a run of {job} to reach {sorted(states)}")


# -- live -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("reader", ["cloudwatch", "s3"])
def test_logs_reach_dagster_while_the_job_runs(settings, release, glue, reader, tmp_path):
    arguments, let_go = release
    arguments = {**arguments, "--writer": "s3" if reader == "s3" else "stdout"}
    with dg.instance_for_test() as instance:
        thread, box = in_thread(lambda: materialize(glue_asset("hold", arguments), ours(settings, reader), instance))
        seen_live = first_log_seen(instance, "first log written at", timeout=20)
        state_when_seen = runs_of(glue, "hold")[0]["JobRunState"]
        let_go()
        thread.join(60)
    assert seen_live and state_when_seen == "RUNNING"
    assert box["result"].success
    if reader == "s3":
        return  # upstream's S3 reader polls during the run too (every 1-2 s): live, only slower

    arguments = {**arguments, "--release-key": arguments["--release-key"] + "-upstream"}
    with dg.instance_for_test() as instance:
        client = upstream(settings, reader)
        thread, box = in_thread(lambda: materialize(glue_asset("hold", arguments), client, instance))
        wait_for_state(glue, "hold", {"RUNNING"})
        seen_live = first_log_seen(instance, "first log written at", timeout=3)
        AwsClients.connect(settings).s3.put_object(
            Bucket=arguments["--release-bucket"], Key=arguments["--release-key"], Body=b"go"
        )
        thread.join(90)
    assert not seen_live, "upstream delivered a log while the job ran: the live fix may be obsolete"


# -- lossless -------------------------------------------------------------------------------------


@pytest.mark.parametrize("reader", ["cloudwatch", "s3"])
def test_every_message_arrives_exactly_once_across_pages_and_chunks(settings, reader):
    # 21,000 lines are three GetLogEvents pages; five bursts are five S3 chunks or more.
    count = 21_000
    arguments = {"--count": str(count), "--bursts": "5", "--writer": "s3" if reader == "s3" else "stdout"}
    sink: dict = {}
    assert materialize(glue_asset("many", arguments, sink), ours(settings, reader)).success
    received = list(sink["custom_messages"])
    assert len(received) == count and sorted(received) == list(range(count))
    if reader == "s3":
        return  # upstream's S3 reader is lossless at this size; the benchmark compares it at 100,000

    upstream_sink: dict = {}
    assert materialize(glue_asset("many", arguments, upstream_sink), upstream(settings, reader)).success
    delivered = upstream_sink["custom_messages"]
    # Upstream reads without startFromHead: its first page is the stream's tail, the head is lost.
    assert len(delivered) < count and min(delivered) > 0, "upstream reads the head now: drop CloudWatchTail"


def step_end_index(entries: list) -> int:
    return next(i for i, e in enumerate(entries) if e.dagster_event and e.dagster_event.event_type_value in STEP_ENDS)


def test_a_burst_that_takes_longer_to_store_than_to_write_arrives_in_full_before_the_step_ends(settings, tmp_path):
    # A SQLite instance stores a few hundred events per second: the script writes the burst in well
    # under a second and the step delivers it for several more, longer than the stall window.
    count = 1500
    client = ours(settings, reader_stall_seconds=3.0, drain_progress_seconds=0.2)
    threads_before = set(threading.enumerate())
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        result = materialize(glue_asset("many", {"--count": str(count), "--kind": "log"}), client, instance)
        entries = instance.all_logs(result.run_id)
        leftover = [t for t in threading.enumerate() if t not in threads_before and "local-aws" not in t.name]
    assert result.success, result.get_step_failure_events()
    end = step_end_index(entries)
    before_end = [e for e in entries[:end] if MESSAGE.match(e.user_message or "")]
    assert len(before_end) == count
    assert not [e for e in entries[end:] if MESSAGE.match(e.user_message or "")], "events after the step ended"
    assert not leftover, "a reader thread outlived its step"
    (materialization,) = result.asset_materializations_for_node("glue_step")
    assert materialization.metadata["sent"].value == count  # the script's own, not an implicit one
    assert any("still draining" in (e.user_message or "") for e in entries[:end])


def test_a_script_that_never_closes_pipes_fails_the_step_instead_of_an_implicit_success(settings, tmp_path):
    client = ours(settings, log_settle_seconds=0.5)
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        result = materialize(glue_asset("lossy", {"--exit-without-closing": "yes"}), client, instance)
    assert not result.success
    (failure,) = result.get_step_failure_events()
    text = failure.step_failure_data.user_failure_data.description
    assert "never closed Dagster Pipes" in text and "incomplete" in text
    assert not result.asset_materializations_for_node("glue_step")
    assert any("lossy job started" in m for m in result.logs)


@pytest.mark.parametrize("reader", ["cloudwatch", "s3"])
def test_a_message_over_cloudwatchs_event_limit_fails_the_step_and_names_the_fixes(settings, reader, tmp_path):
    assert log_shipper.MAX_EVENT_BYTES == CLOUDWATCH_EVENT_MAX_BYTES  # the local endpoint cuts where AWS does
    size = 300_000
    arguments = {"--metadata-bytes": str(size), "--writer": "s3" if reader == "s3" else "stdout"}
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        result = materialize(glue_asset("lossy", arguments), ours(settings, reader), instance)
    if reader == "s3":  # the fix the message names: S3 chunks have no such limit
        assert result.success
        (materialization,) = result.asset_materializations_for_node("glue_step")
        assert len(materialization.metadata["payload"].value) == size
        return
    assert not result.success
    (failure,) = result.get_step_failure_events()
    text = failure.step_failure_data.user_failure_data.description
    assert "256 KB event size limit" in text and "glue_pipes_s3_client" in text and "smaller metadata" in text
    assert not result.asset_materializations_for_node("glue_step")


def test_readers_that_stop_making_progress_fail_the_step_instead_of_hanging_it(settings, release):
    arguments, let_go = release
    let_go()
    client = ours(settings, reader_stall_seconds=1.0).create_resource(dg.build_init_resource_context())
    # Every GetLogEvents call hangs, as against an endpoint that stopped answering.
    unblock = threading.Event()
    client._logs.meta.events.register("before-call.logs.GetLogEvents", lambda **_: unblock.wait(60))  # noqa: SLF001
    try:
        result = materialize(glue_asset("hold", arguments), client)
    finally:
        unblock.set()
    assert not result.success
    text = result.get_step_failure_events()[0].step_failure_data.user_failure_data.description
    assert "stalled: no progress for 1 s after the run ended" in text


def test_an_aws_call_pending_for_long_is_reported_in_the_steps_log(local_aws, settings):
    # Throttled three times in a row, botocore backs one GetJobRun off for seconds.
    local_aws.inject_fault("glue:GetJobRun", "ThrottlingException", count=3)
    try:
        result = materialize(glue_asset("many", {"--count": "1"}), ours(settings, slow_aws_call_warning_seconds=0.2))
    finally:
        local_aws.clear_faults()
    assert result.success
    assert any("Still waiting for AWS to answer GetJobRun after 0.2 s" in m for m in result.logs)


def test_one_client_runs_jobs_in_a_row_without_mixing_their_messages_or_leaving_threads(settings, release):
    arguments, let_go = release
    let_go()
    threads_before = set(threading.enumerate())

    def step(name: str, **kwargs: Any):
        @dg.asset(name=name, **kwargs)
        def run_hold(context: dg.AssetExecutionContext, glue_pipes_client: PipesGlueClient):
            params = {"JobName": PREFIX + "hold", "Arguments": arguments}
            return glue_pipes_client.run(context=context, start_job_run_params=params).get_materialize_result()

        return run_hold

    # One run, in-process executor: both steps share one client and one message reader.
    result = materialize_all([step("first"), step("second", deps=["first"])], ours(settings))
    assert result.success
    run_ids = {
        node: result.asset_materializations_for_node(node)[0].metadata["AWS Glue Job Run ID"].value
        for node in ("first", "second")
    }
    assert run_ids["first"] != run_ids["second"]
    assert sum("first log written at" in m for m in result.logs) == 2  # one per step, none replayed
    time.sleep(0.5)
    assert not [t for t in threading.enumerate() if t not in threads_before and "local-aws" not in t.name]


# -- diagnosable ----------------------------------------------------------------------------------


def test_a_failed_run_forwards_its_logs_and_fails_with_state_traceback_and_links(settings, release):
    arguments, let_go = release
    let_go()
    arguments = {**arguments, "--raise": "orders table is empty"}
    result = materialize(glue_asset("hold", arguments), ours(settings))
    assert not result.success
    (failure,) = result.get_step_failure_events()
    data = failure.step_failure_data
    text = data.user_failure_data.description
    assert "ended FAILED" in text and "RuntimeError: orders table is empty" in text
    assert "Traceback (most recent call last):" in text and 'raise RuntimeError(args["--raise"])' in text
    assert data.user_failure_data.metadata["AWS Glue Job Run State"].value == "FAILED"
    assert "#logsV2:log-groups/log-group/$252Faws-glue$252Fjobs$252Ferror/log-events/jr_" in text
    assert any("first log written at" in m for m in result.logs)

    upstream_result = materialize(glue_asset("hold", arguments), upstream(settings))
    upstream_text = upstream_result.get_step_failure_events()[0].step_failure_data.error.to_string()
    assert "Traceback (most recent call last):" not in upstream_text.split("Stack Trace:")[0]
    assert not any("first log written at" in m for m in upstream_result.logs)


def test_timeout_fails_with_the_state_and_the_error_message(settings, release):
    arguments, _ = release  # never released: the run outlives its one-minute Timeout
    result = materialize(glue_asset("hold_one_minute", arguments), ours(settings, log_settle_seconds=0.5))
    (failure,) = result.get_step_failure_events()
    text = failure.step_failure_data.user_failure_data.description
    assert "ended TIMEOUT" in text and "timeout" in text.lower().split("ended timeout", 1)[1]


# -- prompt ---------------------------------------------------------------------------------------


def test_polling_starts_fast_and_backs_off_to_a_cap():
    policy = GlueRunPolicy()
    first = [round(w, 3) for _, w in zip(range(12), policy.poll.intervals(), strict=False)]
    assert first[0] <= 0.2 and first == sorted(first)
    assert max(first) == policy.poll.maximum_seconds == 5.0
    assert list(zip(range(3), Backoff(1, 4).intervals(), strict=False)) == [(0, 1), (1, 2), (2, 4)]


def test_polling_sees_a_short_run_end_where_upstream_sleeps_5_s(local_aws, settings, release):
    arguments, _ = release
    # Never released: the run holds 1.5 s after its start-up, however fast or loaded the machine is.
    arguments = {**arguments, "--hold-seconds": "1.5"}
    local_aws.reset_requests()
    assert materialize(glue_asset("hold", arguments), ours(settings)).success
    ours_polls = local_aws.requests()["glue:GetJobRun"]
    local_aws.reset_requests()
    assert materialize(glue_asset("hold", arguments), upstream(settings)).success
    upstream_polls = local_aws.requests()["glue:GetJobRun"]
    # Upstream: one call after starting, one at once in its loop, the next 5 s later (the end).
    assert upstream_polls == 3
    # Ours: 0.1 s apart at first, backing off by 1.5x: about six polls in the run's 1.5 s.
    assert ours_polls >= 4


@pytest.mark.parametrize("state", ["EXPIRED", "ERROR"])
def test_every_terminal_state_ends_the_wait(local_aws, settings, release, glue, state):
    arguments, _ = release
    client = ours(settings, log_settle_seconds=0.5)
    thread, box = in_thread(lambda: materialize(glue_asset("hold", arguments), client))
    job_run = wait_for_state(glue, "hold", {"RUNNING"})
    local_aws.set_run_state(job_run["Id"], state)
    thread.join(30)
    assert not thread.is_alive()
    text = box["result"].get_step_failure_events()[0].step_failure_data.user_failure_data.description
    assert f"ended {state}" in text


def test_upstream_keeps_waiting_on_an_expired_run(local_aws, settings, release, glue):
    arguments, _ = release
    # What each of upstream's GetJobRun calls answered. (Whether its thread is still alive says nothing:
    # after any end, upstream's reader keeps the step open 10 s more.)
    answered: list[str] = []
    upstream_glue = AwsClients.connect(settings).glue
    upstream_glue.meta.events.register(
        "after-call.glue.GetJobRun", lambda parsed, **_: answered.append(parsed["JobRun"]["JobRunState"])
    )
    client = upstream(settings, glue_client=upstream_glue)
    thread, box = in_thread(lambda: materialize(glue_asset("hold", arguments), client))
    job_run = wait_for_state(glue, "hold", {"RUNNING"})
    local_aws.set_run_state(job_run["Id"], "EXPIRED")
    # Upstream polls every 5 s: a second EXPIRED answer means the first one did not end its wait.
    polled_on = "upstream to poll again after EXPIRED; if it stopped, it treats EXPIRED as terminal: drop our fix"
    wait_until(lambda: answered.count("EXPIRED") >= 2, timeout=15, what=polled_on)
    local_aws.set_run_state(job_run["Id"], "FAILED")  # let upstream's loop end
    thread.join(30)


# -- resilient ------------------------------------------------------------------------------------


def test_throttled_glue_and_cloudwatch_calls_are_retried(local_aws, settings):
    # botocore's standard retry mode (aws.py) backs off on throttling for every Glue and CloudWatch
    # call. Upstream's default client retries too (legacy mode, 4 retries): no difference to assert.
    local_aws.inject_fault("glue:GetJobRun", "ThrottlingException", count=3)
    local_aws.inject_fault("logs:GetLogEvents", "ThrottlingException", count=3)
    local_aws.reset_requests()
    result = materialize(glue_asset("many", {"--count": "10"}), ours(settings))
    local_aws.clear_faults()
    assert result.success
    requests = local_aws.requests()
    assert requests["glue:GetJobRun"] >= 4 and requests["logs:GetLogEvents"] >= 4


def test_concurrent_runs_exceeded_is_retried_until_a_slot_frees(local_aws, settings, release, glue):
    arguments, let_go = release
    local_aws.reset_requests()
    blocker = glue.start_job_run(JobName=PREFIX + "hold_one_at_a_time", Arguments=arguments)["JobRunId"]

    def free_the_slot_once_refused() -> None:  # not on a timer: a slow start would find the slot free
        deadline = time.monotonic() + 60
        while local_aws.requests()["glue:StartJobRun"] < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        let_go()

    threading.Thread(target=free_the_slot_once_refused, daemon=True).start()
    result = materialize(glue_asset("hold_one_at_a_time", arguments), ours(settings))
    assert result.success
    assert any("MaxConcurrentRuns; retrying" in m for m in result.logs)
    assert (
        glue.get_job_run(JobName=PREFIX + "hold_one_at_a_time", RunId=blocker)["JobRun"]["JobRunState"] == "SUCCEEDED"
    )


def test_concurrent_runs_exceeded_fails_clearly_after_the_deadline_and_upstream_fails_at_once(settings, release, glue):
    arguments, let_go = release
    glue.start_job_run(JobName=PREFIX + "hold_one_at_a_time", Arguments=arguments)
    try:
        result = materialize(glue_asset("hold_one_at_a_time", arguments), ours(settings, start_retry_timeout_seconds=3))
        text = result.get_step_failure_events()[0].step_failure_data.user_failure_data.description
        assert "MaxConcurrentRuns" in text and "still refused after 3 s" in text

        upstream_result = materialize(glue_asset("hold_one_at_a_time", arguments), upstream(settings))
        error = upstream_result.get_step_failure_events()[0].step_failure_data.error.to_string()
        assert "ConcurrentRunsExceededException" in error
    finally:
        let_go()


@pytest.mark.parametrize("reader", ["cloudwatch", "s3"])
def test_a_retried_step_attaches_to_the_run_its_first_attempt_started(settings, release, glue, reader):
    arguments, let_go = release
    arguments = {**arguments, "--writer": "s3" if reader == "s3" else "stdout"}
    before = {r["Id"] for r in runs_of(glue, "hold")}

    @dg.asset(name="glue_step", retry_policy=dg.RetryPolicy(max_retries=1))
    def glue_step(context: dg.AssetExecutionContext, glue_pipes_client: PipesGlueClient):
        params = {"JobName": PREFIX + "hold", "Arguments": arguments}
        if context.retry_number == 0:
            # The first attempt dies after its Glue run started, the way a lost step worker does
            # (its client keeps running in a thread, as a lost worker's Glue run keeps running).
            lost_worker = ours(settings, reader).create_resource(dg.build_init_resource_context())
            threading.Thread(target=lambda: lost_worker.run(context=context, start_job_run_params=params)).start()
            wait_for_state(glue, "hold", {"RUNNING"})
            threading.Timer(1.0, let_go).start()
            raise RuntimeError("step worker lost")
        return glue_pipes_client.run(context=context, start_job_run_params=params).get_materialize_result()

    result = materialize(glue_step, ours(settings, reader))
    assert result.success
    new_runs = [r for r in runs_of(glue, "hold") if r["Id"] not in before]
    assert len(new_runs) == 1, "the retry started a duplicate Glue run"
    (materialization,) = result.asset_materializations_for_node("glue_step")
    assert materialization.metadata["released"].value is True
    assert materialization.metadata["AWS Glue Job Run ID"].value == new_runs[0]["Id"]
    assert any("Attaching to Glue job" in m for m in result.logs)


# -- stops ----------------------------------------------------------------------------------------


def run_in_own_process(
    settings, tmp_path: Path, job: str, arguments: dict[str, str], in_process: bool = False
) -> subprocess.Popen:
    """``dagster asset materialize`` of one Glue step, on a SQLite instance in ``tmp_path``.

    The step runs in a process of its own, as Dagster's default executor runs it; `in_process`: in the
    run worker's (half the CPU), for tests about a window in our client rather than how the signal gets there.
    """
    env = {
        **os.environ,
        "DAGSTER_HOME": str(tmp_path),
        "GLUE_PIPES_ENDPOINT_URL": settings.endpoint_url,
        "GLUE_PIPES_MANIFEST": settings.manifest_path,
        "GLUE_PIPES_JOB_PREFIX": PREFIX,
        "GLUE_PIPES_S3_PREFIX": settings.s3_prefix,
        "TEST_GLUE_JOB": PREFIX + job,
        "TEST_GLUE_ARGUMENTS": json.dumps(arguments),
    }
    command = [str(Path(sys.executable).parent / "dagster"), "asset", "materialize", "--select", "glue_step"]
    if in_process:
        command += ["--config-json", json.dumps({"execution": {"config": {"in_process": {}}}})]
    return subprocess.Popen(
        [*command, "-f", str(Path(__file__).parent / "glue_step_location.py")],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def run_with_release_key(glue, job: str, key: str) -> dict | None:
    return next((r for r in runs_of(glue, job) if r.get("Arguments", {}).get("--release-key") == key), None)


def test_terminating_the_dagster_run_stops_the_glue_run(settings, release, glue, tmp_path):
    arguments, _ = release
    process = run_in_own_process(settings, tmp_path, "hold", arguments)

    def running() -> dict | None:
        job_run = run_with_release_key(glue, "hold", arguments["--release-key"])
        return job_run if job_run and job_run["JobRunState"] == "RUNNING" else None

    job_run = wait_until(running, 60, "the Glue run to run")
    time.sleep(0.3)
    process.send_signal(signal.SIGINT)  # what `dagster` does to a run worker on termination
    process.wait(60)
    assert glue.get_job_run(JobName=PREFIX + "hold", RunId=job_run["Id"])["JobRun"]["JobRunState"] == "STOPPED"
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        (run,) = instance.get_runs()
        logs = [entry.user_message for entry in instance.all_logs(run.run_id)]
    assert any(f"run {job_run['Id']} is STOPPED" in m for m in logs)


def test_terminating_while_the_first_get_job_run_is_throttled_stops_the_glue_run(
    local_aws, settings, release, glue, tmp_path
):
    # Throttled, botocore backs the first GetJobRun off for seconds: the run id exists, but the
    # client has not reported the launch yet.
    arguments, _ = release
    throttles = 5
    local_aws.inject_fault("glue:GetJobRun", "ThrottlingException", count=throttles)
    local_aws.reset_requests()
    try:
        process = run_in_own_process(settings, tmp_path, "hold", arguments, in_process=True)
        # The run first (a GetJobRun counted before it would be another test's), then a GetJobRun.
        wait_until(lambda: run_with_release_key(glue, "hold", arguments["--release-key"]), 60, "the run to start")
        wait_until(lambda: local_aws.requests().get("glue:GetJobRun"), 60, "the first GetJobRun")
        get_job_run_calls = local_aws.requests()["glue:GetJobRun"]
        process.send_signal(signal.SIGINT)
    finally:
        local_aws.clear_faults()
    assert get_job_run_calls < throttles, "GetJobRun answered before the interrupt: not the window under test"
    process.wait(60)
    job_run = run_with_release_key(glue, "hold", arguments["--release-key"])
    assert job_run is not None
    assert glue.get_job_run(JobName=PREFIX + "hold", RunId=job_run["Id"])["JobRun"]["JobRunState"] == "STOPPED"


def test_terminating_while_start_job_run_is_in_flight_stops_the_run_it_started(
    local_aws, settings, release, glue, tmp_path
):
    # Glue starts the run, but its answer is late: the client is interrupted without knowing the id.
    arguments, _ = release
    local_aws.delay_response("glue:StartJobRun", 20)
    try:
        process = run_in_own_process(settings, tmp_path, "hold", arguments, in_process=True)
        job_run = wait_until(
            lambda: run_with_release_key(glue, "hold", arguments["--release-key"]), 60, "the run to be started"
        )
        process.send_signal(signal.SIGINT)
        process.wait(60)
    finally:
        local_aws.clear_faults()
    state = glue.get_job_run(JobName=PREFIX + "hold", RunId=job_run["Id"])["JobRun"]["JobRunState"]
    assert state == "STOPPED"


def test_a_refused_stop_reports_glues_errors_where_upstream_raises_keyerror(settings, release, glue):
    arguments, let_go = release
    let_go()
    job = PREFIX + "hold"
    run_id = glue.start_job_run(JobName=job, Arguments=arguments)["JobRunId"]
    wait_for_state(glue, "hold", {"SUCCEEDED"})
    ours_client = ours(settings).create_resource(dg.build_init_resource_context())
    context = dg.build_asset_context()
    ours_client._stop(context, job, run_id)  # noqa: SLF001 - the stop path on its own

    with pytest.raises(KeyError, match="errors"):
        upstream(settings)._terminate_job_run(context=context, job_name=job, run_id=run_id)  # noqa: SLF001


# -- cost-aware, and the caller's params --------------------------------------------------------


def test_metadata_adds_execution_time_capacity_dpu_hours_and_cost(settings, release):
    arguments, let_go = release
    let_go()
    result = materialize(glue_asset("hold", arguments), ours(settings, dpu_hour_usd=0.5))
    (materialization,) = result.asset_materializations_for_node("glue_step")
    metadata = {key: value.value for key, value in materialization.metadata.items()}
    assert metadata["AWS Glue Worker Type"] == "G.1X" and metadata["AWS Glue Number of Workers"] == 2
    assert isinstance(metadata["AWS Glue Execution Time (s)"], int)
    # Two G.1X workers, billed for the one-minute minimum: 2 DPU x 1/60 h, at $0.50 per DPU-hour.
    assert metadata["AWS Glue DPU Hours"] == pytest.approx(2 / 60, abs=1e-6)
    assert metadata["AWS Glue Estimated Cost (USD)"] == pytest.approx(2 / 60 * 0.5, abs=1e-6)
    assert metadata["AWS Glue Job Run URL"].startswith("https://us-east-1.console.aws.amazon.com/gluestudio/")

    upstream_result = materialize(glue_asset("hold", arguments), upstream(settings))
    (upstream_materialization,) = upstream_result.asset_materializations_for_node("glue_step")
    assert "AWS Glue DPU Hours" not in upstream_materialization.metadata


def test_start_job_run_params_are_not_mutated(settings, release):
    arguments, let_go = release
    let_go()
    params = {"JobName": PREFIX + "hold", "Arguments": dict(arguments)}
    snapshot = {"JobName": params["JobName"], "Arguments": dict(params["Arguments"])}

    def asset_for(client_key: str):
        @dg.asset(name="glue_step")
        def glue_step(context: dg.AssetExecutionContext, glue_pipes_client: PipesGlueClient):
            return glue_pipes_client.run(context=context, start_job_run_params=params).get_materialize_result()

        return glue_step

    assert materialize(asset_for("ours"), ours(settings)).success
    assert params == snapshot
    assert materialize(asset_for("upstream"), upstream(settings)).success
    assert "--dagster-pipes-context" in params["Arguments"], "upstream stopped mutating: drop the copy"

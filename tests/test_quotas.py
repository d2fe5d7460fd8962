"""AWS's per-operation quotas on the local endpoint, and our readers living within them."""

import subprocess
import sys
import threading
import time
import urllib.error
from collections.abc import Iterator
from typing import Any

import dagster as dg
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from dagster_aws.pipes import PipesGlueClient

from glue_pipes_local_aws import LocalAWS
from glue_pipes_local_aws.traffic import QuotaTable
from glue_pipes_project.pipes.cloudwatch_tail import CloudWatchTail
from glue_pipes_project.resources import GluePipesClientResource
from tests.helpers import deployed_test_jobs

NO_RETRIES = Config(retries={"total_max_attempts": 1})
PREFIX = "quota-"


@pytest.fixture(scope="module")
def aws() -> Iterator[LocalAWS]:
    with LocalAWS() as endpoint:
        yield endpoint


@pytest.fixture
def quotas(aws: LocalAWS) -> Iterator[Any]:
    """Set quotas on the running endpoint for one test; off again afterwards."""
    aws.reset_requests()
    yield aws.control.set_quotas
    aws.control.clear_quotas()


def calls(operation: Any, count: int) -> list[ClientError | None]:
    """Make `count` calls back to back; the error each raised, or None."""
    outcomes: list[ClientError | None] = []
    for _ in range(count):
        try:
            operation()
            outcomes.append(None)
        except ClientError as error:
            outcomes.append(error)
    return outcomes


def test_a_burst_over_the_quota_is_throttled_as_cloudwatch_logs_throttles(aws: LocalAWS, quotas: Any) -> None:
    logs = aws.client("logs", config=NO_RETRIES)
    logs.create_log_group(logGroupName="/quota/burst")
    logs.create_log_stream(logGroupName="/quota/burst", logStreamName="s")
    quotas("logs:GetLogEvents=2")
    outcomes = calls(lambda: logs.get_log_events(logGroupName="/quota/burst", logStreamName="s"), 8)
    throttled = [error for error in outcomes if error is not None]
    # A burst gets at most a second's worth (2) plus what refills while it runs.
    assert len(throttled) >= 4 and outcomes[0] is None
    error = throttled[0]
    assert isinstance(error, logs.exceptions.ThrottlingException)
    assert error.response["Error"] == {"Code": "ThrottlingException", "Message": "Rate exceeded"}
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert aws.throttled() == {"logs:GetLogEvents": len(throttled)}
    assert aws.requests()["logs:GetLogEvents"] == 8  # throttled calls count as calls too
    assert aws.requests()["logs:CreateLogStream"] == 1  # an operation without a quota is never throttled


def test_glue_throttles_with_its_own_exception_class(aws: LocalAWS, quotas: Any) -> None:
    glue = aws.client("glue", config=NO_RETRIES)
    quotas("glue:GetJobRun=1")
    first, *rest = calls(lambda: glue.get_job_run(JobName="j", RunId="jr_0"), 4)
    assert isinstance(first, glue.exceptions.EntityNotFoundException)  # within the quota: Glue's own answer
    throttled = [error for error in rest if isinstance(error, glue.exceptions.ThrottlingException)]
    assert len(throttled) >= 2 and throttled[0].response["Error"]["Message"] == "Rate exceeded"


def test_calls_within_the_quota_are_never_throttled(aws: LocalAWS, quotas: Any) -> None:
    logs = aws.client("logs", config=NO_RETRIES)
    quotas("aws")
    assert calls(lambda: logs.describe_log_groups(limit=1), 20) == [None] * 20  # no quota
    assert calls(lambda: logs.get_log_events(logGroupName="/none", logStreamName="s"), 1)[0].response["Error"][
        "Code"
    ] == ("ResourceNotFoundException")  # one call is well within 25 per second
    assert aws.throttled() == {}


def test_quotas_are_per_region_as_aws_publishes_them(aws: LocalAWS, quotas: Any) -> None:
    quotas("aws")
    assert aws.control.quotas()["regional"]["logs:GetLogEvents"]["us-west-2"] == 10
    us_west = aws.client("logs", region="us-west-2", config=NO_RETRIES)
    us_east = aws.client("logs", region="us-east-1", config=NO_RETRIES)

    def get(client: Any) -> Any:
        return lambda: client.get_log_events(logGroupName="/none", logStreamName="s")

    assert sum(isinstance(e, us_west.exceptions.ThrottlingException) for e in calls(get(us_west), 15)) >= 1
    # us-west-2's calls do not use up us-east-1's budget (and us-east-1 allows 25 per second).
    assert not any(isinstance(e, us_east.exceptions.ThrottlingException) for e in calls(get(us_east), 15))


def test_quotas_can_be_set_cleared_and_are_validated_through_the_control_api(aws: LocalAWS, quotas: Any) -> None:
    assert aws.control.quotas() == {"enforced": False}
    quotas("aws,logs:GetLogEvents=3")
    table = aws.control.quotas()
    assert table["tps"]["logs:GetLogEvents"] == 3 and "logs:GetLogEvents" not in table["regional"]
    with pytest.raises(urllib.error.HTTPError) as invalid:
        quotas("GetLogEvents=fast")
    assert invalid.value.code == 400
    aws.control.clear_quotas()
    assert aws.control.quotas() == {"enforced": False}


def test_quota_specs_parse_as_documented() -> None:
    assert QuotaTable.parse("") is None and QuotaTable.parse("off") is None
    table = QuotaTable.parse("aws")
    assert table is not None
    assert (table.rate("logs:GetLogEvents", "us-east-1"), table.rate("logs:GetLogEvents", "eu-west-1")) == (25, 10)
    assert table.rate("logs:FilterLogEvents", "us-east-1") == 25 and table.rate("s3:GetObject", "us-east-1") is None
    only = QuotaTable.parse("glue:GetJobRun=2.5")
    assert only is not None and only.rate("glue:GetJobRun", "eu-west-1") == 2.5
    assert only.rate("logs:GetLogEvents", "us-east-1") is None
    for bad in ("aws,logs:GetLogEvents", "GetLogEvents=1", "logs:GetLogEvents=0"):
        with pytest.raises(ValueError, match="service:Operation=calls per second"):
            QuotaTable.parse(bad)


def test_serve_refuses_a_bad_quota_spec() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "glue_pipes_local_aws", "serve", "--port", "0", "--quotas", "nope"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 2 and "service:Operation=calls per second" in completed.stderr


# -- our readers under a quota ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def settings(aws: LocalAWS) -> Any:
    return deployed_test_jobs(aws, PREFIX, "quota-tests")


def test_a_throttled_read_reads_nothing_and_the_next_one_resumes_where_it_was(aws: LocalAWS) -> None:
    # As when botocore's retries are all throttled: the reader must not die, nor skip anything.
    logs = aws.client("logs", config=NO_RETRIES)
    logs.create_log_group(logGroupName="/quota/tail")
    logs.create_log_stream(logGroupName="/quota/tail", logStreamName="s")
    now_ms = int(time.time() * 1000)
    events = [{"timestamp": now_ms + n, "message": f"line {n}"} for n in range(3)]
    logs.put_log_events(logGroupName="/quota/tail", logStreamName="s", logEvents=events[:2])
    tail = CloudWatchTail(logs, "/quota/tail", "s")
    assert tail.read() == ["line 0", "line 1"]
    logs.put_log_events(logGroupName="/quota/tail", logStreamName="s", logEvents=events[2:])
    aws.inject_fault("logs:GetLogEvents", "ThrottlingException")
    assert tail.read() == []
    assert tail.read() == ["line 2"]


def materialize_many(settings: Any, count: int) -> dict[str, Any]:
    """One step running tests/glue_scripts/many.py; whether it succeeded and the messages it got."""
    outcome: dict[str, Any] = {}

    @dg.asset(name="many_messages")
    def many_messages(context: dg.AssetExecutionContext, glue_pipes_client: PipesGlueClient):
        arguments = {"--count": str(count), "--bursts": "4", "--pause": "0.5"}
        params = {"JobName": PREFIX + "many", "Arguments": arguments}
        invocation = glue_pipes_client.run(context=context, start_job_run_params=params)
        outcome["messages"] = invocation.get_custom_messages()
        return invocation.get_materialize_result()

    resource = GluePipesClientResource(settings=settings)
    result = dg.materialize([many_messages], resources={"glue_pipes_client": resource}, raise_on_error=False)
    return {**outcome, "success": result.success}


def test_concurrent_steps_under_a_tight_quota_lose_nothing_and_stay_within_it(
    aws: LocalAWS, settings: Any, quotas: Any
) -> None:
    # Three steps at once, under GetLogEvents' strictest published quota (us-west-2, eu-west-1, ...).
    quotas("logs:GetLogEvents=10")
    count, outcomes = 400, [{} for _ in range(3)]
    threads = [
        threading.Thread(target=lambda o=o: o.update(materialize_many(settings, count)), daemon=True) for o in outcomes
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert [o.get("success") for o in outcomes] == [True] * 3
    assert all(sorted(o["messages"]) == list(range(count)) for o in outcomes)
    calls, throttled = aws.requests()["logs:GetLogEvents"], aws.throttled().get("logs:GetLogEvents", 0)
    assert throttled <= 0.1 * calls, f"{throttled} of {calls} GetLogEvents calls were throttled"

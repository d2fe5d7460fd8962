"""Conformance of the local AWS endpoint: real boto3 clients against a real `LocalAWS`, no mocks."""

from __future__ import annotations

import io
import json
import os
import re
import socket
import textwrap
import time
import urllib.error
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster_pipes
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from glue_pipes_local_aws import LocalAWS
from tests.helpers import wait_until

TERMINAL = {"SUCCEEDED", "FAILED", "TIMEOUT", "STOPPED", "ERROR"}
MINUTE_SECONDS = 1.0  # an emulated Glue minute, so Timeout=1 means one second here
SLEEPER = """
import os, sys, time
print("pid", os.getpid(), flush=True)
time.sleep(300)
"""


# --- fixtures and helpers ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def aws() -> Iterator[LocalAWS]:
    with LocalAWS(minute_seconds=MINUTE_SECONDS) as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def bucket(aws: LocalAWS) -> str:
    name = f"glue-pipes-test-{uuid.uuid4().hex[:8]}"
    aws.client("s3").create_bucket(Bucket=name)
    return name


@pytest.fixture(scope="module")
def glue(aws: LocalAWS) -> Any:
    return aws.client("glue")


@pytest.fixture(scope="module")
def logs(aws: LocalAWS) -> Any:
    return aws.client("logs")


def upload(aws: LocalAWS, bucket: str, source: str, name: str = "script.py") -> str:
    key = f"{uuid.uuid4().hex[:8]}/{name}"
    aws.client("s3").put_object(Bucket=bucket, Key=key, Body=textwrap.dedent(source).encode())
    return f"s3://{bucket}/{key}"


def create_job(glue: Any, script_url: str, **definition: Any) -> str:
    name = definition.pop("Name", f"job-{uuid.uuid4().hex[:8]}")
    command = {"Name": "pythonshell", "ScriptLocation": script_url, **definition.pop("Command", {})}
    glue.create_job(Name=name, Role="arn:aws:iam::123456789012:role/glue", Command=command, **definition)
    return name


def run_job(aws: LocalAWS, bucket: str, glue: Any, source: str, timeout: float = 20.0, **start: Any) -> dict[str, Any]:
    """Create a job for `source`, run it to the end; returns the final JobRun."""
    name = create_job(glue, upload(aws, bucket, source))
    run_id = glue.start_job_run(JobName=name, **start)["JobRunId"]
    return wait_for_run(glue, name, run_id, timeout)


def wait_for_run(
    glue: Any, name: str, run_id: str, timeout: float = 20.0, states: set[str] = TERMINAL
) -> dict[str, Any]:
    def reached() -> dict[str, Any] | None:
        run = glue.get_job_run(JobName=name, RunId=run_id)["JobRun"]
        return run if run["JobRunState"] in states else None

    return wait_until(reached, timeout, f"run {run_id} to reach {sorted(states)}")


def log_lines(logs: Any, group: str, stream: str) -> list[str]:
    messages: list[str] = []
    kwargs: dict[str, Any] = {"logGroupName": group, "logStreamName": stream, "startFromHead": True}
    while True:
        page = logs.get_log_events(**kwargs)
        messages += [event["message"] for event in page["events"]]
        if page["nextForwardToken"] == kwargs.get("nextToken"):
            return messages
        kwargs["nextToken"] = page["nextForwardToken"]


def output_of(logs: Any, run: dict[str, Any]) -> list[str]:
    return log_lines(logs, f"{run['LogGroupName']}/output", run["Id"])


def pid_gone(pid: int) -> bool:
    """True once `pid` has exited: no such process, or a zombie whose threads have all ended."""
    try:
        status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    except (FileNotFoundError, ProcessLookupError):
        return True
    return status["State"].strip().startswith("Z") and status["Threads"].strip() == "1"


def pid_printed(logs: Any, group: str, run_id: str) -> int:
    def find() -> int | None:
        try:
            lines = log_lines(logs, group, run_id)
        except ClientError:
            return None
        return next((int(line.split()[1]) for line in lines if line.startswith("pid ")), None)

    return wait_until(find, what="the script to print its pid")


def error_code(raised: pytest.ExceptionInfo[ClientError]) -> str:
    return raised.value.response["Error"]["Code"]


# --- job definitions --------------------------------------------------------------------------


def test_create_and_get_job_returns_the_definition_with_glue_defaults(glue: Any) -> None:
    name = create_job(
        glue,
        "s3://bucket/script.py",
        Command={"PythonVersion": "3.9"},
        DefaultArguments={"--a": "1"},
        GlueVersion="3.0",
        Description="hello",
        Tags={"team": "data"},
    )
    job = glue.get_job(JobName=name)["Job"]
    assert job["Name"] == name
    assert job["Command"] == {
        "Name": "pythonshell",
        "ScriptLocation": "s3://bucket/script.py",
        "PythonVersion": "3.9",
    }
    assert job["DefaultArguments"] == {"--a": "1"}
    assert (job["GlueVersion"], job["Description"]) == ("3.0", "hello")
    assert job["Timeout"] == 2880
    assert job["ExecutionProperty"] == {"MaxConcurrentRuns": 1}
    assert job["MaxCapacity"] == 0.0625
    assert job["CreatedOn"] == job["LastModifiedOn"]
    assert abs(job["CreatedOn"].timestamp() - time.time()) < 60
    assert "Tags" not in job  # like Glue: tags only through GetTags


def test_create_existing_job_is_already_exists(glue: Any) -> None:
    name = create_job(glue, "s3://bucket/script.py")
    with pytest.raises(glue.exceptions.AlreadyExistsException) as raised:
        create_job(glue, "s3://bucket/other.py", Name=name)
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert glue.get_job(JobName=name)["Job"]["Command"]["ScriptLocation"] == "s3://bucket/script.py"


def test_missing_job_is_entity_not_found_as_aws_sends_it(glue: Any) -> None:
    with pytest.raises(glue.exceptions.EntityNotFoundException) as raised:
        glue.get_job(JobName="no-such-job")
    response = raised.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-errortype"] == "EntityNotFoundException"
    assert "no-such-job" in response["Error"]["Message"]


def test_invalid_definitions_are_rejected(glue: Any) -> None:
    with pytest.raises(glue.exceptions.InvalidInputException):
        create_job(glue, "s3://b/s.py", Command={"Name": "gluestreaming"})
    with pytest.raises(glue.exceptions.InvalidInputException):
        create_job(glue, "s3://b/s.py", WorkerType="G.1X", NumberOfWorkers=2)  # python shell
    with pytest.raises(glue.exceptions.InvalidInputException):
        create_job(
            glue,
            "s3://b/s.py",
            Command={"Name": "glueetl"},
            WorkerType="G.1X",
            NumberOfWorkers=2,
            MaxCapacity=2.0,
        )
    with pytest.raises(glue.exceptions.InvalidInputException):
        create_job(glue, "s3://b/s.py", Command={"Name": "glueetl"}, WorkerType="G.3X", NumberOfWorkers=2)


def test_update_job_replaces_the_definition_and_keeps_created_on_and_tags(aws: LocalAWS, glue: Any) -> None:
    name = create_job(glue, "s3://b/old.py", DefaultArguments={"--a": "1"}, Timeout=10, Tags={"k": "v"})
    before = glue.get_job(JobName=name)["Job"]
    time.sleep(0.01)
    update = {"Role": "role", "Command": {"Name": "pythonshell", "ScriptLocation": "s3://b/new.py"}}
    assert glue.update_job(JobName=name, JobUpdate=update)["JobName"] == name
    after = glue.get_job(JobName=name)["Job"]
    assert after["Command"]["ScriptLocation"] == "s3://b/new.py"
    assert "DefaultArguments" not in after  # omitted fields are reset, as in Glue
    assert after["Timeout"] == 2880
    assert after["CreatedOn"] == before["CreatedOn"]
    assert after["LastModifiedOn"] > before["LastModifiedOn"]
    arn = f"arn:aws:glue:{aws.region}:123456789012:job/{name}"
    assert glue.get_tags(ResourceArn=arn)["Tags"] == {"k": "v"}
    with pytest.raises(glue.exceptions.EntityNotFoundException):
        glue.update_job(JobName="no-such-job", JobUpdate=update)


def test_delete_job_and_delete_of_a_missing_job_succeed(glue: Any) -> None:
    name = create_job(glue, "s3://b/s.py")
    assert glue.delete_job(JobName=name)["JobName"] == name
    with pytest.raises(glue.exceptions.EntityNotFoundException):
        glue.get_job(JobName=name)
    assert glue.delete_job(JobName=name)["JobName"] == name


def test_batch_get_jobs_reports_found_and_missing(glue: Any) -> None:
    first, second = create_job(glue, "s3://b/1.py"), create_job(glue, "s3://b/2.py")
    response = glue.batch_get_jobs(JobNames=[first, "missing-job", second])
    assert [job["Name"] for job in response["Jobs"]] == [first, second]
    assert response["JobsNotFound"] == ["missing-job"]


def test_get_jobs_and_list_jobs_paginate(aws: LocalAWS) -> None:
    glue = aws.client("glue", region="eu-west-3")  # a region of its own: exactly these jobs
    names = sorted(
        create_job(glue, "s3://b/s.py", Name=f"page-{index}", Tags={"even": str(index % 2 == 0)}) for index in range(5)
    )
    pages, kwargs = [], {"MaxResults": 2}
    while True:
        response = glue.get_jobs(**kwargs)
        pages.append([job["Name"] for job in response["Jobs"]])
        if "NextToken" not in response:
            break
        kwargs["NextToken"] = response["NextToken"]
    assert pages == [names[0:2], names[2:4], names[4:5]]
    paginated = [
        job["Name"]
        for page in glue.get_paginator("get_jobs").paginate(PaginationConfig={"PageSize": 3})
        for job in page["Jobs"]
    ]
    assert paginated == names
    assert glue.list_jobs(Tags={"even": "True"})["JobNames"] == ["page-0", "page-2", "page-4"]
    with pytest.raises(glue.exceptions.InvalidInputException):
        glue.get_jobs(NextToken="not-a-token")
    default_glue = aws.client("glue")
    default_region_job = create_job(default_glue, "s3://b/s.py")
    default_region_jobs = [
        job["Name"] for page in default_glue.get_paginator("get_jobs").paginate() for job in page["Jobs"]
    ]
    assert default_region_job in default_region_jobs
    assert default_region_job not in paginated  # each region has its own jobs


def test_tags_through_get_tags_tag_and_untag(aws: LocalAWS, glue: Any) -> None:
    name = create_job(glue, "s3://b/s.py", Tags={"a": "1", "b": "2"})
    arn = f"arn:aws:glue:{aws.region}:123456789012:job/{name}"
    glue.tag_resource(ResourceArn=arn, TagsToAdd={"c": "3"})
    glue.untag_resource(ResourceArn=arn, TagsToRemove=["a"])
    assert glue.get_tags(ResourceArn=arn)["Tags"] == {"b": "2", "c": "3"}
    with pytest.raises(glue.exceptions.EntityNotFoundException):
        glue.get_tags(ResourceArn=f"arn:aws:glue:{aws.region}:123456789012:job/no-such-job")


def test_data_catalog_databases_tables_and_partitions_are_moto_s(glue: Any) -> None:
    """What a Spark job's catalog writes and the Dagster side's reads use, as the issue's acceptance does."""
    database, table = f"db_{uuid.uuid4().hex[:8]}", "orders_curated"
    glue.create_database(DatabaseInput={"Name": database})
    location = "s3://bucket/data/orders_curated/"
    columns = [{"Name": "order_id", "Type": "string"}, {"Name": "amount", "Type": "double"}]
    glue.create_table(
        DatabaseName=database,
        TableInput={
            "Name": table,
            "TableType": "EXTERNAL_TABLE",
            "PartitionKeys": [{"Name": "partition_date", "Type": "string"}],
            "StorageDescriptor": {"Columns": columns, "Location": location},
            "Parameters": {"classification": "parquet"},
        },
    )
    days = ("2026-11-01", "2026-11-02")
    created = glue.batch_create_partition(
        DatabaseName=database,
        TableName=table,
        PartitionInputList=[
            {
                "Values": [day],
                "StorageDescriptor": {"Columns": columns, "Location": f"{location}partition_date={day}/"},
            }
            for day in days
        ],
    )
    assert created.get("Errors", []) == []

    got = glue.get_table(DatabaseName=database, Name=table)["Table"]
    assert (got["DatabaseName"], got["StorageDescriptor"]["Location"]) == (database, location)
    assert got["PartitionKeys"] == [{"Name": "partition_date", "Type": "string"}]
    assert [column["Name"] for column in got["StorageDescriptor"]["Columns"]] == ["order_id", "amount"]
    partitions = glue.get_partitions(DatabaseName=database, TableName=table)["Partitions"]
    assert sorted(partition["Values"] for partition in partitions) == [[day] for day in days]
    second = glue.get_partitions(DatabaseName=database, TableName=table, Expression="partition_date = '2026-11-02'")
    assert [partition["Values"] for partition in second["Partitions"]] == [["2026-11-02"]]
    assert second["Partitions"][0]["StorageDescriptor"]["Location"] == f"{location}partition_date=2026-11-02/"


# --- job runs: API ----------------------------------------------------------------------------


def test_start_job_run_of_a_missing_job_is_entity_not_found(glue: Any) -> None:
    with pytest.raises(glue.exceptions.EntityNotFoundException):
        glue.start_job_run(JobName="no-such-job")


def test_get_job_run_of_a_missing_job_or_run_is_entity_not_found(aws: LocalAWS, bucket: str, glue: Any) -> None:
    name = create_job(glue, upload(aws, bucket, "print('hi')"))
    with pytest.raises(glue.exceptions.EntityNotFoundException):
        glue.get_job_run(JobName=name, RunId="jr_" + "0" * 64)
    with pytest.raises(glue.exceptions.EntityNotFoundException):
        glue.get_job_run(JobName="no-such-job", RunId="jr_" + "0" * 64)
    with pytest.raises(glue.exceptions.EntityNotFoundException):
        glue.get_job_runs(JobName="no-such-job")


def test_job_run_reports_glue_fields(aws: LocalAWS, bucket: str, glue: Any) -> None:
    name = create_job(
        glue,
        upload(aws, bucket, "print('hi')"),
        Command={"Name": "glueetl"},
        WorkerType="G.1X",
        NumberOfWorkers=2,
        GlueVersion="5.0",
        ExecutionClass="FLEX",
        Timeout=30,
    )
    run_id = glue.start_job_run(JobName=name, Arguments={"--x": "1"}, NumberOfWorkers=4, Timeout=7)["JobRunId"]
    assert re.fullmatch(r"jr_[0-9a-f]{64}", run_id)
    run = wait_for_run(glue, name, run_id)
    assert run["JobRunState"] == "SUCCEEDED", run
    assert (run["Id"], run["JobName"], run["Attempt"]) == (run_id, name, 0)
    assert run["Arguments"] == {"--x": "1"}
    assert (run["WorkerType"], run["NumberOfWorkers"], run["MaxCapacity"]) == ("G.1X", 4, 4.0)
    assert (run["Timeout"], run["GlueVersion"], run["ExecutionClass"]) == (7, "5.0", "FLEX")
    assert run["LogGroupName"] == "/aws-glue/jobs"
    assert run["StartedOn"] <= run["CompletedOn"] and run["LastModifiedOn"] == run["CompletedOn"]
    assert isinstance(run["ExecutionTime"], int)
    assert "ErrorMessage" not in run


def test_python_shell_run_reports_its_capacity_and_log_group(aws: LocalAWS, bucket: str, glue: Any) -> None:
    run = run_job(aws, bucket, glue, "print('hi')", MaxCapacity=1.0)
    assert (run["MaxCapacity"], run["LogGroupName"], run["Timeout"]) == (1.0, "/aws-glue/python-jobs", 2880)
    assert "WorkerType" not in run


def test_concurrent_runs_beyond_max_concurrent_runs_are_refused(aws: LocalAWS, bucket: str, glue: Any) -> None:
    name = create_job(glue, upload(aws, bucket, SLEEPER), ExecutionProperty={"MaxConcurrentRuns": 2})
    first = glue.start_job_run(JobName=name)["JobRunId"]
    second = glue.start_job_run(JobName=name)["JobRunId"]
    with pytest.raises(glue.exceptions.ConcurrentRunsExceededException):
        glue.start_job_run(JobName=name)
    glue.batch_stop_job_run(JobName=name, JobRunIds=[first])
    wait_for_run(glue, name, first)
    third = glue.start_job_run(JobName=name)["JobRunId"]  # a slot is free again
    glue.batch_stop_job_run(JobName=name, JobRunIds=[second, third])


def test_batch_stop_job_run_reports_submissions_and_errors(aws: LocalAWS, bucket: str, glue: Any) -> None:
    name = create_job(glue, upload(aws, bucket, SLEEPER), ExecutionProperty={"MaxConcurrentRuns": 2})
    finished = glue.start_job_run(JobName=name)["JobRunId"]
    glue.batch_stop_job_run(JobName=name, JobRunIds=[finished])
    wait_for_run(glue, name, finished)
    running = glue.start_job_run(JobName=name)["JobRunId"]
    unknown = "jr_" + "f" * 64
    response = glue.batch_stop_job_run(JobName=name, JobRunIds=[running, finished, unknown])
    assert response["SuccessfulSubmissions"] == [{"JobName": name, "JobRunId": running}]
    errors = {error["JobRunId"]: error for error in response["Errors"]}
    assert set(errors) == {finished, unknown}
    assert errors[finished]["JobName"] == name
    assert errors[finished]["ErrorDetail"]["ErrorCode"] == "InvalidInputException"
    assert "STOPPED" in errors[finished]["ErrorDetail"]["ErrorMessage"]
    assert errors[unknown]["ErrorDetail"]["ErrorCode"] == "EntityNotFoundException"
    assert wait_for_run(glue, name, running)["JobRunState"] == "STOPPED"


def test_get_job_runs_newest_first_and_paginated(aws: LocalAWS, bucket: str, glue: Any) -> None:
    name = create_job(glue, upload(aws, bucket, "print('hi')"), ExecutionProperty={"MaxConcurrentRuns": 3})
    run_ids = [glue.start_job_run(JobName=name)["JobRunId"] for _ in range(3)]
    first_page = glue.get_job_runs(JobName=name, MaxResults=2)
    second_page = glue.get_job_runs(JobName=name, MaxResults=2, NextToken=first_page["NextToken"])
    listed = [run["Id"] for run in first_page["JobRuns"] + second_page["JobRuns"]]
    assert listed == run_ids[::-1]
    assert "NextToken" not in second_page
    for run_id in run_ids:
        wait_for_run(glue, name, run_id)


def test_delete_job_stops_its_active_runs(aws: LocalAWS, bucket: str, glue: Any, logs: Any) -> None:
    name = create_job(glue, upload(aws, bucket, SLEEPER))
    run_id = glue.start_job_run(JobName=name)["JobRunId"]
    pid = pid_printed(logs, "/aws-glue/python-jobs/output", run_id)
    glue.delete_job(JobName=name)
    wait_until(lambda: pid_gone(pid), what="the deleted job's run to be killed")
    with pytest.raises(glue.exceptions.EntityNotFoundException):
        glue.get_job_run(JobName=name, RunId=run_id)


# --- job runs: what the script sees -----------------------------------------------------------


def test_argv_is_glue_s_with_merged_arguments(aws: LocalAWS, bucket: str, glue: Any, logs: Any) -> None:
    script = upload(aws, bucket, "import json, sys\nprint(json.dumps(sys.argv))", name="show_argv.py")
    name = create_job(
        glue,
        script,
        DefaultArguments={"--default": "d", "--overridden": "default", "--locked": "default"},
        NonOverridableArguments={"--locked": "locked"},
    )
    run_id = glue.start_job_run(JobName=name, Arguments={"--overridden": "run", "--locked": "run", "--extra": "e"})[
        "JobRunId"
    ]
    run = wait_for_run(glue, name, run_id)
    argv = json.loads(output_of(logs, run)[0])
    assert Path(argv[0]).name == "show_argv.py"
    assert argv[1] == "--JOB_ID" and re.fullmatch(r"j_[0-9a-f]{64}", argv[2])
    assert argv[3:] == [
        "--JOB_RUN_ID", run_id,
        "--JOB_NAME", name,
        "--default", "d",
        "--overridden", "run",
        "--locked", "locked",
        "--extra", "e",
    ]  # fmt: skip
    assert run["Arguments"] == {"--overridden": "run", "--locked": "run", "--extra": "e"}


def test_script_gets_the_endpoint_and_no_other_aws_settings(
    aws: LocalAWS, bucket: str, glue: Any, logs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Inherited, these would send the script elsewhere (AWS_PROFILE would break our own clients too).
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_REGION", "ap-south-1")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "secret")
    source = """
    import json, os, boto3
    print(json.dumps({k: v for k, v in os.environ.items() if k.startswith("AWS_")}))
    print(boto3.client("s3").list_objects_v2(Bucket=os.environ["BUCKET"])["KeyCount"] > 0)
    """
    monkeypatch.setenv("BUCKET", bucket)
    run = run_job(aws, bucket, glue, source)
    assert run["JobRunState"] == "SUCCEEDED", run
    environment, listed = output_of(logs, run)
    assert json.loads(environment) == {
        "AWS_ENDPOINT_URL": aws.endpoint_url,
        "AWS_DEFAULT_REGION": aws.region,
        "AWS_ACCESS_KEY_ID": aws.principals["glue-job"].access_key_id,
        "AWS_SECRET_ACCESS_KEY": aws.principals["glue-job"].secret_access_key,
    }
    assert listed == "True"  # plain boto3 inside the script reaches the endpoint's S3


def test_script_has_boto3_but_not_dagster_pipes(aws: LocalAWS, bucket: str, glue: Any, logs: Any) -> None:
    source = """
    import boto3, dateutil, jmespath, urllib3
    print("boto3", boto3.__version__)
    for module in ("dagster_pipes", "dagster", "yaml"):
        try:
            __import__(module)
            print(module, "importable")
        except ImportError:
            print(module, "missing")
    """
    run = run_job(aws, bucket, glue, source)
    assert run["JobRunState"] == "SUCCEEDED", run
    lines = output_of(logs, run)
    assert lines[0].startswith("boto3 1.")
    assert lines[1:] == ["dagster_pipes missing", "dagster missing", "yaml missing"]


def test_extra_py_files_put_py_and_zip_files_on_the_path(aws: LocalAWS, bucket: str, glue: Any, logs: Any) -> None:
    helper = upload(aws, bucket, "GREETING = 'hello from a .py'", name="helper.py")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("zipped_pkg/__init__.py", "GREETING = 'hello from a .zip'")
    zip_key = f"{uuid.uuid4().hex[:8]}/zipped.zip"
    aws.client("s3").put_object(Bucket=bucket, Key=zip_key, Body=archive.getvalue())
    pipes_zip = _dagster_pipes_zip(aws, bucket)
    source = """
    import helper, zipped_pkg, dagster_pipes
    print(helper.GREETING)
    print(zipped_pkg.GREETING)
    print(dagster_pipes.PipesCliArgsParamsLoader.__name__)
    """
    extra = f"{helper}, s3://{bucket}/{zip_key},{pipes_zip}"
    run = run_job(aws, bucket, glue, source, Arguments={"--extra-py-files": extra})
    assert run["JobRunState"] == "SUCCEEDED", run
    assert output_of(logs, run) == ["hello from a .py", "hello from a .zip", "PipesCliArgsParamsLoader"]


def _dagster_pipes_zip(aws: LocalAWS, bucket: str) -> str:
    """dagster_pipes as the project ships it to Glue: the installed package, zipped."""
    package = Path(dagster_pipes.__file__).parent
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        for path in package.rglob("*.py"):
            zipped.write(path, f"dagster_pipes/{path.relative_to(package)}")
    key = f"{uuid.uuid4().hex[:8]}/dagster_pipes.zip"
    aws.client("s3").put_object(Bucket=bucket, Key=key, Body=archive.getvalue())
    return f"s3://{bucket}/{key}"


def test_missing_script_fails_the_run_with_a_message(aws: LocalAWS, bucket: str, glue: Any) -> None:
    name = create_job(glue, f"s3://{bucket}/no/such/script.py")
    run = wait_for_run(glue, name, glue.start_job_run(JobName=name)["JobRunId"])
    assert run["JobRunState"] == "FAILED"
    assert "Could not fetch" in run["ErrorMessage"] and "404" in run["ErrorMessage"]


# --- job runs: output and outcome -------------------------------------------------------------


def test_large_output_never_blocks_and_all_of_it_reaches_the_output_stream(
    aws: LocalAWS, bucket: str, glue: Any, logs: Any
) -> None:
    source = """
    for number in range(100_000):
        print(f"line {number:06d} " + "x" * 40)
    """
    started = time.monotonic()
    run = run_job(aws, bucket, glue, source, timeout=60)
    assert run["JobRunState"] == "SUCCEEDED", run
    assert time.monotonic() - started < 30
    lines = output_of(logs, run)  # complete as soon as the run is SUCCEEDED
    assert len(lines) == 100_000
    assert lines[0].startswith("line 000000 ") and lines[-1].startswith("line 099999 ")
    assert all(line.startswith(f"line {number:06d} ") for number, line in enumerate(lines))


def test_a_run_ends_only_once_all_its_output_is_in_cloudwatch(aws: LocalAWS, bucket: str, glue: Any, logs: Any) -> None:
    # One big write just before exiting: most of it is still on its way when the process ends.
    source = """
    import sys
    sys.stdout.write("".join(f"line {number}\\n" for number in range(50_000)))
    raise ValueError("late")
    """
    name = create_job(glue, upload(aws, bucket, source))
    run_id = glue.start_job_run(JobName=name)["JobRunId"]
    deadline = time.monotonic() + 30
    while (run := glue.get_job_run(JobName=name, RunId=run_id)["JobRun"])["JobRunState"] not in TERMINAL:
        assert time.monotonic() < deadline  # no sleep: read the very moment the run ends
    tail = logs.get_log_events(logGroupName=f"{run['LogGroupName']}/output", logStreamName=run_id)["events"]
    assert "line 49999" in [event["message"] for event in tail]  # the last line was in already
    lines = output_of(logs, run)
    assert (run["JobRunState"], run["ErrorMessage"]) == ("FAILED", "ValueError: late")
    # stdout and stderr are separate pipes: the traceback may land anywhere among the lines.
    assert [line for line in lines if line.startswith("line ")] == [f"line {number}" for number in range(50_000)]
    assert "ValueError: late" in lines


def test_stderr_goes_to_output_and_error_streams(aws: LocalAWS, bucket: str, glue: Any, logs: Any) -> None:
    source = """
    import sys
    print("to stdout", flush=True)
    print("", flush=True)
    print("to stderr", file=sys.stderr, flush=True)
    """
    run = run_job(aws, bucket, glue, source)
    assert sorted(output_of(logs, run)) == ["to stderr", "to stdout"]  # the empty line is left out
    assert log_lines(logs, "/aws-glue/python-jobs/error", run["Id"]) == ["to stderr"]
    events = logs.get_log_events(
        logGroupName="/aws-glue/python-jobs/output", logStreamName=run["Id"], startFromHead=True
    )["events"]
    timestamps = [event["timestamp"] for event in events]
    assert timestamps == sorted(timestamps) and abs(timestamps[0] / 1000 - time.time()) < 60


def test_error_message_is_the_script_s_final_exception(aws: LocalAWS, bucket: str, glue: Any) -> None:
    source = """
    try:
        raise KeyError("first")
    except KeyError:
        raise ValueError("boom")
    """
    run = run_job(aws, bucket, glue, source)
    assert run["JobRunState"] == "FAILED"
    assert run["ErrorMessage"] == "ValueError: boom"
    assert "CompletedOn" in run


def test_error_message_falls_back_to_the_exit_code(aws: LocalAWS, bucket: str, glue: Any) -> None:
    run = run_job(aws, bucket, glue, "import sys\nsys.exit(3)")
    assert (run["JobRunState"], run["ErrorMessage"]) == ("FAILED", "Command failed with exit code 3")


def test_run_longer_than_its_timeout_ends_timeout(aws: LocalAWS, bucket: str, glue: Any, logs: Any) -> None:
    name = create_job(glue, upload(aws, bucket, SLEEPER), Timeout=1)
    started = time.monotonic()
    run_id = glue.start_job_run(JobName=name)["JobRunId"]
    pid = pid_printed(logs, "/aws-glue/python-jobs/output", run_id)
    run = wait_for_run(glue, name, run_id)
    assert run["JobRunState"] == "TIMEOUT"
    assert "timed out" in run["ErrorMessage"]
    assert MINUTE_SECONDS <= time.monotonic() - started < MINUTE_SECONDS + 10
    assert pid_gone(pid)


def test_stopped_run_streams_output_live_then_ends_stopped_and_its_process_is_gone(
    aws: LocalAWS, bucket: str, glue: Any, logs: Any
) -> None:
    name = create_job(glue, upload(aws, bucket, SLEEPER))
    run_id = glue.start_job_run(JobName=name)["JobRunId"]
    pid = pid_printed(logs, "/aws-glue/python-jobs/output", run_id)  # printed while RUNNING
    assert glue.get_job_run(JobName=name, RunId=run_id)["JobRun"]["JobRunState"] == "RUNNING"
    group = "/aws-glue/python-jobs/output"
    (event,) = logs.get_log_events(logGroupName=group, logStreamName=run_id)["events"]
    assert event["ingestionTime"] - event["timestamp"] < 500  # shipped as soon as it was read
    glue.batch_stop_job_run(JobName=name, JobRunIds=[run_id])
    assert glue.get_job_run(JobName=name, RunId=run_id)["JobRun"]["JobRunState"] in ("STOPPING", "STOPPED")
    run = wait_for_run(glue, name, run_id, timeout=10)
    assert run["JobRunState"] == "STOPPED"
    assert pid_gone(pid)


def test_stop_kills_a_script_that_ignores_sigterm(aws: LocalAWS, bucket: str, glue: Any, logs: Any) -> None:
    source = """
    import os, signal, time
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    print("pid", os.getpid(), flush=True)
    time.sleep(300)
    """
    name = create_job(glue, upload(aws, bucket, source))
    run_id = glue.start_job_run(JobName=name)["JobRunId"]
    pid = pid_printed(logs, "/aws-glue/python-jobs/output", run_id)
    glue.batch_stop_job_run(JobName=name, JobRunIds=[run_id])
    assert wait_for_run(glue, name, run_id, timeout=15)["JobRunState"] == "STOPPED"
    assert pid_gone(pid)


def test_processes_left_behind_by_a_finished_script_are_killed(
    aws: LocalAWS, bucket: str, glue: Any, logs: Any
) -> None:
    source = """
    import subprocess
    child = subprocess.Popen(["sleep", "300"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    print("pid", child.pid, flush=True)
    """
    run = run_job(aws, bucket, glue, source)
    assert run["JobRunState"] == "SUCCEEDED", run
    pid = int(output_of(logs, run)[0].split()[1])
    wait_until(lambda: pid_gone(pid), timeout=5, what="the script's child to be killed")


def test_stopping_the_endpoint_stops_its_runs(bucket: str) -> None:
    with LocalAWS() as aws:
        glue, logs = aws.client("glue"), aws.client("logs")
        name = create_job(glue, upload(aws, bucket, SLEEPER))
        run_id = glue.start_job_run(JobName=name)["JobRunId"]
        pid = pid_printed(logs, "/aws-glue/python-jobs/output", run_id)
        started = time.monotonic()
    assert time.monotonic() - started < 10
    assert pid_gone(pid)


# --- control API ------------------------------------------------------------------------------


def test_health_names_the_service(aws: LocalAWS) -> None:
    health = aws.control.health()
    assert health == {"service": "glue-pipes-local-aws", "pid": os.getpid(), "endpoint_url": aws.endpoint_url}
    assert aws.endpoint_url.startswith("http://127.0.0.1:")


def test_requests_are_counted_per_operation_excluding_the_endpoint_s_own(aws: LocalAWS, bucket: str, glue: Any) -> None:
    s3 = aws.client("s3")
    script = upload(aws, bucket, "print('counted')")
    name = create_job(glue, script)
    aws.reset_requests()
    s3.put_object(Bucket=bucket, Key="counted.txt", Body=b"x")
    s3.get_object(Bucket=bucket, Key="counted.txt")
    s3.head_object(Bucket=bucket, Key="counted.txt")
    s3.list_objects_v2(Bucket=bucket)
    s3.create_bucket(Bucket=f"counted-{uuid.uuid4().hex[:8]}")
    run_id = glue.start_job_run(JobName=name)["JobRunId"]
    polls = 0
    while glue.get_job_run(JobName=name, RunId=run_id)["JobRun"]["JobRunState"] not in TERMINAL:
        polls += 1
    aws.client("logs").get_log_events(logGroupName="/aws-glue/python-jobs/output", logStreamName=run_id)
    assert aws.requests() == {
        "s3:PutObject": 1,
        "s3:GetObject": 1,
        "s3:HeadObject": 1,
        "s3:ListObjectsV2": 1,
        "s3:CreateBucket": 1,
        "glue:StartJobRun": 1,
        "glue:GetJobRun": polls + 1,
        "logs:GetLogEvents": 1,
    }  # no s3:GetObject of the script, no logs:PutLogEvents: those were the endpoint's own
    aws.reset_requests()
    assert aws.requests() == {}


def test_injected_faults_fail_the_next_matching_requests(aws: LocalAWS, bucket: str) -> None:
    no_retries = Config(retries={"total_max_attempts": 1})
    glue_once, s3_once, logs_once = (aws.client(service, config=no_retries) for service in ("glue", "s3", "logs"))
    name = create_job(glue_once, "s3://b/s.py")
    aws.inject_fault("glue:GetJob", "ThrottlingException", count=2)
    for _ in range(2):
        with pytest.raises(ClientError) as raised:
            glue_once.get_job(JobName=name)
        assert error_code(raised) == "ThrottlingException"
    assert glue_once.get_job(JobName=name)["Job"]["Name"] == name
    aws.inject_fault("s3:GetObject", "SlowDown", status=503)
    aws.client("s3").put_object(Bucket=bucket, Key="faulted.txt", Body=b"x")
    with pytest.raises(ClientError) as raised:
        s3_once.get_object(Bucket=bucket, Key="faulted.txt")
    assert error_code(raised) == "SlowDown"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    aws.inject_fault("logs:DescribeLogGroups", "ServiceUnavailableException", count=5)
    aws.clear_faults()
    logs_once.describe_log_groups()
    aws.inject_fault("logs:DescribeLogGroups", "AccessDeniedException")
    with pytest.raises(ClientError) as raised:
        logs_once.describe_log_groups()
    assert error_code(raised) == "AccessDeniedException"


def test_a_throttled_request_is_retried_by_boto3(aws: LocalAWS, glue: Any) -> None:
    name = create_job(glue, "s3://b/s.py")
    aws.inject_fault("glue:GetJob", "ThrottlingException")
    aws.reset_requests()
    assert glue.get_job(JobName=name)["ResponseMetadata"]["RetryAttempts"] == 1
    assert aws.requests() == {"glue:GetJob": 2}


def test_a_forced_run_state_sticks_and_a_forced_end_ends_the_process(
    aws: LocalAWS, bucket: str, glue: Any, logs: Any
) -> None:
    name = create_job(glue, upload(aws, bucket, SLEEPER))
    run_id = glue.start_job_run(JobName=name)["JobRunId"]
    pid = pid_printed(logs, "/aws-glue/python-jobs/output", run_id)
    aws.set_run_state(run_id, "EXPIRED")
    assert glue.get_job_run(JobName=name, RunId=run_id)["JobRun"]["JobRunState"] == "EXPIRED"
    wait_until(lambda: pid_gone(pid), what="the expired run's process to end")
    time.sleep(0.2)  # the runner has seen the process end: the forced state must survive that
    run = glue.get_job_run(JobName=name, RunId=run_id)["JobRun"]
    assert run["JobRunState"] == "EXPIRED" and "CompletedOn" in run
    aws.set_run_state(run_id, "FAILED", error_message="forced")
    run = glue.get_job_run(JobName=name, RunId=run_id)["JobRun"]
    assert (run["JobRunState"], run["ErrorMessage"]) == ("FAILED", "forced")
    with pytest.raises(urllib.error.HTTPError) as unknown:
        aws.set_run_state("jr_" + "0" * 64, "FAILED")
    assert unknown.value.code == 404
    with pytest.raises(urllib.error.HTTPError) as invalid:
        aws.set_run_state(run_id, "DONE")
    assert invalid.value.code == 400


def test_shutdown_through_the_control_api_stops_the_endpoint() -> None:
    aws = LocalAWS().start()
    port = aws.port
    aws.control.shutdown()
    assert aws.wait_stopped(10)
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0

"""glueetl runs on the local endpoint: Spark when it is installed, one line saying what to install when
it is not, and job bookmarks kept between runs as Glue keeps them. Real boto3 against real endpoints.

One Spark run in this module (a JVM start costs seconds of CPU); the bookmark and missing-Spark runs are
plain Python scripts, which is all the endpoint's side of them needs.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from glue_pipes_local_aws import LocalAWS
from tests.spark import requires_spark
from tests.test_local_aws import create_job, output_of, upload, wait_for_run

SPARK_TIMEOUT = 120.0  # a JVM start on a loaded 2-core machine; the test ends when the run does

# Runs with the bookmark it is given: prints the state it started from, commits `--commit` (JSON), and
# fails after committing when `--fail` is yes.
BOOKMARK_SCRIPT = """
import json, os, sys
args = dict(zip(sys.argv[1::2], sys.argv[2::2]))
state_in = os.environ.get("GLUE_PIPES_BOOKMARK_IN")
print("state in:", open(state_in).read() if state_in else "none")
with open(os.environ["GLUE_PIPES_BOOKMARK_OUT"], "w") as out:
    out.write(args["--commit"])
if args.get("--fail") == "yes":
    raise RuntimeError("failed after Job.commit()")
"""


@pytest.fixture(scope="module")
def aws() -> Iterator[LocalAWS]:
    with LocalAWS() as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def bucket(aws: LocalAWS) -> str:
    name = f"glue-pipes-spark-{uuid.uuid4().hex[:8]}"
    aws.client("s3").create_bucket(Bucket=name)
    return name


def glueetl_run(aws: LocalAWS, bucket: str, source: str, timeout: float = 20.0, **job: Any) -> dict[str, Any]:
    glue = aws.client("glue")
    name = create_job(glue, upload(aws, bucket, source), Command={"Name": "glueetl"}, **job)
    return wait_for_run(glue, name, glue.start_job_run(JobName=name)["JobRunId"], timeout)


@requires_spark
def test_a_glueetl_run_runs_pyspark_with_its_output_in_cloudwatch(aws: LocalAWS, bucket: str) -> None:
    script = """
    from pyspark.sql import SparkSession
    spark = SparkSession.builder.getOrCreate()
    orders = spark.createDataFrame([("eu", 3), ("us", 4), ("eu", 5)], ["region", "amount"])
    for row in orders.groupBy("region").sum("amount").orderBy("region").collect():
        print("total", row["region"], row["sum(amount)"])
    print("doubled", spark.sparkContext.parallelize([1, 2]).map(lambda n: n * 2).collect())  # a Python worker
    print("master", spark.conf.get("spark.master"))
    """
    # Glue 4.0 runs Spark 3.3; the spark group installs 3.5: the run says so first, and still runs.
    run = glueetl_run(aws, bucket, script, SPARK_TIMEOUT, GlueVersion="4.0", WorkerType="G.1X", NumberOfWorkers=2)

    assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")
    lines = output_of(aws.client("logs"), run)
    assert lines[0].startswith("WARNING: Glue 4.0 runs Spark 3.3; this local run uses Spark 3.5.")
    assert "total eu 8" in lines and "total us 4" in lines
    assert "doubled [2, 4]" in lines
    assert "master local[2]" in lines


def test_without_spark_a_spark_script_fails_with_one_line_and_other_scripts_still_run(bucket: str) -> None:
    with LocalAWS(spark=False) as aws:
        for imports in ("from awsglue.context import GlueContext", "from pyspark.context import SparkContext"):
            failed = glueetl_run(aws, bucket, imports)
            assert failed["JobRunState"] == "FAILED"
            assert failed["ErrorMessage"] == (
                "ImportError: This glueetl job needs Spark and the local AWS endpoint has none (it was started "
                "with spark=False): install Java 17 and the spark dependency group (`make dev SPARK=1`, or "
                "`uv sync --group spark`), then restart the endpoint"
            )
        plain = glueetl_run(aws, bucket, "import boto3; print('no Spark needed')")
        assert plain["JobRunState"] == "SUCCEEDED"
        assert output_of(aws.client("logs"), plain) == ["no Spark needed"]


def test_python_shell_runs_never_see_spark(aws: LocalAWS, bucket: str) -> None:
    glue = aws.client("glue")
    name = create_job(glue, upload(aws, bucket, "import pyspark"))
    run = wait_for_run(glue, name, glue.start_job_run(JobName=name)["JobRunId"])
    assert run["ErrorMessage"] == "ModuleNotFoundError: No module named 'pyspark'"


def test_bookmarks_are_kept_only_from_successful_enabled_runs_and_reset(aws: LocalAWS, bucket: str) -> None:
    glue, logs = aws.client("glue"), aws.client("logs")
    name = create_job(
        glue,
        upload(aws, bucket, BOOKMARK_SCRIPT),
        Command={"Name": "glueetl"},
        DefaultArguments={"--job-bookmark-option": "job-bookmark-enable"},
    )

    def run(commit: dict[str, Any], **arguments: str) -> dict[str, Any]:
        arguments = {"--commit": json.dumps(commit), **arguments}
        return wait_for_run(glue, name, glue.start_job_run(JobName=name, Arguments=arguments)["JobRunId"])

    with pytest.raises(glue.exceptions.EntityNotFoundException, match=f"Continuation for job {name} not found"):
        glue.get_job_bookmark(JobName=name)

    first_state = {"orders": {"files": {"s3://b/day=1/a.json": "etag-a"}}}
    first = run(first_state)
    assert output_of(logs, first) == ["state in: none"]
    entry = glue.get_job_bookmark(JobName=name)["JobBookmarkEntry"]
    assert json.loads(entry.pop("JobBookmark")) == first_state
    assert entry == {"JobName": name, "Version": 1, "Run": 1, "Attempt": 0, "RunId": first["Id"]}

    failed = run({"orders": {"files": {}}}, **{"--fail": "yes"})
    disabled = run({"orders": {"files": {}}}, **{"--job-bookmark-option": "job-bookmark-disable"})
    assert (failed["JobRunState"], disabled["JobRunState"]) == ("FAILED", "SUCCEEDED")
    assert output_of(logs, disabled) == [f"state in: {json.dumps(first_state)}"]
    assert glue.get_job_bookmark(JobName=name)["JobBookmarkEntry"]["RunId"] == first["Id"]  # neither kept

    second = run({"orders": {"files": {"s3://b/day=2/b.json": "etag-b"}}})
    entry = glue.get_job_bookmark(JobName=name)["JobBookmarkEntry"]
    assert (entry["Run"], entry["RunId"], entry["PreviousRunId"]) == (2, second["Id"], first["Id"])

    reset = glue.reset_job_bookmark(JobName=name)["JobBookmarkEntry"]
    assert reset["JobBookmark"] == "{}"
    assert glue.get_job_bookmark(JobName=name)["JobBookmarkEntry"] == reset
    assert output_of(logs, run({})) == ["state in: {}"]

    glue.delete_job(JobName=name)
    for call in (glue.get_job_bookmark, glue.reset_job_bookmark):
        with pytest.raises(glue.exceptions.EntityNotFoundException, match=f"Job {name} not found"):
            call(JobName=name)

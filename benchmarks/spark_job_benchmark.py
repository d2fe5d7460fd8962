"""One day of ``orders_curated`` on the local endpoint (issue 11: under 30 s on 2 cores, Spark start
included), beside the same work as a bare local pyspark script (no Glue API, no awsglue, no S3, no
Pipes: the floor any local Spark run pays). Both start their own JVM with the same Spark conf.

    .venv/bin/python benchmarks/spark_job_benchmark.py [--repeat 2]

Ours: Dagster materializes ``raw_orders`` then ``orders_curated`` for the day; measured is the
``orders_curated`` step (StartJobRun to SUCCEEDED and the step's end: the Glue run with Spark's start,
its S3 staging and catalog writes, Pipes messages). Wall time only: the JVMs are grandchildren that
their parents do not reap, so this process's children's CPU would leave them out.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import dagster as dg

from glue_pipes_local_aws import LocalAWS
from glue_pipes_local_aws.glue.runtime import SPARK_CONF
from glue_pipes_project.aws import AwsClients
from glue_pipes_project.components.glue_jobs import glue_job_asset
from glue_pipes_project.deploy.plan import deploy_project, load_project_manifest
from glue_pipes_project.resources import GluePipesClientResource
from glue_pipes_project.settings import Settings

FLOOR = textwrap.dedent(
    """
    import json, sys
    from pyspark.sql import SparkSession, functions as F
    spark = SparkSession.builder.config(map=json.loads(sys.argv[3])).getOrCreate()
    raw = spark.read.json(sys.argv[1])
    out = (raw.withColumn("amount", F.col("amount").cast("double"))
              .withColumn("order_ts", F.col("order_ts").cast("timestamp"))
              .withColumn("quantity", F.col("quantity").cast("int"))
              .withColumn("dt", F.lit("2026-11-20")))
    out.write.mode("overwrite").partitionBy("dt").parquet(sys.argv[2])
    print(spark.read.parquet(sys.argv[2]).count())
    """
)


def ours(aws: LocalAWS, day: str) -> tuple[float, int]:
    settings = Settings.from_env({"GLUE_PIPES_ENDPOINT_URL": aws.endpoint_url})
    deploy_project(settings, AwsClients.connect(settings))
    jobs = load_project_manifest(settings).jobs
    resources = {"glue_pipes_client": GluePipesClientResource(settings=settings)}
    instance = dg.DagsterInstance.ephemeral()
    assert dg.materialize(
        [glue_job_asset(jobs["raw_orders"])], partition_key=day, resources=resources, instance=instance
    ).success
    start = time.monotonic()
    result = dg.materialize(
        [glue_job_asset(jobs["orders_curated"])],
        partition_key=day,
        resources=resources,
        instance=instance,
        selection=["orders_curated"],
    )
    wall = time.monotonic() - start
    assert result.success
    (materialization,) = result.asset_materializations_for_node("orders_curated")
    return wall, materialization.metadata["row_count"].value


def floor(aws: LocalAWS, day: str, work: Path) -> tuple[float, int]:
    s3 = aws.client("s3")
    raw = work / "raw"
    raw.mkdir()
    listed = s3.list_objects_v2(Bucket="glue-pipes-local", Prefix=f"glue-pipes/data/local/raw/orders/dt={day}/")
    for item in listed["Contents"]:
        s3.download_file("glue-pipes-local", item["Key"], str(raw / Path(item["Key"]).name))
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", FLOOR, str(raw), str(work / "curated"), json.dumps(SPARK_CONF)],
        capture_output=True,
        text=True,
        check=True,
    )
    return time.monotonic() - start, int(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=2)
    repeat = parser.parse_args().repeat
    print("orders_curated, one day, local endpoint (2 cores): ours vs bare local pyspark\n")
    print(f"{'run':>4} {'ours s':>8} {'floor s':>8} {'ratio':>7} {'rows':>6}")
    for attempt in range(1, repeat + 1):
        day = f"2026-11-{20 + attempt:02d}"
        with LocalAWS() as aws, tempfile.TemporaryDirectory() as work:
            ours_wall, rows = ours(aws, day)
            floor_wall, floor_rows = floor(aws, day, Path(work))
        assert rows == floor_rows, (rows, floor_rows)
        print(f"{attempt:>4} {ours_wall:>8.1f} {floor_wall:>8.1f} {ours_wall / floor_wall:>6.2f}x {rows:>6}")


if __name__ == "__main__":
    main()

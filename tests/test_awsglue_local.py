"""The local `awsglue` (glue_pipes_local_aws/spark/awsglue) as Glue scripts use it, on one shared
SparkSession against the local endpoint: S3 through boto3, the Data Catalog through moto's Glue,
transforms, relationalize, and job bookmarks through the runtime's state files."""

import contextlib
import importlib.util
import json
import os
import shlex
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest

from glue_pipes_local_aws import LocalAWS
from tests.spark import requires_spark

pytestmark = [requires_spark, pytest.mark.xdist_group("awsglue_local")]

SHIM = Path(__file__).resolve().parent.parent / "packages/glue-pipes-local-aws/glue_pipes_local_aws/spark"
SPARK_CONF = {
    "spark.master": "local[2]",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "2",
    # Short jobs: the C1 JIT alone and the serial GC take about 40% less CPU than the JVM's defaults.
    "spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC",
}


@contextlib.contextmanager
def glue_environment(local_aws: LocalAWS) -> Iterator[None]:
    """The environment the local runtime gives a glueetl run (the job role's keys, the endpoint, the
    Spark conf), with the shim importable as `awsglue` in this process and in Spark's Python workers."""
    keys = local_aws.principals["glue-job"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ENDPOINT_URL", local_aws.endpoint_url)
        patch.setenv("AWS_DEFAULT_REGION", local_aws.region)
        patch.setenv("AWS_ACCESS_KEY_ID", keys.access_key_id)
        patch.setenv("AWS_SECRET_ACCESS_KEY", keys.secret_access_key)
        patch.setenv("PYSPARK_PYTHON", sys.executable)
        patch.setenv("SPARK_LOCAL_IP", "127.0.0.1")
        patch.setenv("GLUE_PIPES_SPARK_CONF", json.dumps(SPARK_CONF))
        patch.setenv("PYTHONPATH", os.pathsep.join([str(SHIM), *filter(None, [os.environ.get("PYTHONPATH")])]))
        # importing awsglue turns GLUE_PIPES_SPARK_CONF into this; put back whatever was there after.
        patch.setenv("PYSPARK_SUBMIT_ARGS", "")
        patch.delenv("PYSPARK_SUBMIT_ARGS")
        patch.syspath_prepend(str(SHIM))
        for name in [name for name in sys.modules if name == "awsglue" or name.startswith("awsglue.")]:
            patch.delitem(sys.modules, name)
        yield


@pytest.fixture(scope="session")
def spark_context(local_aws: LocalAWS) -> Iterator[Any]:
    """One JVM for the worker, started the way Glue scripts start theirs (the JVM keeps the environment
    it started with). Session-scoped: xdist interleaves modules on a worker, and a module-scoped one
    was stopped and started again each time."""
    with glue_environment(local_aws):
        import awsglue  # noqa: F401  (sets PYSPARK_SUBMIT_ARGS from GLUE_PIPES_SPARK_CONF for the JVM)
        from pyspark.context import SparkContext

        sc = SparkContext.getOrCreate()
    yield sc
    sc.stop()


@pytest.fixture(scope="module")
def glue_env(local_aws: LocalAWS) -> Iterator[None]:
    with glue_environment(local_aws):
        yield


@pytest.fixture(scope="module")
def glue_context(spark_context: Any, glue_env: None) -> Any:
    from awsglue.context import GlueContext

    return GlueContext(spark_context)


@pytest.fixture
def bucket() -> str:
    name = f"shim-{uuid.uuid4().hex[:12]}"
    boto3.client("s3").create_bucket(Bucket=name)
    return name


def put_lines(bucket: str, key: str, records: list[dict[str, Any]]) -> None:
    body = "".join(json.dumps(record) + "\n" for record in records)
    boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=body.encode())


def keys_under(bucket: str, prefix: str) -> list[str]:
    return [obj["Key"] for obj in boto3.client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])]


def rows(frame: Any) -> list[dict[str, Any]]:
    return sorted((row.asDict(recursive=True) for row in frame.toDF().collect()), key=json.dumps)


def test_imports_are_ours_and_the_official_utils(glue_env: None) -> None:
    import awsglue.context
    import awsglue.utils

    assert Path(awsglue.context.__file__).is_relative_to(SHIM)
    # The official package (AWSGlueDataplanePython) is installed on Python < 3.12 only.
    official = sys.version_info < (3, 12)
    assert Path(awsglue.utils.__file__).is_relative_to(SHIM / "awsglue/_fallback") is not official
    submit_args = shlex.split(os.environ["PYSPARK_SUBMIT_ARGS"])
    assert submit_args[:2] == ["--conf", "spark.master=local[2]"] and submit_args[-1] == "pyspark-shell"


def _fallback_utils() -> ModuleType:
    spec = importlib.util.spec_from_file_location("awsglue_fallback_utils", SHIM / "awsglue/_fallback/utils.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ARGVS = [
    ["script.py", "--JOB_NAME", "orders", "--partition_date", "2026-11-01", "--JOB_RUN_ID", "jr_1"],
    ["script.py", "--JOB_NAME", "orders", "--partition_date", "d", "--job-bookmark-option", "job-bookmark-enable"],
    ["script.py", "--JOB_NAME", "orders", "--partition_date", "d", "--continuation-option", "continuation-readonly"],
    ["script.py", "--JOB_NAME", "orders", "--partition_date", "d", "--TempDir", "s3://b/tmp/", "--extra", "x"],
    ["script.py", "--JOB_NAME", "orders"],
    ["script.py", "--JOB_NAME", "orders", "--partition_date", "d", "--job-bookmark-option", "job-bookmark-later"],
    [
        "script.py",
        "--JOB_NAME",
        "o",
        "--partition_date",
        "d",
        "--job-bookmark-option",
        "job-bookmark-pause",
        "--job-bookmark-from",
        "1",
    ],
]


def _outcome(get_resolved_options: Any, argv: list[str], options: list[str]) -> Any:
    try:
        return get_resolved_options(argv, options)
    except Exception as error:  # the two packages' exception classes differ; their kind and message do not
        return type(error).__name__, str(error)


@pytest.mark.parametrize("options", [["JOB_NAME", "partition_date"], ["job-bookmark-option"]])
def test_get_resolved_options_matches_the_official_one(glue_env: None, options: list[str]) -> None:
    from awsglue.utils import getResolvedOptions

    fallback = _fallback_utils().getResolvedOptions
    outcomes = [_outcome(fallback, argv, options) for argv in ARGVS]
    assert outcomes == [_outcome(getResolvedOptions, argv, options) for argv in ARGVS]
    if options == ["JOB_NAME", "partition_date"]:
        assert outcomes[0]["partition_date"] == "2026-11-01"
        assert outcomes[1]["job_bookmark_option"] == "job-bookmark-enable"
        assert outcomes[2]["job_bookmark_option"] == "job-bookmark-pause"  # continuation-readonly's equivalent
        assert outcomes[3]["RedshiftTempDir"] == "s3://b/tmp/"
        assert outcomes[4][0] == "GlueArgumentError"
    else:
        assert outcomes[0] == ("RuntimeError", "Using reserved arguments job-bookmark-option")


def test_json_from_s3_to_a_partitioned_catalog_table_and_back(
    glue_context: Any, bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from awsglue.dynamicframe import DynamicFrame
    from awsglue.transforms import ApplyMapping, ResolveChoice
    from pyspark.sql import functions as F

    put_lines(bucket, "raw/2026-11-01/a.json", [{"id": 1, "amount": "12.5", "day": "2026-11-01", "region": "emea"}])
    put_lines(bucket, "raw/2026-11-02/b.json", [{"id": 2, "amount": 7, "day": "2026-11-02", "region": "apac"}])
    put_lines(bucket, "raw/_SUCCESS", [])
    glue = boto3.client("glue")
    database = f"db_{bucket.replace('-', '_')}"
    glue.create_database(DatabaseInput={"Name": database})

    raw = glue_context.create_dynamic_frame.from_options(
        connection_type="s3",
        connection_options={"paths": [f"s3://{bucket}/raw/"], "recurse": True},
        format="json",
        transformation_ctx="raw",
    )
    mapped = ApplyMapping.apply(
        frame=raw,
        mappings=[
            ("id", "long", "order_id", "long"),
            ("amount", "string", "amount", "string"),
            ("region", "string", "region", "string"),
            ("day", "string", "partition_date", "string"),
        ],
    )
    curated = ResolveChoice.apply(frame=mapped, specs=[("amount", "cast:double")])
    sink = glue_context.getSink(
        connection_type="s3",
        path=f"s3a://{bucket}/curated/orders/",
        enableUpdateCatalog=True,
        updateBehavior="UPDATE_IN_DATABASE",
        partitionKeys=["partition_date"],
    )
    sink.setCatalogInfo(catalogDatabase=database, catalogTableName="orders")
    sink.setFormat("glueparquet")
    sink.writeFrame(curated)
    glue_context.get_logger().info("wrote the curated orders")

    table = glue.get_table(DatabaseName=database, Name="orders")["Table"]
    assert [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]] == [
        ("order_id", "bigint"),
        ("amount", "double"),
        ("region", "string"),
    ]
    assert table["PartitionKeys"] == [{"Name": "partition_date", "Type": "string"}]
    assert table["Parameters"]["classification"] == "parquet"
    partitions = glue.get_partitions(DatabaseName=database, TableName="orders")["Partitions"]
    assert sorted((p["Values"], p["StorageDescriptor"]["Location"]) for p in partitions) == [
        (["2026-11-01"], f"s3a://{bucket}/curated/orders/partition_date=2026-11-01/"),
        (["2026-11-02"], f"s3a://{bucket}/curated/orders/partition_date=2026-11-02/"),
    ]
    written = keys_under(bucket, "curated/orders/")
    assert written and all(k.endswith(".parquet") and "/partition_date=2026-11-0" in k for k in written)

    day2 = glue_context.create_dynamic_frame.from_catalog(
        database=database, table_name="orders", push_down_predicate="partition_date = '2026-11-02'"
    )
    assert rows(day2) == [{"order_id": 2, "amount": 7.0, "region": "apac", "partition_date": "2026-11-02"}]

    # Writing through the catalog: the table's location and format, the new partition registered.
    day3 = day2.toDF().withColumn("partition_date", F.lit("2026-11-03"))
    glue_context.write_dynamic_frame.from_catalog(
        frame=DynamicFrame.fromDF(day3, glue_context, "day3"),
        database=database,
        table_name="orders",
        additional_options={"enableUpdateCatalog": True, "partitionKeys": ["partition_date"]},
    )
    partitions = glue.get_partitions(
        DatabaseName=database, TableName="orders", Expression="partition_date > '2026-11-01'"
    )
    assert sorted(p["Values"][0] for p in partitions["Partitions"]) == ["2026-11-02", "2026-11-03"]
    assert "INFO GlueLogger: wrote the curated orders" in capsys.readouterr().err


def test_join_filter_and_field_transforms(glue_context: Any) -> None:
    from awsglue.dynamicframe import DynamicFrame
    from awsglue.transforms import DropFields, Filter, Join, RenameField, SelectFields

    spark = glue_context.spark_session
    orders = DynamicFrame.fromDF(
        spark.createDataFrame(
            [(1, 10, 5.0, "a"), (2, 10, 50.0, "b"), (3, 20, 70.0, "c")], "id int, cust int, amount double, note string"
        ),
        glue_context,
        "orders",
    )
    customers = DynamicFrame.fromDF(
        spark.createDataFrame([(10, "Ada", "x"), (20, "Bo", "y")], "customer_id int, name string, tier string"),
        glue_context,
        "customers",
    )
    joined = Join.apply(orders, customers, "cust", "customer_id")
    big = Filter.apply(frame=joined, f=lambda record: record["amount"] > 10 and record["no such field"])
    assert big.count() == 0  # a KeyError drops the record, as on Glue
    big = Filter.apply(frame=joined, f=lambda record: record["amount"] > 10)
    shaped = RenameField.apply(DropFields.apply(big, ["note", "tier"]), "name", "customer")
    assert rows(SelectFields.apply(shaped, ["id", "customer", "amount"])) == [
        {"id": 2, "customer": "Ada", "amount": 50.0},
        {"id": 3, "customer": "Bo", "amount": 70.0},
    ]


def test_relationalize_flattens_structs_and_pivots_arrays(glue_context: Any) -> None:
    from awsglue.dynamicframe import DynamicFrame

    df = glue_context.spark_session.createDataFrame(
        [(1, ("Ada", ("Oslo",)), [("p1", 2), ("p2", 1)], ["new"])],
        "id int, customer struct<name:string, address:struct<city:string>>, "
        "items array<struct<sku:string, qty:int>>, tags array<string>",
    )
    tables = DynamicFrame.fromDF(df, glue_context, "orders").relationalize("root", "s3://unused/tmp/")
    assert sorted(tables.keys()) == ["root", "root_items", "root_tags"]
    [root] = rows(tables.select("root"))
    assert {k: v for k, v in root.items() if k not in ("items", "tags")} == {
        "id": 1,
        "customer.name": "Ada",
        "customer.address.city": "Oslo",
    }
    items = rows(tables["root_items"])
    assert items == [
        {"id": root["items"], "index": 0, "items.val.sku": "p1", "items.val.qty": 2},
        {"id": root["items"], "index": 1, "items.val.sku": "p2", "items.val.qty": 1},
    ]
    assert rows(tables["root_tags"]) == [{"id": root["tags"], "index": 0, "tags.val": "new"}]


def run_job(glue_context: Any, bucket: str, option: str, state_in: Path | None, state_out: Path) -> int:
    """One run of a bookmarked job, as the runtime starts it: state in, state out, its argv."""
    from awsglue.job import Job
    from awsglue.utils import getResolvedOptions

    with pytest.MonkeyPatch.context() as patch:
        if state_in:
            patch.setenv("GLUE_PIPES_BOOKMARK_IN", str(state_in))
        else:
            patch.delenv("GLUE_PIPES_BOOKMARK_IN", raising=False)
        patch.setenv("GLUE_PIPES_BOOKMARK_OUT", str(state_out))
        args = getResolvedOptions(["job.py", "--JOB_NAME", "orders", "--job-bookmark-option", option], ["JOB_NAME"])
        job = Job(glue_context)
        job.init(args["JOB_NAME"], args)
        frame = glue_context.create_dynamic_frame.from_options(
            connection_type="s3",
            connection_options={"paths": [f"s3://{bucket}/in/"]},
            format="json",
            transformation_ctx="source",
        )
        count = frame.count()
        job.commit()
        return count


def test_job_bookmarks(glue_context: Any, bucket: str, tmp_path: Path) -> None:
    put_lines(bucket, "in/a.json", [{"n": 1}, {"n": 2}])
    put_lines(bucket, "in/b.json", [{"n": 3}])
    first, second, paused, third = (tmp_path / f"{name}.json" for name in ("first", "second", "paused", "third"))

    assert run_job(glue_context, bucket, "job-bookmark-enable", None, first) == 3
    etags = {
        f"s3://{bucket}/{k}": boto3.client("s3").head_object(Bucket=bucket, Key=k)["ETag"].strip('"')
        for k in ("in/a.json", "in/b.json")
    }
    assert json.loads(first.read_text()) == {"source": {"files": etags}}
    # Same files again: nothing new to process.
    assert run_job(glue_context, bucket, "job-bookmark-enable", first, second) == 0

    put_lines(bucket, "in/c.json", [{"n": 4}])
    # pause reads what is new since the state but records nothing; disable reads everything.
    assert run_job(glue_context, bucket, "job-bookmark-pause", second, paused) == 1
    assert not paused.exists()
    assert run_job(glue_context, bucket, "job-bookmark-disable", second, paused) == 4
    assert not paused.exists()
    # A rewritten object (new ETag) counts as new; the state carries every file read so far.
    put_lines(bucket, "in/a.json", [{"n": 1}, {"n": 2}, {"n": 5}])
    assert run_job(glue_context, bucket, "job-bookmark-enable", second, third) == 4
    assert sorted(json.loads(third.read_text())["source"]["files"]) == [f"s3://{bucket}/in/{n}.json" for n in "abc"]


def test_purge_s3_path(glue_context: Any, bucket: str) -> None:
    for key in ("out/x/1.json", "out/2.json", "keep/3.json"):
        put_lines(bucket, key, [{"n": 1}])
    glue_context.purge_s3_path(f"s3://{bucket}/out/", options={"retentionPeriod": 0})
    assert keys_under(bucket, "") == ["keep/3.json"]


def test_csv_round_trip_through_s3(glue_context: Any, bucket: str) -> None:
    from awsglue.dynamicframe import DynamicFrame

    df = glue_context.spark_session.createDataFrame([(1, "a;b"), (2, "c")], "n int, text string")
    glue_context.write_dynamic_frame.from_options(
        frame=DynamicFrame.fromDF(df, glue_context, "out"),
        connection_type="s3",
        connection_options={"path": f"s3://{bucket}/csv/"},
        format="csv",
        format_options={"separator": ";"},
    )
    assert all(key.endswith(".csv") for key in keys_under(bucket, "csv/"))
    read = glue_context.create_dynamic_frame.from_options(
        "s3", {"paths": [f"s3://{bucket}/csv/"]}, format="csv", format_options={"withHeader": True, "separator": ";"}
    )
    assert rows(read) == [{"n": 1, "text": "a;b"}, {"n": 2, "text": "c"}]

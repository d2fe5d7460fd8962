"""Shared by the orders pipeline's Glue scripts (raw_orders, orders_curated, orders_daily_summary);
shipped to Glue through extra_py_files.

Runs on Glue 5.0's Python 3.11 with boto3 and dagster-pipes only: no Spark here, so the plain-Python
raw_orders job can use it too.
"""

import datetime
import hashlib
import json

import boto3
from dagster_pipes import PipesCliArgsParamsLoader, PipesS3ContextLoader, open_dagster_pipes

CURATED_TABLE = "orders_curated"
SUMMARY_TABLE = "orders_daily_summary"


def open_pipes():
    """Pipes as the Dagster side starts these jobs: context from S3, messages on stdout (CloudWatch Logs)."""
    return open_dagster_pipes(
        context_loader=PipesS3ContextLoader(client=boto3.client("s3")),
        params_loader=PipesCliArgsParamsLoader(),
    )


def previous_day(day):
    return (datetime.date.fromisoformat(day) - datetime.timedelta(days=1)).isoformat()


def table_schema(schema):
    """A Spark ``StructType`` as Dagster's table-schema metadata (``dagster/column_schema``)."""
    columns = [{"name": field.name, "type": field.dataType.simpleString()} for field in schema.fields]
    return {"raw_value": {"columns": columns}, "type": "table_schema"}


def data_version(values):
    """Changes only when ``values`` (a JSON-able summary of the data) do."""
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode("utf-8")).hexdigest()[:16]


def partition_metadata(day, location, table):
    return {
        "partition": {"raw_value": day, "type": "text"},
        "location": {"raw_value": location, "type": "url"},
        "table": {"raw_value": table, "type": "text"},
    }


def replace_day(glue_context, frame, location, day, database, table):
    """Write one day's rows as the `dt` partition of a catalog table, replacing what a rerun left."""
    from awsglue.dynamicframe import DynamicFrame  # Spark jobs only: raw_orders ships this file too

    glue_context.purge_s3_path(f"{location}dt={day}/", {"retentionPeriod": 0})
    sink = glue_context.getSink(
        connection_type="s3",
        path=location,
        enableUpdateCatalog=True,
        updateBehavior="UPDATE_IN_DATABASE",
        partitionKeys=["dt"],
    )
    sink.setFormat("glueparquet")
    sink.setCatalogInfo(catalogDatabase=database, catalogTableName=table)
    sink.writeFrame(DynamicFrame.fromDF(frame, glue_context, table))

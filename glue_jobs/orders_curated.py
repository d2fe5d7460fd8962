"""Glue job behind ``orders_curated``: one day of raw orders, typed and cleaned, as partitioned Parquet
behind the Data Catalog table ``orders_curated``. A Spark job written as on Glue (GlueContext, dynamic
frames, ApplyMapping / ResolveChoice, a catalog-updating sink, Job.init / commit); it reports through
Dagster Pipes: the materialization and the asset checks declared with the job in jobs.yaml.
"""

import sys

import boto3
from awsglue.context import GlueContext
from awsglue.job import Job
from awsglue.transforms import ApplyMapping, ResolveChoice
from awsglue.utils import getResolvedOptions
from orders_pipeline import (
    CURATED_TABLE,
    data_version,
    open_pipes,
    partition_metadata,
    previous_day,
    replace_day,
    table_schema,
)
from pyspark.context import SparkContext
from pyspark.sql import functions as F

MAPPINGS = [
    ("order_id", "string", "order_id", "string"),
    ("customer_id", "string", "customer_id", "string"),
    ("order_ts", "string", "order_ts", "timestamp"),
    ("status", "string", "status", "string"),
    ("quantity", "long", "quantity", "int"),
    ("amount", "double", "amount", "double"),
]
# The previous day's row count must lie within these multiples of it (the WARN check).
ROW_COUNT_BOUNDS = (0.5, 2.0)


def previous_row_count(glue_context, database, day):
    """Rows of the previous day's partition, or None when the table or that partition does not exist."""
    glue = boto3.client("glue")
    try:
        glue.get_partition(DatabaseName=database, TableName=CURATED_TABLE, PartitionValues=[day])
    except glue.exceptions.EntityNotFoundException:
        return None
    return glue_context.create_dynamic_frame.from_catalog(
        database=database, table_name=CURATED_TABLE, push_down_predicate=f"dt='{day}'"
    ).count()


def main():
    args = getResolvedOptions(sys.argv, ["JOB_NAME", "partition_date", "data_location", "catalog_database"])
    day, database = args["partition_date"], args["catalog_database"]
    glue_context = GlueContext(SparkContext.getOrCreate())
    job = Job(glue_context)
    job.init(args["JOB_NAME"], args)
    with open_pipes() as pipes:
        raw = glue_context.create_dynamic_frame.from_options(
            connection_type="s3",
            connection_options={"paths": [f"{args['data_location']}raw/orders/dt={day}/"]},
            format="json",
            transformation_ctx="raw_orders",
        )
        # Some producers send amounts as strings: Glue sees a choice of double and string.
        resolved = ResolveChoice.apply(frame=raw, specs=[("amount", "cast:double")], transformation_ctx="resolved")
        mapped = ApplyMapping.apply(frame=resolved, mappings=MAPPINGS, transformation_ctx="mapped")
        orders = mapped.toDF().withColumn("dt", F.lit(day))

        location = f"{args['data_location']}curated/orders/"
        # Rerunning a day replaces its partition rather than appending to it.
        replace_day(glue_context, orders, location, day, database, CURATED_TABLE)

        stats = orders.agg(
            F.count("*").alias("rows"),
            F.sum(F.when(F.col("order_id").isNull(), 1).otherwise(0)).alias("null_order_ids"),
            F.round(F.sum("amount"), 2).alias("amount"),
        ).first()
        rows, null_ids = stats["rows"], stats["null_order_ids"] or 0
        pipes.log.info(f"Wrote {rows} orders of {day} to {location} ({database}.{CURATED_TABLE})")
        pipes.report_asset_materialization(
            metadata={
                "row_count": {"raw_value": rows, "type": "int"},
                "dagster/column_schema": table_schema(orders.schema),
                **partition_metadata(day, f"{location}dt={day}/", f"{database}.{CURATED_TABLE}"),
            },
            data_version=data_version({"rows": rows, "null_order_ids": null_ids, "amount": stats["amount"]}),
        )
        pipes.report_asset_check(
            check_name="no_null_order_ids",
            passed=null_ids == 0,
            severity="ERROR",
            metadata={"null_order_ids": {"raw_value": null_ids, "type": "int"}},
        )
        previous = previous_row_count(glue_context, database, previous_day(day))
        low, high = ROW_COUNT_BOUNDS
        pipes.report_asset_check(
            check_name="row_count_within_bounds_of_previous_partition",
            # The first partition has nothing to compare with: it passes.
            passed=previous is None or low * previous <= rows <= high * previous,
            severity="WARN",
            metadata={
                "row_count": {"raw_value": rows, "type": "int"},
                "previous_partition": {"raw_value": previous_day(day), "type": "text"},
                "previous_row_count": {"raw_value": previous, "type": "int" if previous is not None else "null"},
            },
        )
    job.commit()


if __name__ == "__main__":
    main()

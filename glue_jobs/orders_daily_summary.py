"""Glue job behind ``orders_daily_summary``: one day's totals from the ``orders_curated`` catalog table
(orders, revenue, customers, average order value), as Parquet behind the ``orders_daily_summary``
table. A Spark job written as on Glue; it reports through Dagster Pipes.
"""

import sys

from awsglue.context import GlueContext
from awsglue.job import Job
from awsglue.utils import getResolvedOptions
from orders_pipeline import (
    CURATED_TABLE,
    SUMMARY_TABLE,
    data_version,
    open_pipes,
    partition_metadata,
    replace_day,
    table_schema,
)
from pyspark.context import SparkContext
from pyspark.sql import functions as F


def main():
    args = getResolvedOptions(sys.argv, ["JOB_NAME", "partition_date", "data_location", "catalog_database"])
    day, database = args["partition_date"], args["catalog_database"]
    glue_context = GlueContext(SparkContext.getOrCreate())
    job = Job(glue_context)
    job.init(args["JOB_NAME"], args)
    with open_pipes() as pipes:
        orders = glue_context.create_dynamic_frame.from_catalog(
            database=database,
            table_name=CURATED_TABLE,
            push_down_predicate=f"dt='{day}'",  # reads the day's partition only
            transformation_ctx="orders_curated",
        ).toDF()
        summary = orders.groupBy("dt").agg(
            F.count("*").alias("orders"),
            F.round(F.sum("amount"), 2).alias("revenue"),
            F.countDistinct("customer_id").alias("customers"),
            F.round(F.avg("amount"), 2).alias("average_order_value"),
            F.sum("quantity").alias("items"),
        )
        location = f"{args['data_location']}summary/orders_daily/"
        replace_day(glue_context, summary, location, day, database, SUMMARY_TABLE)

        row = summary.first()
        totals = {
            "orders": row["orders"] if row else 0,
            "revenue": row["revenue"] if row else 0.0,
            "customers": row["customers"] if row else 0,
        }
        pipes.log.info(f"{day}: {totals['orders']} orders, revenue {totals['revenue']}")
        pipes.report_asset_materialization(
            metadata={
                "orders": {"raw_value": totals["orders"], "type": "int"},
                "revenue": {"raw_value": totals["revenue"], "type": "float"},
                "customers": {"raw_value": totals["customers"], "type": "int"},
                "dagster/column_schema": table_schema(summary.schema),
                **partition_metadata(day, f"{location}dt={day}/", f"{database}.{SUMMARY_TABLE}"),
            },
            data_version=data_version(totals),
        )
    job.commit()


if __name__ == "__main__":
    main()

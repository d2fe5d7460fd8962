"""Glue job behind the ``glue_pipes_s3_asset`` asset: Pipes messages go to S3 in chunks.

Use this variant when stdout is noisy or CloudWatch Logs is not wanted for Pipes messages; the
Dagster side pairs it with PipesS3MessageReader. Runs on Glue's Python: no syntax newer than 3.9.
"""

import sys

import boto3
from dagster_pipes import (
    PipesCliArgsParamsLoader,
    PipesS3ContextLoader,
    PipesS3MessageWriter,
    open_dagster_pipes,
)
from orders import generate_orders, materialization, parse_args, summarize


def main():
    args = parse_args(sys.argv)
    s3 = boto3.client("s3")
    with open_dagster_pipes(
        context_loader=PipesS3ContextLoader(client=s3),
        message_writer=PipesS3MessageWriter(client=s3, interval=1),
        params_loader=PipesCliArgsParamsLoader(),
    ) as pipes:
        pipes.log.info(f"Glue job {args.JOB_NAME} run {args.JOB_RUN_ID} started")
        summary = summarize(generate_orders(args.row_count, args.seed))
        metadata, data_version = materialization(summary)
        pipes.report_asset_materialization(metadata=metadata, data_version=data_version)
        pipes.log.info("Total amount {:.2f}".format(summary["total_amount"]))


if __name__ == "__main__":
    main()

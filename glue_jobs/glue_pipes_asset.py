"""Glue job behind the ``glue_pipes_asset`` asset.

Pipes context comes from S3 (PipesS3ContextLoader), its location from the ``--dagster-pipes-*``
arguments (PipesCliArgsParamsLoader); messages go to stdout, which Glue sends to CloudWatch Logs.
Runs on Glue's Python: no syntax newer than 3.9.
"""

import sys

import boto3
from dagster_pipes import PipesCliArgsParamsLoader, PipesS3ContextLoader, open_dagster_pipes
from orders import generate_orders, materialization, parse_args, summarize


def main():
    args = parse_args(sys.argv)
    with open_dagster_pipes(
        context_loader=PipesS3ContextLoader(client=boto3.client("s3")),
        params_loader=PipesCliArgsParamsLoader(),
    ) as pipes:
        pipes.log.info(f"Glue job {args.JOB_NAME} run {args.JOB_RUN_ID} started")
        orders = generate_orders(args.row_count, args.seed)
        pipes.log.info(f"Generated {len(orders)} orders")
        summary = summarize(orders)
        metadata, data_version = materialization(summary)
        pipes.report_asset_materialization(metadata=metadata, data_version=data_version)
        pipes.log.info("Total amount {:.2f}".format(summary["total_amount"]))


if __name__ == "__main__":
    main()

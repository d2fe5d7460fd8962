"""Glue job behind the ``glue_pipes_s3_asset`` asset: Pipes messages go to S3 in chunks.

Use this variant when stdout is noisy or CloudWatch Logs is not wanted for Pipes messages; the
Dagster side pairs it with an S3 message reader. The writer is dagster-pipes' S3 writer with a
prompt upload loop (pipes_s3_writer.py, shipped alongside). Runs on Glue's Python: no syntax newer
than 3.9.
"""

import sys

import boto3
from dagster_pipes import PipesCliArgsParamsLoader, PipesS3ContextLoader, open_dagster_pipes
from orders import generate_orders, materialization, parse_args, summarize
from pipes_s3_writer import PromptS3MessageWriter


def main():
    args = parse_args(sys.argv)
    s3 = boto3.client("s3")
    with open_dagster_pipes(
        context_loader=PipesS3ContextLoader(client=s3),
        message_writer=PromptS3MessageWriter(client=s3, interval=0.5),
        params_loader=PipesCliArgsParamsLoader(),
    ) as pipes:
        pipes.log.info(f"Glue job {args.JOB_NAME} run {args.JOB_RUN_ID} started")
        summary = summarize(generate_orders(args.row_count, args.seed))
        metadata, data_version = materialization(summary)
        pipes.report_asset_materialization(metadata=metadata, data_version=data_version)
        pipes.log.info("Total amount {:.2f}".format(summary["total_amount"]))


if __name__ == "__main__":
    main()

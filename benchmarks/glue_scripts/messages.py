"""Benchmark job: sends --count Pipes log messages as fast as it can."""

import sys
import time

import boto3
from dagster_pipes import (
    PipesCliArgsParamsLoader,
    PipesS3ContextLoader,
    PipesS3MessageWriter,
    open_dagster_pipes,
)

args = dict(zip(sys.argv[1::2], sys.argv[2::2]))  # noqa: B905 - Python 3.9 has no strict=
s3 = boto3.client("s3")
writer = {}
if args.get("--writer") == "s3":  # dagster-pipes' own S3 writer
    writer["message_writer"] = PipesS3MessageWriter(client=s3, interval=float(args["--s3-interval"]))
elif args.get("--writer") == "s3-prompt":  # the one glue_jobs/ ships
    from pipes_s3_writer import PromptS3MessageWriter

    writer["message_writer"] = PromptS3MessageWriter(client=s3, interval=float(args["--s3-interval"]))
started = time.time()
with open_dagster_pipes(
    context_loader=PipesS3ContextLoader(client=s3), params_loader=PipesCliArgsParamsLoader(), **writer
) as pipes:
    for index in range(int(args["--count"])):
        pipes.log.info(f"message {index}")
    pipes.report_asset_materialization(
        metadata={"script_seconds": {"raw_value": time.time() - started, "type": "float"}}
    )

"""Benchmark job: a short piece of work that logs when it starts and reports how long it ran."""

import sys
import time

STARTED = time.time()

import boto3  # noqa: E402
from dagster_pipes import (  # noqa: E402
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
with open_dagster_pipes(
    context_loader=PipesS3ContextLoader(client=s3), params_loader=PipesCliArgsParamsLoader(), **writer
) as pipes:
    pipes.log.info(f"first log written at {time.time():.6f}")
    time.sleep(float(args.get("--seconds", "0.3")))
    pipes.report_asset_materialization(
        metadata={"script_seconds": {"raw_value": time.time() - STARTED, "type": "float"}}
    )

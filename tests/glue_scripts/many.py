"""Test job: reports --count custom Pipes messages, in --bursts bursts --pause seconds apart."""

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
count, bursts = int(args["--count"]), int(args.get("--bursts", "1"))
s3 = boto3.client("s3")
writer = {"message_writer": PipesS3MessageWriter(client=s3, interval=0.5)} if args.get("--writer") == "s3" else {}
with open_dagster_pipes(
    context_loader=PipesS3ContextLoader(client=s3), params_loader=PipesCliArgsParamsLoader(), **writer
) as pipes:
    per_burst = count // bursts
    for burst in range(bursts):
        for index in range(burst * per_burst, count if burst == bursts - 1 else (burst + 1) * per_burst):
            if args.get("--kind") == "log":
                pipes.log.info(f"message {index}")
            else:
                pipes.report_custom_message(index)
        if burst < bursts - 1:
            time.sleep(float(args.get("--pause", "0.6")))
    pipes.report_asset_materialization(metadata={"sent": {"raw_value": count, "type": "int"}})

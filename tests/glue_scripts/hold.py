"""Test job: opens Pipes, logs, then holds until released (an S3 object appears) or time runs out.

Arguments: --writer s3|stdout, --release-bucket/--release-key, --hold-seconds, --raise MESSAGE.
"""

import sys
import time

import boto3

args = dict(zip(sys.argv[1::2], sys.argv[2::2]))  # noqa: B905 - Python 3.9 has no strict=
s3 = boto3.client("s3")


def hold():
    deadline = time.time() + float(args.get("--hold-seconds", "30"))
    while time.time() < deadline:
        try:
            s3.head_object(Bucket=args["--release-bucket"], Key=args["--release-key"])
            return True
        except Exception:
            time.sleep(0.05)
    return False


if "--dagster-pipes-context" not in args:  # started outside Dagster, e.g. to occupy a slot
    hold()
    sys.exit(0)

from dagster_pipes import (  # noqa: E402 - only a Pipes run has it on the path
    PipesCliArgsParamsLoader,
    PipesS3ContextLoader,
    PipesS3MessageWriter,
    open_dagster_pipes,
)

writer = {"message_writer": PipesS3MessageWriter(client=s3, interval=0.2)} if args.get("--writer") == "s3" else {}
with open_dagster_pipes(
    context_loader=PipesS3ContextLoader(client=s3), params_loader=PipesCliArgsParamsLoader(), **writer
) as pipes:
    pipes.log.info(f"first log written at {time.time():.3f}")
    print("a plain stdout line", flush=True)
    print("a plain stderr line", file=sys.stderr, flush=True)
    released = hold()
    if "--raise" in args:
        raise RuntimeError(args["--raise"])
    pipes.report_asset_materialization(metadata={"released": {"raw_value": released, "type": "bool"}})

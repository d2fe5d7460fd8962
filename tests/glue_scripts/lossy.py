"""Test job: a script whose Pipes messages do not all reach Dagster, the ways real scripts lose them.

--metadata-bytes N: reports a materialization carrying N bytes of metadata (over CloudWatch's 256 KB
event limit, the message's line is cut). --exit-without-closing: exits with status 0 without closing
Pipes, as a script killed or ended with os._exit does. --writer s3|stdout as in hold.py.
"""

import os
import sys

import boto3
from dagster_pipes import PipesCliArgsParamsLoader, PipesS3ContextLoader, PipesS3MessageWriter, open_dagster_pipes

args = dict(zip(sys.argv[1::2], sys.argv[2::2]))  # noqa: B905 - Python 3.9 has no strict=
s3 = boto3.client("s3")
writer = {"message_writer": PipesS3MessageWriter(client=s3, interval=0.2)} if args.get("--writer") == "s3" else {}
with open_dagster_pipes(
    context_loader=PipesS3ContextLoader(client=s3), params_loader=PipesCliArgsParamsLoader(), **writer
) as pipes:
    pipes.log.info("lossy job started")
    if "--exit-without-closing" in args:
        sys.stdout.flush()
        os._exit(0)
    payload = "x" * int(args.get("--metadata-bytes", "10"))
    pipes.report_asset_materialization(metadata={"payload": {"raw_value": payload, "type": "text"}})

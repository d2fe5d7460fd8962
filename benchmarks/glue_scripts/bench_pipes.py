"""Shared by the benchmark jobs: open Pipes with the message writer the benchmark asked for."""

import sys

import boto3
from dagster_pipes import PipesCliArgsParamsLoader, PipesS3ContextLoader, PipesS3MessageWriter, open_dagster_pipes

ARGS = dict(zip(sys.argv[1::2], sys.argv[2::2]))  # noqa: B905 - Python 3.9 has no strict=


def open_pipes():
    """--writer stdout (CloudWatch), s3 (dagster-pipes' writer) or s3-prompt (glue_jobs/'s)."""
    s3 = boto3.client("s3")
    writer = {}
    if ARGS.get("--writer") == "s3":
        writer["message_writer"] = PipesS3MessageWriter(client=s3, interval=float(ARGS["--s3-interval"]))
    elif ARGS.get("--writer") == "s3-prompt":
        from pipes_s3_writer import PromptS3MessageWriter

        writer["message_writer"] = PromptS3MessageWriter(client=s3, interval=float(ARGS["--s3-interval"]))
    return open_dagster_pipes(
        context_loader=PipesS3ContextLoader(client=s3), params_loader=PipesCliArgsParamsLoader(), **writer
    )

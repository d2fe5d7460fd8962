"""The endpoint's command line: `glue-pipes-local-aws` (also `python -m glue_pipes_local_aws`, what the
background server runs, and `glue-pipes local-aws`, which passes the project's settings in)."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from collections.abc import Sequence

from .credentials import credentials_for
from .daemon import PORT_SETTING, ensure_running, serve, status, stop
from .dev_session import run_with_endpoint
from .traffic import QuotaTable

DEFAULT_PORT = 4599
DEFAULT_REGION = "us-east-1"
PROG = "glue-pipes-local-aws"


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return command(argv)
    except RuntimeError as exc:  # port taken by something else, unsafe runtime directory, another user's endpoint
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 1


def command(
    argv: Sequence[str] | None = None,
    *,
    prog: str = PROG,
    port: int | None = None,
    region: str = DEFAULT_REGION,
    start_endpoint: bool = True,
) -> int:
    """Run one action; `port` and `region` are the defaults of `--port` and `--region`.

    `start_endpoint=False` makes `run` start nothing (the caller's AWS endpoint is not ours).
    Raises RuntimeError for what the user must fix (port taken, another user's endpoint).
    """
    default_port = os.environ.get(PORT_SETTING) or str(DEFAULT_PORT) if port is None else port
    args = _parser(prog, default_port, region).parse_args(argv)
    if args.action == "run":
        child = args.command[1:] if args.command[:1] == ["--"] else args.command
        if not child:
            print(f"{prog}: run needs a command after --", file=sys.stderr)
            return 2
        return run_with_endpoint(args.port if start_endpoint else None, child)
    if args.action == "env":
        url = ensure_running(args.port)
        credentials = credentials_for(url)
        assert credentials is not None  # ensure_running checked it is ours
        variables = {"AWS_ENDPOINT_URL": url, "AWS_DEFAULT_REGION": args.region, **credentials.environment()}
        print("\n".join(f"export {name}={shlex.quote(value)}" for name, value in variables.items()))
        return 0
    if args.action == "serve":
        serve(args.port, args.host, args.quotas)
        return 0
    if args.action == "start":
        print(ensure_running(args.port))
        return 0
    if args.action == "status":
        health = status(args.port)
        print(json.dumps(health) if health else f"not running on port {args.port}")
        return 0 if health else 1
    stopped = stop(args.port)
    print(f"stopped the local AWS endpoint on port {args.port}" if stopped else f"not running on port {args.port}")
    return 0


def _parser(prog: str, port: int | str, region: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description="The local AWS endpoint: S3 and CloudWatch Logs (moto), Glue job runs (ours)."
    )
    actions = parser.add_subparsers(dest="action", required=True)
    for action, help_text in (
        ("serve", "run in the foreground until interrupted"),
        ("start", "start in the background (reuses a running one)"),
        ("status", "say whether it is running"),
        ("stop", "stop the background endpoint and its job runs"),
        ("env", "print shell `export` lines for the AWS CLI/SDKs: endpoint, region, its credentials"),
        ("run", "start it, run the command after `--`, stop it when the command ends (what `make dev` runs)"),
    ):
        sub = actions.add_parser(action, help=help_text)
        # A string default goes through `type` too: a bad GLUE_PIPES_LOCAL_PORT is a usage error.
        sub.add_argument("--port", type=int, default=port, help=f"port (default: {port})")
        if action == "serve":
            sub.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
            sub.add_argument(
                "--quotas",
                type=_quota_spec,
                help="throttle calls as AWS does: 'aws' (AWS's default quotas), 'logs:GetLogEvents=10,...', "
                "or both; default: $GLUE_PIPES_LOCAL_QUOTAS, else off",
            )
        if action == "env":
            sub.add_argument("--region", default=region, help=f"the AWS_DEFAULT_REGION to export (default: {region})")
        if action == "run":
            sub.add_argument("command", nargs=argparse.REMAINDER, help="the command, after `--`")
    return parser


def _quota_spec(spec: str) -> str:
    try:
        QuotaTable.parse(spec)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from error
    return spec

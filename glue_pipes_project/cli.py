"""The ``glue-pipes`` command: deploy Glue jobs, and run the local AWS endpoint."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from glue_pipes_project.settings import DEFAULT_LOCAL_PORT, Settings, SettingsError


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    return args.handler(args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="glue-pipes", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    local = commands.add_parser("local-aws", help="the embedded local AWS endpoint (S3, CloudWatch Logs, Glue)")
    local_commands = local.add_subparsers(dest="action", required=True)
    for action, help_text in (
        ("serve", "run in the foreground until interrupted"),
        ("start", "start in the background (reuses a running one)"),
        ("status", "say whether it is running"),
        ("stop", "stop the background endpoint and its job runs"),
    ):
        sub = local_commands.add_parser(action, help=help_text)
        sub.add_argument(
            "--port", type=int, default=None, help=f"port (default: GLUE_PIPES_LOCAL_PORT or {DEFAULT_LOCAL_PORT})"
        )
        sub.set_defaults(handler=_local_aws)
    return parser


def _local_aws(args: argparse.Namespace) -> int:
    from glue_pipes_project import local_aws

    port = args.port or _settings().local_port
    if args.action == "serve":
        local_aws.serve(port)
        return 0
    if args.action == "start":
        print(local_aws.ensure_running(port))
        return 0
    if args.action == "status":
        status = local_aws.status(port)
        print(json.dumps(status) if status else f"not running on port {port}")
        return 0 if status else 1
    stopped = local_aws.stop(port)
    print(f"stopped the local AWS endpoint on port {port}" if stopped else f"not running on port {port}")
    return 0


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as exc:
        print(f"glue-pipes: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    sys.exit(main())

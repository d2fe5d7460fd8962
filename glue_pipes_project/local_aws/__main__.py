"""`python -m glue_pipes_project.local_aws serve --port N`: what the background server runs."""

from __future__ import annotations

import argparse

from .daemon import serve
from .traffic import QuotaTable


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m glue_pipes_project.local_aws")
    commands = parser.add_subparsers(dest="command", required=True)
    serve_parser = commands.add_parser("serve", help="run the local AWS endpoint in the foreground")
    serve_parser.add_argument("--port", type=int, required=True, help="port to listen on")
    serve_parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve_parser.add_argument(
        "--quotas",
        type=_quota_spec,
        help="throttle calls as AWS does: 'aws' (AWS's default quotas), 'logs:GetLogEvents=10,...', "
        "or both; default: $GLUE_PIPES_LOCAL_QUOTAS, else off",
    )
    args = parser.parse_args(argv)
    serve(args.port, args.host, args.quotas)


def _quota_spec(spec: str) -> str:
    try:
        QuotaTable.parse(spec)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from error
    return spec


if __name__ == "__main__":
    main()

"""`python -m glue_pipes_project.local_aws serve --port N`: what the background server runs."""

from __future__ import annotations

import argparse

from .daemon import serve


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m glue_pipes_project.local_aws")
    commands = parser.add_subparsers(dest="command", required=True)
    serve_parser = commands.add_parser("serve", help="run the local AWS endpoint in the foreground")
    serve_parser.add_argument("--port", type=int, required=True, help="port to listen on")
    serve_parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    args = parser.parse_args(argv)
    serve(args.port, args.host)


if __name__ == "__main__":
    main()

"""The ``glue-pipes`` command: deploy Glue jobs, and run the local AWS endpoint."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from glue_pipes_project.settings import DEFAULT_LOCAL_PORT, Settings, SettingsError


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    return args.handler(args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="glue-pipes", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    deploy = commands.add_parser(
        "deploy",
        help="upload glue_jobs/ to S3 and create/update the Glue jobs in jobs.yaml",
        description="Validate jobs.yaml, print the plan, then upload changed files (content-addressed) "
        "and create/update the Glue jobs. Exit codes: 0 done; 1 AWS or local endpoint error (refused, "
        "timed out, port taken by another program); 2 bad input (jobs.yaml, settings), nothing changed; "
        "3 changes found (--check), including S3 objects modified after deploy.",
    )
    deploy.add_argument("--manifest", help="jobs manifest (default: GLUE_PIPES_MANIFEST or glue_jobs/jobs.yaml)")
    deploy.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    deploy.add_argument(
        "--check",
        action="store_true",
        help="change nothing; exit 3 if the plan has changes or a deployed object's content was modified",
    )
    deploy.add_argument(
        "--prune", action="store_true", help="delete this environment's managed jobs that left the manifest"
    )
    deploy.add_argument("--json", action="store_true", help="print the plan or result as one JSON object on stdout")
    deploy.set_defaults(handler=_deploy)

    local = commands.add_parser("local-aws", help="the embedded local AWS endpoint (S3, CloudWatch Logs, Glue)")
    local_commands = local.add_subparsers(dest="action", required=True)
    for action, help_text in (
        ("serve", "run in the foreground until interrupted"),
        ("start", "start in the background (reuses a running one)"),
        ("status", "say whether it is running"),
        ("stop", "stop the background endpoint and its job runs"),
        ("env", "print shell `export` lines for the AWS CLI/SDKs: endpoint, region, its credentials"),
        ("run", "start it, run the command after `--`, stop it when the command ends (what `make dev` runs)"),
    ):
        sub = local_commands.add_parser(action, help=help_text)
        sub.add_argument(
            "--port",
            type=int,
            default=None,
            help=f"port (default: GLUE_PIPES_LOCAL_PORT from the environment or ./.env, or {DEFAULT_LOCAL_PORT})",
        )
        if action == "run":
            sub.add_argument(
                "--deploy",
                action="store_true",
                help="deploy glue_jobs/ to the endpoint (printing the plan) before the command starts",
            )
            sub.add_argument("command", nargs=argparse.REMAINDER, help="the command, after `--`")
        sub.set_defaults(handler=_local_aws)
    return parser


def _deploy(args: argparse.Namespace) -> int:
    from glue_pipes_project.aws import AwsClients, LocalEndpointError
    from glue_pipes_project.deploy.manifest import ManifestError
    from glue_pipes_project.deploy.naming import Naming
    from glue_pipes_project.deploy.plan import DeployError, deploy_project, load_project_manifest
    from glue_pipes_project.deploy.report import ProgressPrinter, format_plan, format_summary

    started = time.monotonic()
    settings = _settings({**os.environ, **_dotenv()})  # what `dg dev` and its runs see: ./.env too
    if args.manifest:
        settings = settings.model_copy(update={"manifest_path": args.manifest})
    # Human output goes to stderr when stdout carries JSON.
    out = sys.stderr if args.json else sys.stdout
    try:
        manifest = load_project_manifest(settings)  # before any AWS call: bad input changes nothing
        clients = AwsClients.connect(settings)
        root = f"s3://{settings.bucket}/{Naming.from_settings(settings).root_prefix}"
        endpoint = clients.endpoint_url or f"AWS {clients.region}"
        location = f"{settings.environment} environment, {root}, {endpoint}"
        apply = not (args.dry_run or args.check)
        plan = deploy_project(
            settings,
            clients,
            manifest=manifest,
            prune=args.prune,
            dry_run=not apply,
            on_plan=lambda plan: print(format_plan(plan, location=location), file=out, flush=True),
            progress=ProgressPrinter(out),
        )
    except ManifestError as exc:
        print("\n".join(f"error: {problem}" for problem in exc.problems), file=sys.stderr)
        return 2
    except (DeployError, LocalEndpointError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except ClientError as exc:
        error = exc.response.get("Error", {})
        print(
            f"error: AWS {exc.operation_name} failed: {error.get('Code')}: {error.get('Message')}",
            file=sys.stderr,
        )
        return 1
    except BotoCoreError as exc:  # no credentials, endpoint unreachable, ...
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(format_summary(plan, applied=apply, seconds=time.monotonic() - started), file=out)
    if args.json:
        print(json.dumps({**plan.to_dict(), "environment": settings.environment, "dry_run": not apply}))
    return 3 if args.check and plan.has_changes else 0


def _local_aws(args: argparse.Namespace) -> int:
    # The port `dagster dev` will use: it reads ./.env too, and its values win.
    settings = _settings({**os.environ, **_dotenv()})
    try:
        return _local_aws_action(args, settings, args.port or settings.local_port)
    except RuntimeError as exc:  # port taken by something else, unsafe runtime directory, another user's endpoint
        print(f"glue-pipes: {exc}", file=sys.stderr)
        return 1


def _local_aws_action(args: argparse.Namespace, settings: Settings, port: int) -> int:
    from glue_pipes_project import local_aws

    if args.action == "run":
        from glue_pipes_project.local_aws.dev_session import run_with_endpoint

        command = args.command[1:] if args.command[:1] == ["--"] else args.command
        if not command:
            print("glue-pipes: local-aws run needs a command after --", file=sys.stderr)
            return 2
        # On AWS, or with an endpoint of the user's own choosing, there is nothing of ours to start.
        ours = settings.is_local and not settings.endpoint_url
        if args.deploy and ours:
            command = _deploy_before(port, command)
        elif args.deploy:
            print("glue-pipes: --deploy skipped: the endpoint is not ours; run `glue-pipes deploy`", file=sys.stderr)
        return run_with_endpoint(port if ours else None, command)
    if args.action == "env":
        from glue_pipes_project.local_aws.credentials import credentials_for

        url = local_aws.ensure_running(port)
        credentials = credentials_for(url)
        assert credentials is not None  # ensure_running checked it is ours
        variables = {"AWS_ENDPOINT_URL": url, "AWS_DEFAULT_REGION": settings.region, **credentials.environment()}
        print("\n".join(f"export {name}={shlex.quote(value)}" for name, value in variables.items()))
        return 0
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


def _deploy_before(port: int, command: list[str]) -> list[str]:
    """``command``, run once ``glue-pipes deploy`` to the endpoint on ``port`` (started by then) succeeded."""
    deploy = shlex.join([sys.executable, "-m", "glue_pipes_project.cli", "deploy"])
    return ["sh", "-c", f"GLUE_PIPES_LOCAL_PORT={port} {deploy} && exec {shlex.join(command)}"]


def _dotenv() -> dict[str, str]:
    from dotenv import dotenv_values  # python-dotenv: dagster's own .env reader

    path = Path.cwd() / ".env"
    return {key: value for key, value in dotenv_values(path).items() if value is not None} if path.exists() else {}


def _settings(environ: Mapping[str, str] | None = None) -> Settings:
    try:
        return Settings.from_env(environ)
    except SettingsError as exc:
        print(f"glue-pipes: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    sys.exit(main())

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
from typing import TYPE_CHECKING, get_args

from botocore.exceptions import BotoCoreError, ClientError

from glue_pipes_project import infra
from glue_pipes_project.settings import Environment, Settings, SettingsError

if TYPE_CHECKING:
    from glue_pipes_project.aws import AwsClients


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["local-aws"]:  # the endpoint's own command line parses the rest
        return _local_aws(arguments[1:])
    args = _parser().parse_args(arguments)
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

    teardown = commands.add_parser(
        "teardown",
        help="delete one environment's managed Glue jobs and its S3 prefix (never prod)",
        description="Delete the Glue jobs deploy made for one environment (name under its prefix and both "
        "glue-pipes tags) and every object under its S3 prefix (every version, if the bucket keeps versions); "
        "nothing else. Refuses prod. Exit codes: 0 done, also when nothing was there; 1 AWS or local endpoint "
        "error, or a delete failed (what remains is listed); 2 bad input (settings, prod), nothing changed.",
    )
    teardown.add_argument("--env", choices=get_args(Environment), help="environment (default: GLUE_PIPES_ENV)")
    teardown.add_argument("--branch", help="the branch environment's git branch (default: GLUE_PIPES_BRANCH)")
    teardown.add_argument("--dry-run", action="store_true", help="print what would be deleted, change nothing")
    teardown.add_argument("--json", action="store_true", help="print the result as one JSON object on stdout")
    teardown.set_defaults(handler=_teardown)

    infra.add_parser(commands)

    doctor = commands.add_parser(
        "doctor",
        help="check credentials, bucket, Pipes prefix, jobs, role and log groups before a real run",
        description="One line per check: pass, fail (with the fix) or skip. Exit codes: 0 no check failed; "
        "1 a check failed; 2 bad input (jobs.yaml, settings).",
    )
    doctor.add_argument("--manifest", help="jobs manifest (default: GLUE_PIPES_MANIFEST or glue_jobs/jobs.yaml)")
    doctor.add_argument("--json", action="store_true", help="print the report as one JSON object on stdout")
    doctor.set_defaults(handler=_doctor)

    # Listed for `--help` only: main() hands everything after `local-aws` to the endpoint's command line.
    commands.add_parser(
        "local-aws",
        help="the local AWS endpoint (S3, CloudWatch Logs, Glue): serve, start, status, stop, env, run "
        "(see `glue-pipes local-aws --help`); `run --deploy -- CMD` deploys glue_jobs/ before CMD starts",
    )
    return parser


def _deploy(args: argparse.Namespace) -> int:
    from glue_pipes_project.aws import AwsClients, LocalEndpointError
    from glue_pipes_project.deploy.manifest import ManifestError
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
        location = _location(settings, clients)
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
    except (ClientError, BotoCoreError) as exc:
        return _aws_failure(exc)
    print(format_summary(plan, applied=apply, seconds=time.monotonic() - started), file=out)
    if args.json:
        print(json.dumps({**plan.to_dict(), "environment": settings.environment, "dry_run": not apply}))
    return 3 if args.check and plan.has_changes else 0


def _teardown(args: argparse.Namespace) -> int:
    from glue_pipes_project.aws import AwsClients, LocalEndpointError
    from glue_pipes_project.deploy.naming import Naming
    from glue_pipes_project.deploy.report import ProgressPrinter
    from glue_pipes_project.deploy.teardown import (
        Teardown,
        TeardownError,
        TeardownRefused,
        format_teardown_plan,
        format_teardown_summary,
        refuse_prod,
    )

    started = time.monotonic()
    flags = {"GLUE_PIPES_ENV": args.env, "GLUE_PIPES_BRANCH": args.branch}
    given = {name: value for name, value in flags.items() if value is not None}
    settings = _settings({**os.environ, **_dotenv(), **given})  # what deploy reads, then the flags
    if args.branch is not None and settings.environment != "branch":
        print(
            f"error: --branch names a branch environment, not {settings.environment}: add --env branch", file=sys.stderr
        )
        return 2
    out = sys.stderr if args.json else sys.stdout
    try:
        naming = Naming.from_settings(settings)
        refuse_prod(naming)  # before any AWS call, or starting a local endpoint
        clients = AwsClients.connect(settings)
        teardown = Teardown(clients, naming, bucket=settings.bucket)
        plan = teardown.plan()
        print(format_teardown_plan(plan, location=_location(settings, clients)), file=out, flush=True)
        if not args.dry_run:
            teardown.apply(plan, ProgressPrinter(out))
    except TeardownRefused as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (TeardownError, LocalEndpointError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (ClientError, BotoCoreError) as exc:
        return _aws_failure(exc)
    print(format_teardown_summary(plan, applied=not args.dry_run, seconds=time.monotonic() - started), file=out)
    if args.json:
        print(json.dumps({**plan.to_dict(), "dry_run": args.dry_run}))
    return 0


def _location(settings: Settings, clients: AwsClients) -> str:
    """The environment, its S3 root and the endpoint a command acts on: the first line of its plan."""
    from glue_pipes_project.deploy.naming import Naming

    root = f"s3://{settings.bucket}/{Naming.from_settings(settings).root_prefix}"
    endpoint = clients.endpoint_url or f"AWS {clients.region}"
    return f"{settings.environment} environment, {root}, {endpoint}"


def _aws_failure(exc: ClientError | BotoCoreError) -> int:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        print(f"error: AWS {exc.operation_name} failed: {error.get('Code')}: {error.get('Message')}", file=sys.stderr)
    else:  # no credentials, endpoint unreachable, ...
        print(f"error: {exc}", file=sys.stderr)
    return 1


def _doctor(args: argparse.Namespace) -> int:
    from glue_pipes_project.deploy.manifest import ManifestError
    from glue_pipes_project.deploy.plan import load_project_manifest
    from glue_pipes_project.doctor import run_doctor

    settings = _settings({**os.environ, **_dotenv()})
    if args.manifest:
        settings = settings.model_copy(update={"manifest_path": args.manifest})
    out = sys.stderr if args.json else sys.stdout  # stdout carries only the JSON then
    try:
        manifest = load_project_manifest(settings)
        report = run_doctor(settings, manifest, on_check=lambda check: print(check.line(), file=out, flush=True))
    except ManifestError as exc:  # also a deployed job name over Glue's limit, found while checking jobs
        print("\n".join(f"error: {problem}" for problem in exc.problems), file=sys.stderr)
        return 2
    if args.json:
        print(report.to_json())
    return 0 if report.ok else 1


def _local_aws(arguments: list[str]) -> int:
    from glue_pipes_project.aws import LocalEndpointError, local_endpoint_command

    # The port `dagster dev` will use: it reads ./.env too, and its values win.
    settings = _settings({**os.environ, **_dotenv()})
    arguments = list(arguments)
    # `run --deploy -- CMD` (what `make dev` runs): deploy glue_jobs/ to the fresh endpoint, printing the
    # plan, before CMD starts. Ours because the endpoint package knows nothing of jobs.yaml.
    options = arguments[: arguments.index("--")] if "--" in arguments else arguments
    if arguments[:1] == ["run"] and "--deploy" in options:
        arguments.remove("--deploy")
        if settings.is_local and not settings.endpoint_url:
            at = arguments.index("--") + 1 if "--" in arguments else len(arguments)
            arguments[at:] = _deploy_before(settings.local_port, arguments[at:])
        else:
            print("glue-pipes: --deploy skipped: the endpoint is not ours; run `glue-pipes deploy`", file=sys.stderr)
    try:
        return local_endpoint_command(arguments, settings)
    except LocalEndpointError as exc:
        print(f"glue-pipes: {exc}", file=sys.stderr)
        return 1


def _deploy_before(port: int, command: list[str]) -> list[str]:
    """``command``, run once ``glue-pipes deploy`` to the endpoint on ``port`` (started by then) succeeded."""
    if not command:
        return command  # the endpoint's command line says a command is needed
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

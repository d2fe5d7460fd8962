"""``glue-pipes doctor``: a preflight of everything a real run needs, one line per check.

Each check reads (and the S3 probe writes one object under the Pipes prefix, then deletes it) and
says pass, fail or skip, with the fix for a failure. It exists because the usual first-run failure
hides: dagster-aws's S3 message reader takes every ``ClientError`` (AccessDenied included) for "no
messages yet", so a missing grant looks like a script that never reported. Whether jobs match the
repository is the deploy's own read-only plan (``deploy.plan.job_drift``), not a second copy of it.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from importlib import metadata
from typing import Any, Literal

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from glue_pipes_project.aws import AwsClients, LocalEndpointError
from glue_pipes_project.deploy.artifact_integrity import deployed_artifact_keys
from glue_pipes_project.deploy.artifacts import pipes_artifact
from glue_pipes_project.deploy.manifest import Manifest
from glue_pipes_project.deploy.naming import Naming
from glue_pipes_project.deploy.plan import DEPLOY_FIX, job_drift
from glue_pipes_project.settings import Settings

Status = Literal["pass", "fail", "skip"]
# Where Glue writes a run's stdout and stderr (its default LogGroupName plus the stream's suffix).
GLUE_LOG_GROUPS = ("/aws-glue/jobs/output", "/aws-glue/jobs/error")
PUBLIC_ACCESS_BLOCKS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
_DENIED = ("AccessDenied", "AccessDeniedException", "403", "UnauthorizedOperation")
_NOT_IMPLEMENTED = ("NotImplemented", "501")
_PIPES_ZIP = re.compile(r"/dagster_pipes-([^/]+)\.zip$")
_SKIP_LOCAL = "local mode: the local endpoint does not model this; run doctor with GLUE_PIPES_MODE=aws"


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str | None = None

    def line(self) -> str:
        text = f"{self.status.upper():4}  {self.name}: {self.detail}"
        return f"{text}\n      fix: {self.fix}" if self.fix else text


@dataclass(frozen=True)
class Report:
    environment: str
    mode: str
    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        return all(check.status != "fail" for check in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "mode": self.mode,
            "environment": self.environment,
            "checks": [asdict(check) for check in self.checks],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict())


def run_doctor(settings: Settings, manifest: Manifest, on_check: Callable[[Check], None] = lambda _: None) -> Report:
    """Every check in order; ``on_check`` sees each as it completes (the command prints it at once)."""
    checks: list[Check] = []
    for check in _checks(settings, manifest):
        on_check(check)
        checks.append(check)
    return Report(settings.environment, settings.mode, tuple(checks))


def _checks(settings: Settings, manifest: Manifest) -> Iterator[Check]:
    try:
        clients = AwsClients.connect(settings)
    except LocalEndpointError as exc:
        yield Check("credentials", "fail", str(exc), "start the endpoint with `glue-pipes local-aws start`")
        return
    identity = _identity(clients)
    yield identity
    if identity.status == "fail":  # every other check would fail the same way
        yield Check("remaining checks", "skip", "skipped: they need working credentials")
        return
    yield _region(settings)
    bucket = _bucket(settings, clients)
    yield bucket
    if settings.is_local:
        yield Check("bucket encryption", "skip", f"skipped: {_SKIP_LOCAL}")
        yield Check("bucket public access", "skip", f"skipped: {_SKIP_LOCAL}")
    elif bucket.status == "pass":
        yield _encryption(settings, clients)
        yield _public_access(settings, clients)
    yield _probe(settings, clients)
    yield from _jobs(settings, clients, manifest)
    yield _pipes_version(settings, clients, manifest)
    yield _role(settings, clients)
    yield _log_groups(clients)


# -- one function per check ------------------------------------------------------------------------


def _identity(clients: AwsClients) -> Check:
    try:
        who = clients.sts.get_caller_identity()
    except (ClientError, BotoCoreError) as exc:
        return Check(
            "credentials",
            "fail",
            f"sts:GetCallerIdentity failed: {_error(exc)}",
            "configure AWS credentials (AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or the "
            "role your platform provides) and check the endpoint is reachable",
        )
    return Check("credentials", "pass", f"{who['Arn']} (account {who['Account']})")


def _region(settings: Settings) -> Check:
    session = boto3.session.Session()
    regions = {
        r for partition in session.get_available_partitions() for r in session.get_available_regions("glue", partition)
    }
    if settings.region not in regions:
        return Check(
            "region",
            "fail",
            f"{settings.region!r} is not a region AWS Glue is offered in",
            "set GLUE_PIPES_REGION (or AWS_REGION) to a Glue region, e.g. us-east-1",
        )
    return Check("region", "pass", f"{settings.region} (AWS Glue is offered there)")


def _bucket(settings: Settings, clients: AwsClients) -> Check:
    name = f"bucket s3://{settings.bucket}"
    try:
        clients.s3.head_bucket(Bucket=settings.bucket)
        location = clients.s3.get_bucket_location(Bucket=settings.bucket).get("LocationConstraint") or "us-east-1"
    except ClientError as exc:
        if _code(exc) in ("404", "NoSuchBucket"):
            fix = (
                "run `glue-pipes deploy`, which creates the local bucket"
                if settings.is_local
                else "create it (the infra/ stack) or set GLUE_PIPES_BUCKET to the bucket that stack created"
            )
            return Check(name, "fail", "does not exist", fix)
        return Check(name, "fail", f"not reachable: {_error(exc)}", "grant these credentials s3:ListBucket on it")
    except BotoCoreError as exc:
        return Check(name, "fail", f"not reachable: {exc}", "check network access to S3")
    if location != settings.region:
        return Check(
            name,
            "fail",
            f"is in {location}, Glue runs in {settings.region}",
            "use a bucket in the Glue region, or set GLUE_PIPES_REGION to the bucket's region",
        )
    return Check(name, "pass", f"reachable, in {location}")


def _encryption(settings: Settings, clients: AwsClients) -> Check:
    name = "bucket encryption"
    try:
        rules = clients.s3.get_bucket_encryption(Bucket=settings.bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    except ClientError as exc:
        if _code(exc) == "ServerSideEncryptionConfigurationNotFoundError":
            return Check(
                name,
                "fail",
                "no default encryption configured",
                f"aws s3api put-bucket-encryption --bucket {settings.bucket} --server-side-encryption-configuration "
                '\'{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"AES256"}}]}\'',
            )
        return _unreadable(name, exc, "s3:GetEncryptionConfiguration")
    algorithms = sorted({rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] for rule in rules})
    return Check(name, "pass", f"default encryption {', '.join(algorithms)}")


def _public_access(settings: Settings, clients: AwsClients) -> Check:
    name = "bucket public access"
    fix = (
        f"aws s3api put-public-access-block --bucket {settings.bucket} --public-access-block-configuration "
        + ",".join(f"{flag}=true" for flag in PUBLIC_ACCESS_BLOCKS)
    )
    try:
        config = clients.s3.get_public_access_block(Bucket=settings.bucket)["PublicAccessBlockConfiguration"]
    except ClientError as exc:
        if _code(exc) == "NoSuchPublicAccessBlockConfiguration":
            return Check(name, "fail", "no public access block on the bucket", fix)
        return _unreadable(name, exc, "s3:GetBucketPublicAccessBlock")
    off = [flag for flag in PUBLIC_ACCESS_BLOCKS if not config.get(flag)]
    if off:
        return Check(name, "fail", f"not blocked: {', '.join(off)} off", fix)
    return Check(name, "pass", "all four public access blocks on")


def _probe(settings: Settings, clients: AwsClients) -> Check:
    """What a run does under the Pipes prefix: Dagster writes the context, reads messages, deletes."""
    key = f"{Naming.from_settings(settings).pipes_prefix}doctor-probe-{uuid.uuid4().hex}"
    name = f"pipes prefix s3://{settings.bucket}/{key.rsplit('/', 1)[0]}/"
    s3 = clients.s3
    steps: list[tuple[str, str, Callable[[], Any]]] = [
        (
            "PutObject",
            "s3:PutObject",
            lambda: s3.put_object(Bucket=settings.bucket, Key=key, Body=b"glue-pipes doctor"),
        ),
        ("HeadObject", "s3:GetObject", lambda: s3.head_object(Bucket=settings.bucket, Key=key)),
        ("GetObject", "s3:GetObject", lambda: s3.get_object(Bucket=settings.bucket, Key=key)["Body"].read()),
        ("DeleteObject", "s3:DeleteObject", lambda: s3.delete_object(Bucket=settings.bucket, Key=key)),
    ]
    for operation, action, call in steps:
        try:
            call()
        except (ClientError, BotoCoreError) as exc:
            left = "" if operation == "PutObject" else f" (probe object s3://{settings.bucket}/{key} may be left)"
            return Check(
                name,
                "fail",
                f"{operation} failed: {_error(exc)}{left}; Pipes messages would never arrive",
                f"grant {action} on arn:aws:s3:::{settings.bucket}/{Naming.from_settings(settings).pipes_prefix}*",
            )
    return Check(name, "pass", "put, head, get and delete of a probe object work")


def _jobs(settings: Settings, clients: AwsClients, manifest: Manifest) -> Iterator[Check]:
    for job in manifest.jobs:
        try:
            drift = job_drift(settings, clients, manifest, job)
        except (ClientError, BotoCoreError) as exc:
            yield Check(f"job {job}", "fail", f"cannot read the deployed job: {_error(exc)}", DEPLOY_FIX)
            continue
        yield Check(
            f"job {job}", "pass" if drift.in_sync else "fail", drift.describe(), None if drift.in_sync else DEPLOY_FIX
        )


def _pipes_version(settings: Settings, clients: AwsClients, manifest: Manifest) -> Check:
    name = "dagster-pipes shipped"
    installed = pipes_artifact()
    version = metadata.version("dagster-pipes")
    naming = Naming.from_settings(settings)
    wanted = naming.artifact_key(installed.sha256, installed.filename)
    try:
        keys = deployed_artifact_keys(clients.glue, settings.bucket, [naming.job_name(job) for job in manifest.jobs])
    except (ClientError, BotoCoreError) as exc:
        return Check(name, "fail", f"cannot read the deployed jobs: {_error(exc)}", DEPLOY_FIX)
    shipped = {key: job for key, job in keys.items() if _PIPES_ZIP.search(key)}
    if not shipped:
        return Check(name, "skip", "skipped: no deployed job ships dagster-pipes yet")
    other = {key: job for key, job in shipped.items() if key != wanted}
    if not other:
        return Check(name, "pass", f"the deployed jobs ship dagster-pipes {version}, the installed version")
    found = "; ".join(f"Glue job {job!r} ships {_shipped_version(key, version)}" for key, job in sorted(other.items()))
    return Check(name, "fail", f"installed dagster-pipes {version}, but {found}", DEPLOY_FIX)


def _shipped_version(key: str, installed: str) -> str:
    match = _PIPES_ZIP.search(key)
    shipped = match.group(1) if match else "?"
    if shipped == installed:  # same version number, other bytes: e.g. an edited installed package
        return f"dagster-pipes {shipped} with other content"
    return f"dagster-pipes {shipped}"


def _role(settings: Settings, clients: AwsClients) -> Check:
    name = f"Glue role {settings.role_arn}"
    if settings.is_local:
        return Check(name, "skip", f"skipped: {_SKIP_LOCAL} (the local Glue assumes no role)")
    # Not in AwsClients: only this check calls IAM, with the same credentials chain and endpoint.
    iam = boto3.session.Session(region_name=settings.region).client("iam", endpoint_url=clients.endpoint_url)
    role_name = settings.role_arn.rsplit("/", 1)[-1]
    try:
        role = iam.get_role(RoleName=role_name)["Role"]
    except ClientError as exc:
        if _code(exc) == "NoSuchEntity":
            return Check(name, "fail", "does not exist", "create it (the infra/ stack) or fix GLUE_PIPES_ROLE_ARN")
        return _unreadable(name, exc, "iam:GetRole")
    except BotoCoreError as exc:
        return Check(name, "skip", f"skipped: IAM not reachable ({exc})")
    if role["Arn"] != settings.role_arn:
        return Check(name, "fail", f"a role of that name exists as {role['Arn']}", "fix GLUE_PIPES_ROLE_ARN")
    if "glue.amazonaws.com" not in json.dumps(role.get("AssumeRolePolicyDocument", {})):
        return Check(
            name,
            "fail",
            "its trust policy does not let glue.amazonaws.com assume it: Glue cannot run jobs as it",
            "trust glue.amazonaws.com in the role's trust policy (as the infra/ stack does)",
        )
    return Check(name, "pass", "exists and trusts glue.amazonaws.com (iam:PassRole is exercised by deploy)")


def _log_groups(clients: AwsClients) -> Check:
    """GetLogEvents on a stream that never exists: AWS authorizes before it looks, so "not found" is a pass."""
    name = "Glue log groups"
    for group in GLUE_LOG_GROUPS:
        try:
            clients.logs.get_log_events(logGroupName=group, logStreamName="glue-pipes-doctor-probe", limit=1)
        except ClientError as exc:
            if _code(exc) == "ResourceNotFoundException":
                continue
            return Check(
                name,
                "fail",
                f"logs:GetLogEvents on {group} failed: {_error(exc)}; runs would show no logs or messages",
                f"grant logs:GetLogEvents on arn:aws:logs:*:*:log-group:{group}:*",
            )
        except BotoCoreError as exc:
            return Check(
                name, "fail", f"CloudWatch Logs not reachable: {exc}", "check network access to CloudWatch Logs"
            )
    return Check(name, "pass", f"{', '.join(GLUE_LOG_GROUPS)} readable (logs:GetLogEvents allowed)")


# -- helpers ---------------------------------------------------------------------------------------


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _error(exc: ClientError | BotoCoreError) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code')}: {error.get('Message') or exc.operation_name}"
    return str(exc)


def _unreadable(name: str, exc: ClientError, action: str) -> Check:
    """Settings these credentials may not read, or the endpoint does not serve: unknown, so skipped."""
    code = _code(exc)
    if code in _NOT_IMPLEMENTED:
        return Check(name, "skip", f"skipped: the endpoint does not implement {exc.operation_name}")
    if code in _DENIED:
        return Check(name, "skip", f"skipped: these credentials may not call {action} ({code})")
    return Check(name, "fail", f"{exc.operation_name} failed: {_error(exc)}")

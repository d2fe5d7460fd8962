"""Settings: environment variables → one typed, validated ``Settings`` object.

Every knob of the project is read here and nowhere else; README.md and .env.example document the
same names. An explicit variable always wins over detection.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Literal, cast

from dagster import Config

Mode = Literal["local", "aws"]
Environment = Literal["local", "branch", "prod"]

LOCAL_REGION = "us-east-1"
LOCAL_BUCKET = "glue-pipes-local"
LOCAL_ROLE_ARN = "arn:aws:iam::123456789012:role/glue-pipes-local"
DEFAULT_LOCAL_PORT = 4599
DEFAULT_S3_PREFIX = "glue-pipes"
# Per attempt; a timed-out call is retried once (aws.py), so a silent endpoint fails in about
# 2 x (connect + read) seconds instead of botocore's 60 s read timeout times every retry attempt.
DEFAULT_AWS_CONNECT_TIMEOUT = 10.0
DEFAULT_AWS_READ_TIMEOUT = 30.0
# S3 bucket naming rules (docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html):
# 3-63 characters, lowercase letters, digits, '.', '-', starting and ending with a letter or digit.
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_BUCKET_RESERVED = (("xn--", "sthree-", "amzn-s3-demo-"), ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"))
_JOB_PREFIX = re.compile(r"^[A-Za-z0-9_.-]*$")
# S3's "safe characters" for keys, and no empty or dot-only path segments.
_S3_PREFIX = re.compile(r"^(?:(?!\.{1,2}(?:/|$))[A-Za-z0-9_.-]+(?:/|$))+$")
_BRANCH_SLUG_LENGTH = 40


class SettingsError(ValueError):
    pass


class Settings(Config):
    """What the code location needs to reach Glue, resolved from the environment.

    A Dagster ``Config`` so resources can carry it and the UI shows the values in effect.
    """

    mode: Mode
    environment: Environment
    branch: str | None = None
    region: str
    endpoint_url: str | None = None
    bucket: str
    s3_prefix: str
    role_arn: str
    job_name_prefix: str
    local_port: int
    manifest_path: str
    aws_connect_timeout_seconds: float = DEFAULT_AWS_CONNECT_TIMEOUT
    aws_read_timeout_seconds: float = DEFAULT_AWS_READ_TIMEOUT

    @property
    def is_local(self) -> bool:
        return self.mode == "local"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        mode = get("GLUE_PIPES_MODE") or ("aws" if get("DAGSTER_CLOUD_DEPLOYMENT_NAME") else "local")
        if mode not in ("local", "aws"):
            raise SettingsError(f"GLUE_PIPES_MODE must be 'local' or 'aws' (got {mode!r})")

        is_branch = get("DAGSTER_CLOUD_IS_BRANCH_DEPLOYMENT") == "1"
        environment = get("GLUE_PIPES_ENV") or ("local" if mode == "local" else "branch" if is_branch else "prod")
        if environment not in ("local", "branch", "prod"):
            raise SettingsError(f"GLUE_PIPES_ENV must be 'local', 'branch' or 'prod' (got {environment!r})")
        branch = None
        if environment == "branch":
            raw_branch = get("GLUE_PIPES_BRANCH") or get("DAGSTER_CLOUD_GIT_BRANCH")
            if not raw_branch:
                raise SettingsError("a branch environment needs GLUE_PIPES_BRANCH or DAGSTER_CLOUD_GIT_BRANCH")
            branch = branch_id(raw_branch)

        if mode == "local":
            region = get("GLUE_PIPES_REGION") or LOCAL_REGION
            bucket = get("GLUE_PIPES_BUCKET") or LOCAL_BUCKET
            role_arn = get("GLUE_PIPES_ROLE_ARN") or LOCAL_ROLE_ARN
        else:
            missing = [name for name in ("GLUE_PIPES_BUCKET", "GLUE_PIPES_ROLE_ARN") if not get(name)]
            region = get("GLUE_PIPES_REGION") or get("AWS_REGION") or get("AWS_DEFAULT_REGION") or ""
            if not region:
                missing.append("GLUE_PIPES_REGION (or AWS_REGION)")
            if missing:
                raise SettingsError(
                    "GLUE_PIPES_MODE=aws needs these environment variables: "
                    + ", ".join(missing)
                    + " (see README.md, 'Settings')"
                )
            bucket = get("GLUE_PIPES_BUCKET") or ""
            role_arn = get("GLUE_PIPES_ROLE_ARN") or ""
        _check_bucket(bucket)
        job_name_prefix = get("GLUE_PIPES_JOB_PREFIX") or ""
        if not _JOB_PREFIX.fullmatch(job_name_prefix):
            raise SettingsError(
                f"GLUE_PIPES_JOB_PREFIX may hold letters, digits, '_', '.', '-' only (got {job_name_prefix!r})"
            )

        port_text = get("GLUE_PIPES_LOCAL_PORT") or str(DEFAULT_LOCAL_PORT)
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise SettingsError(f"GLUE_PIPES_LOCAL_PORT must be a port number (got {port_text!r})")

        s3_prefix = (get("GLUE_PIPES_S3_PREFIX") or DEFAULT_S3_PREFIX).strip("/")
        if not _S3_PREFIX.fullmatch(s3_prefix):
            raise SettingsError(
                f"GLUE_PIPES_S3_PREFIX may hold letters, digits, '/', '_', '.', '-' only (got {s3_prefix!r})"
            )
        connect_timeout = _seconds(get, "GLUE_PIPES_AWS_CONNECT_TIMEOUT", DEFAULT_AWS_CONNECT_TIMEOUT)
        read_timeout = _seconds(get, "GLUE_PIPES_AWS_READ_TIMEOUT", DEFAULT_AWS_READ_TIMEOUT)

        return cls(
            mode=cast(Mode, mode),  # both checked against their Literal values above
            environment=cast(Environment, environment),
            branch=branch,
            region=region,
            endpoint_url=get("GLUE_PIPES_ENDPOINT_URL"),
            bucket=bucket,
            s3_prefix=s3_prefix,
            role_arn=role_arn,
            job_name_prefix=job_name_prefix,
            local_port=int(port_text),
            manifest_path=get("GLUE_PIPES_MANIFEST") or str(default_manifest_path()),
            aws_connect_timeout_seconds=connect_timeout,
            aws_read_timeout_seconds=read_timeout,
        )


def default_manifest_path() -> Path:
    """``glue_jobs/jobs.yaml`` beside the package in a checkout, inside it when installed as a wheel."""
    package = Path(__file__).resolve().parent
    bundled = package / "glue_jobs" / "jobs.yaml"
    return bundled if bundled.is_file() else package.parent / "glue_jobs" / "jobs.yaml"


def branch_id(branch: str) -> str:
    """A readable slug plus a hash of the exact name: ``feat/a`` and ``feat-a`` never share an environment.

    The id goes into Glue job names and S3 keys, so it stays short (at most 49 characters) and plain.
    8 hex digits (32 bits) make an accidental clash about 1 in 4 billion per pair of branches.
    """
    slug = re.sub(r"[^a-z0-9-]+", "-", branch.lower()).strip("-")[:_BRANCH_SLUG_LENGTH].strip("-") or "branch"
    return f"{slug}-{hashlib.sha256(branch.encode()).hexdigest()[:8]}"


def _check_bucket(bucket: str) -> None:
    prefixes, suffixes = _BUCKET_RESERVED
    valid = (
        _BUCKET.fullmatch(bucket)
        and ".." not in bucket
        and not bucket.startswith(prefixes)
        and not bucket.endswith(suffixes)
        and not _is_ip_address(bucket)
    )
    if not valid:
        raise SettingsError(
            f"GLUE_PIPES_BUCKET is not a valid S3 bucket name (got {bucket!r}): use 3-63 lowercase letters, "
            "digits, '.' or '-', starting and ending with a letter or digit"
        )


def _is_ip_address(text: str) -> bool:
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True


def _seconds(get: Callable[[str], str | None], name: str, default: float) -> float:
    text = get(name)
    if text is None:
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 3600:
        raise SettingsError(f"{name} must be a number of seconds between 0 and 3600 (got {text!r})")
    return value

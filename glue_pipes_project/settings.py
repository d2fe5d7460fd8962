"""Settings: environment variables → one typed, validated ``Settings`` object.

Every knob of the project is read here and nowhere else; README.md and .env.example document the
same names. An explicit variable always wins over detection.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from dagster import Config

Mode = Literal["local", "aws"]
Environment = Literal["local", "branch", "prod"]

LOCAL_REGION = "us-east-1"
LOCAL_BUCKET = "glue-pipes-local"
LOCAL_ROLE_ARN = "arn:aws:iam::123456789012:role/glue-pipes-local"
DEFAULT_LOCAL_PORT = 4599
DEFAULT_S3_PREFIX = "glue-pipes"


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
    deploy_on_run: bool

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
            branch = _slug(raw_branch)

        if mode == "local":
            region = get("GLUE_PIPES_REGION") or LOCAL_REGION
            bucket = get("GLUE_PIPES_BUCKET") or LOCAL_BUCKET
            role_arn = get("GLUE_PIPES_ROLE_ARN") or LOCAL_ROLE_ARN
        else:
            missing = [name for name in ("GLUE_PIPES_BUCKET", "GLUE_PIPES_ROLE_ARN") if not get(name)]
            region = get("GLUE_PIPES_REGION") or get("AWS_REGION") or get("AWS_DEFAULT_REGION")
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

        port_text = get("GLUE_PIPES_LOCAL_PORT") or str(DEFAULT_LOCAL_PORT)
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise SettingsError(f"GLUE_PIPES_LOCAL_PORT must be a port number (got {port_text!r})")

        deploy_on_run = (get("GLUE_PIPES_DEPLOY_ON_RUN") or str(mode == "local")).lower()
        if deploy_on_run not in ("true", "false", "1", "0"):
            raise SettingsError(f"GLUE_PIPES_DEPLOY_ON_RUN must be true or false (got {deploy_on_run!r})")

        return cls(
            mode=mode,
            environment=environment,
            branch=branch,
            region=region,
            endpoint_url=get("GLUE_PIPES_ENDPOINT_URL"),
            bucket=bucket,
            s3_prefix=(get("GLUE_PIPES_S3_PREFIX") or DEFAULT_S3_PREFIX).strip("/"),
            role_arn=role_arn,
            job_name_prefix=get("GLUE_PIPES_JOB_PREFIX") or "",
            local_port=int(port_text),
            manifest_path=get("GLUE_PIPES_MANIFEST") or str(default_manifest_path()),
            deploy_on_run=deploy_on_run in ("true", "1"),
        )


def default_manifest_path() -> Path:
    """``glue_jobs/jobs.yaml`` beside the package in a checkout, inside it when installed as a wheel."""
    package = Path(__file__).resolve().parent
    bundled = package / "glue_jobs" / "jobs.yaml"
    return bundled if bundled.is_file() else package.parent / "glue_jobs" / "jobs.yaml"


def _slug(text: str) -> str:
    # Branch names become part of Glue job names and S3 keys: keep them short and plain.
    return re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:40] or "branch"

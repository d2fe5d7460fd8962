"""Helpers shared by tests."""

import functools
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import dagster as dg

from glue_pipes_local_aws import LocalAWS
from glue_pipes_project.aws import AwsClients
from glue_pipes_project.deploy.plan import deploy_project
from glue_pipes_project.settings import Settings

TEST_SCRIPTS = Path(__file__).resolve().parent / "glue_scripts"


@functools.cache
def shared_instance() -> dg.DagsterInstance:
    """One in-memory Dagster instance per test process: each new one re-runs its storage migrations.

    For tests that read their own run's events by run id; a test that looks at all runs makes its own.
    """
    return dg.DagsterInstance.ephemeral()


def local_settings(aws: LocalAWS, **overrides: str) -> Settings:
    """Settings as a user in local mode gets them, aimed at the test session's endpoint."""
    return Settings.from_env({"GLUE_PIPES_ENDPOINT_URL": aws.endpoint_url, **overrides})


def deployed_test_jobs(aws: LocalAWS, job_prefix: str, s3_prefix: str) -> Settings:
    """Settings for tests/glue_scripts/jobs.yaml, deployed once under its own job and S3 prefixes."""
    settings = local_settings(
        aws,
        GLUE_PIPES_MANIFEST=str(TEST_SCRIPTS / "jobs.yaml"),
        GLUE_PIPES_JOB_PREFIX=job_prefix,
        GLUE_PIPES_S3_PREFIX=s3_prefix,
    )
    deploy_project(settings, AwsClients.connect(settings))
    return settings


T = TypeVar("T")


def wait_until(check: Callable[[], T | None], timeout: float = 20.0, what: str = "condition") -> T:
    """Poll ``check`` until it returns something truthy; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")

"""Helpers shared by tests."""

import time
from collections.abc import Callable
from typing import TypeVar

from glue_pipes_project.local_aws import LocalAWS
from glue_pipes_project.settings import Settings


def local_settings(aws: LocalAWS, **overrides: str) -> Settings:
    """Settings as a user in local mode gets them, aimed at the test session's endpoint."""
    return Settings.from_env({"GLUE_PIPES_ENDPOINT_URL": aws.endpoint_url, **overrides})


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

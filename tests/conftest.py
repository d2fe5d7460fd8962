"""Shared fixtures: one local AWS endpoint per test session, and settings that point at it."""

import os
from collections.abc import Iterator

import pytest

from glue_pipes_local_aws import LocalAWS

# `requires_spark` (tests/spark.py): skip, or fail under GLUE_PIPES_REQUIRE_SYSTEM_DEPS=1, without Spark.
pytest_plugins = ["tests.spark"]

# One emulated Glue minute lasts this many seconds, so Timeout (whole minutes) is testable.
MINUTE_SECONDS = 3.0


@pytest.fixture(scope="session", autouse=True)
def dagster_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Every Dagster CLI a test starts gets an existing, empty DAGSTER_HOME, whatever ran before it."""
    home = str(tmp_path_factory.mktemp("dagster_home"))
    previous = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = home
    yield home
    if previous is None:
        os.environ.pop("DAGSTER_HOME", None)
    else:
        os.environ["DAGSTER_HOME"] = previous


@pytest.fixture(scope="session")
def local_aws() -> Iterator[LocalAWS]:
    with LocalAWS(minute_seconds=MINUTE_SECONDS) as aws:
        yield aws

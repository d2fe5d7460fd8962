"""Shared fixtures: one local AWS endpoint per test session, and settings that point at it."""

from collections.abc import Iterator

import pytest

from glue_pipes_project.local_aws import LocalAWS

# One emulated Glue minute lasts this many seconds, so Timeout (whole minutes) is testable.
MINUTE_SECONDS = 3.0


@pytest.fixture(scope="session")
def local_aws() -> Iterator[LocalAWS]:
    with LocalAWS(minute_seconds=MINUTE_SECONDS) as aws:
        yield aws

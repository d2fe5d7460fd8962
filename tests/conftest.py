"""Shared fixtures: one local AWS endpoint per test session, and settings that point at it."""

from collections.abc import Iterator

import pytest

from glue_pipes_project.local_aws import LocalAWS


@pytest.fixture(scope="session")
def local_aws() -> Iterator[LocalAWS]:
    with LocalAWS() as aws:
        yield aws

"""Shared fixtures: one local AWS endpoint per test session, and settings that point at it."""

import gc
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


@pytest.hookimpl(trylast=True)  # after pytest-randomly's shuffle: the same order on every xdist worker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Spread the tests marked `waits` over the gaps between the other modules in the first two thirds.

    They mostly wait (on Glue runs, and on upstream's fixed 5 s polls and 10 s log waits). Kept together,
    they would leave the CPU idle for their stretch of the session; spread, their waits overlap other
    tests' work, and the session does not end on one of them. Other modules stay in one piece, so their
    module fixtures are set up once per worker.
    """
    waiting = [item for item in items if item.get_closest_marker("waits")]
    others = [item for item in items if not item.get_closest_marker("waits")]
    if not waiting or not others:
        return
    # The positions in `others` where one module ends and the next begins.
    boundaries = [i for i in range(1, len(others)) if others[i].path != others[i - 1].path]
    gaps = [i for i in boundaries if i <= 2 * len(others) // 3] or boundaries[:1] or [len(others)]
    placed: dict[int, list[pytest.Item]] = {}
    for n, item in enumerate(waiting):
        placed.setdefault(gaps[n * len(gaps) // len(waiting)], []).append(item)
    items[:] = [item for i, other in enumerate(others) for item in (*placed.get(i, []), other)] + placed.get(
        len(others), []
    )


def pytest_collection_finish(session: pytest.Session) -> None:
    """Less time in Python's garbage collector, which took about a quarter of a worker's CPU.

    Everything imported by then (Dagster, botocore, moto) is moved out of the collector's reach, and the
    young generation is collected every 10,000 allocations instead of 700. Measured on four modules run
    serially: 20.8 s of CPU, 4.8 s of it collecting; then 14.4 s, 1.1 s of it collecting.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 20, 20)

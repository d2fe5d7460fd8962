"""`requires_spark`: tests that need Spark (pyspark and Java) skip without it, saying what to install.

GLUE_PIPES_REQUIRE_SYSTEM_DEPS=1 (set by .ci/run) turns that skip into a failure, so CI never skips them.
The check is the local endpoint's own (what its glueetl runs would get). tests/conftest.py loads this
module as a plugin: `pytestmark = requires_spark` (or the decorator) on a module or test that needs Spark.
"""

import os

import pytest

from glue_pipes_local_aws.glue.runtime import find_spark

requires_spark = pytest.mark.requires_spark


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "requires_spark: needs pyspark and Java (tests/spark.py)")


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("requires_spark") is None:
        return
    missing = find_spark()[2]
    if missing is None:
        return
    message = f"needs Spark ({missing}): install Java 17 and the spark dependency group (make test SPARK=1)"
    if os.environ.get("GLUE_PIPES_REQUIRE_SYSTEM_DEPS") == "1":
        pytest.fail(f"{message} (GLUE_PIPES_REQUIRE_SYSTEM_DEPS=1 makes a missing system dependency a failure)")
    pytest.skip(message)

"""`requires_spark`: tests that need pyspark and Java skip without them, saying what to install; under
GLUE_PIPES_REQUIRE_SYSTEM_DEPS=1 (set by .ci/run) collecting them fails instead."""

import importlib.util
import os
import shutil

import pytest


def _missing() -> str | None:
    if importlib.util.find_spec("pyspark") is None:
        return "pyspark is not installed: install the spark dependency group"
    if shutil.which("java") is None:
        return "java is not on PATH: install Java 17 (apt install openjdk-17-jre-headless)"
    return None


_MISSING = _missing()
if _MISSING and os.environ.get("GLUE_PIPES_REQUIRE_SYSTEM_DEPS") == "1":
    pytest.fail(f"{_MISSING} (GLUE_PIPES_REQUIRE_SYSTEM_DEPS=1 makes a missing system dependency a failure)")

requires_spark = pytest.mark.skipif(_MISSING is not None, reason=f"the Spark tests need Spark: {_MISSING}")

"""A local `awsglue` over pyspark: GlueContext, DynamicFrame, transforms and Job for local glueetl runs.

Submodules are looked up here first (context, dynamicframe, transforms, job), then in the official
package (AWSGlueDataplanePython) when it is installed, so its pure-Python parts such as
`awsglue.utils.getResolvedOptions` are Glue's own; then in `_fallback/` (our getResolvedOptions, for
Pythons the official package does not support).
"""

import importlib.machinery
import json
import os
import shlex
import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent


def _official_package_dir() -> str | None:
    """The official `awsglue` directory on sys.path, if any (ours shadows it)."""
    others = [entry for entry in sys.path if Path(entry or ".").resolve() != _HERE.parent]
    spec = importlib.machinery.PathFinder.find_spec("awsglue", others)
    if spec is None or not spec.submodule_search_locations:
        return None
    return next(iter(spec.submodule_search_locations))


def _spark_conf_from_environment() -> None:
    """Hand GLUE_PIPES_SPARK_CONF to the JVM the script's `SparkContext.getOrCreate()` will launch.

    pyspark passes PYSPARK_SUBMIT_ARGS to spark-submit; one the environment already sets wins."""
    conf = json.loads(os.environ.get("GLUE_PIPES_SPARK_CONF") or "{}")
    if conf and "PYSPARK_SUBMIT_ARGS" not in os.environ:
        pairs = " ".join(f"--conf {shlex.quote(f'{key}={value}')}" for key, value in conf.items())
        os.environ["PYSPARK_SUBMIT_ARGS"] = f"{pairs} pyspark-shell"


_official = _official_package_dir()
__path__ = [str(_HERE), *([_official] if _official else []), str(_HERE / "_fallback")]
_spark_conf_from_environment()

from .dynamicframe import DynamicFrame  # noqa: E402  (after __path__: it imports sibling modules)

__all__ = ["DynamicFrame"]

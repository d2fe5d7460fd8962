"""The Python environment a Glue script gets: boto3 and its dependencies, nothing else installed.

Glue ships boto3 but not dagster or dagster_pipes; those must arrive through `--extra-py-files`.
We reproduce that by running the interpreter with `-S` (no site-packages) and a PYTHONPATH of a
directory that links only to boto3 and its dependencies, plus the job's extra files.

`glueetl` runs also get Spark, when the endpoint has it (the `spark` dependency group and Java):
pyspark, py4j and the local `awsglue` (glue_pipes_local_aws/spark/) on the path, and a Spark
configured to start fast on a laptop. Without it, `import pyspark` or `import awsglue` fails with one
line saying what to install; scripts that import neither run as before.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import secrets
import shlex
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..credentials import EndpointCredentials
from .models import SPARK_OF_GLUE_VERSION

RUNTIME_MODULES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six", "urllib3")
SPARK_MODULES = ("pyspark", "py4j")
# The local `awsglue` package lives here (never on Glue, which has its own).
AWSGLUE_SHIM_DIR = Path(__file__).resolve().parent.parent / "spark"
SPARK_MISSING = (
    "This glueetl job needs Spark and the local AWS endpoint has none ({reason}): install Java 17 "
    "and the spark dependency group (`make dev SPARK=1`, or `uv sync --group spark`), then restart the endpoint"
)
# A local Spark that starts fast on 2 cores. Measured on one trivial job: the C1-only JIT and the serial
# GC halve the JVM's CPU at start (18 s -> 9 s); the UI would only bind a port; 200 shuffle partitions
# would be 200 tasks for a few thousand rows.
SPARK_CONF = {
    "spark.master": "local[2]",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",  # its \r-redrawn bar would land in the logs
    "spark.sql.shuffle.partitions": "2",
    "spark.driver.extraJavaOptions": "-XX:+UseSerialGC -XX:TieredStopAtLevel=1",
}


class GlueRuntime:
    """Per-endpoint directories of symlinks to the modules Glue provides."""

    def __init__(self, path: Path, credentials: EndpointCredentials, spark: bool = True) -> None:
        """`spark=False`: glueetl runs get no Spark even where it is installed (as on a machine without it)."""
        self._credentials = credentials  # the Glue job role's: what the script's own AWS calls act as
        self._python_path = path / "python"  # every run's
        self._spark_path = path / "spark"  # glueetl runs' only
        self._python_path.mkdir(parents=True)
        self._spark_path.mkdir()
        for name in RUNTIME_MODULES:
            _link_module(name, self._python_path)
        self._java_home, self.spark_version, missing = (
            find_spark() if spark else (None, None, "it was started with spark=False")
        )
        # Python workers (UDFs, RDD functions) run on the script's interpreter, without site-packages too.
        self._worker_python = path / "python-S"
        if missing is None:
            for name in SPARK_MODULES:
                _link_module(name, self._spark_path)
            self._worker_python.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -S "$@"\n')
            self._worker_python.chmod(0o755)
        else:
            # Stand-ins whose import fails with the one line the run's ErrorMessage becomes.
            for name in (*SPARK_MODULES, "awsglue"):
                (self._spark_path / f"{name}.py").write_text(
                    f"raise ImportError({SPARK_MISSING.format(reason=missing)!r})\n"
                )

    def command(self, script: Path, run_id: str, job_name: str, arguments: Mapping[str, str]) -> list[str]:
        """argv exactly as Glue builds it; keys in `arguments` carry their leading `--`."""
        argv = [sys.executable, "-S", str(script)]
        argv += ["--JOB_ID", f"j_{secrets.token_hex(32)}", "--JOB_RUN_ID", run_id, "--JOB_NAME", job_name]
        for key, value in arguments.items():
            argv += [key, value]
        return argv

    def environment(
        self, endpoint_url: str, region: str, extra_paths: Sequence[Path], spark_dir: Path | None = None
    ) -> dict[str, str]:
        """The parent's environment minus anything AWS or PYTHONPATH, plus the endpoint and the role's keys.

        `spark_dir` (a glueetl run's scratch directory for Spark) also gives the run Spark.
        """
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("AWS_") and key not in ("PYTHONPATH", "PYTHONHOME")
        }
        paths = [*map(str, extra_paths), str(self._python_path)]
        if spark_dir is not None:
            paths += [str(self._spark_path), str(AWSGLUE_SHIM_DIR)]
            if self.spark_version is not None:
                env.update(self._spark_environment(spark_dir))
        env.update(
            AWS_ENDPOINT_URL=endpoint_url,  # boto3 honours it, so scripts stay plain boto3
            AWS_DEFAULT_REGION=region,
            **self._credentials.environment(),
            PYTHONUNBUFFERED="1",
            PYTHONPATH=os.pathsep.join(paths),
        )
        return env

    def spark_warning(self, glue_version: str | None) -> str | None:
        """A line for the run's log when the job's Glue version runs another Spark than the one installed."""
        wanted = SPARK_OF_GLUE_VERSION.get(glue_version or "")
        if self.spark_version is None or wanted is None or _major_minor(self.spark_version) == wanted:
            return None
        return (
            f"WARNING: Glue {glue_version} runs Spark {wanted}; this local run uses Spark {self.spark_version} "
            "(the spark dependency group's pyspark)."
        )

    def _spark_environment(self, spark_dir: Path) -> dict[str, str]:
        conf = SPARK_CONF
        # Every SparkContext the script creates (GlueContext(SparkContext.getOrCreate()) or a plain
        # SparkSession) reads its conf from spark-submit's arguments, so the conf travels there.
        submit = [arg for key, value in conf.items() for arg in ("--conf", f"{key}={value}")]
        env = {
            "GLUE_PIPES_SPARK_CONF": json.dumps(conf),
            "PYSPARK_SUBMIT_ARGS": shlex.join([*submit, "pyspark-shell"]),
            "PYSPARK_PYTHON": str(self._worker_python),
            "SPARK_LOCAL_IP": "127.0.0.1",
            "SPARK_LOCAL_DIRS": str(spark_dir),  # Spark's scratch files go with the run's directory
        }
        if self._java_home:
            env["JAVA_HOME"] = self._java_home
        return env


def find_spark() -> tuple[str | None, str | None, str | None]:
    """(JAVA_HOME, pyspark's version, None), or why there is no Spark in the third place."""
    try:
        version = importlib.metadata.version("pyspark")
    except importlib.metadata.PackageNotFoundError:
        return None, None, "pyspark is not installed"
    java_home = os.environ.get("JAVA_HOME")
    if java_home and Path(java_home, "bin", "java").exists():
        return java_home, version, None
    java = shutil.which("java")
    if java is None:
        return None, None, "no java on PATH and no JAVA_HOME"
    return str(Path(java).resolve().parent.parent), version, None


def _major_minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def _link_module(name: str, directory: Path) -> None:
    source = _module_location(name)
    (directory / source.name).symlink_to(source)


def _module_location(name: str) -> Path:
    """The package directory (or single-file module) that `import name` would load."""
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise RuntimeError(f"{name} is not installed; the Glue runtime needs it")
    origin = Path(spec.origin)
    return origin.parent if spec.submodule_search_locations else origin

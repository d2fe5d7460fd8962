"""A burst of Pipes log messages on a SQLite-backed instance (what ``dagster dev`` uses), issue 7.

The Glue job writes N ``pipes.log.info`` messages as fast as it can and reports a materialization;
the run ends on Glue within seconds, while a SQLite event log stores only a few hundred events per
second. Measured per variant, each on a fresh SQLite instance in a fresh process:

- step seconds: STEP_START to the step's end event, beside the floor (the same N
  ``context.log.info`` calls made directly in an asset, on the same kind of instance, measured
  right before the variant);
- stored before the step ended, and message events stored after it (counted again 10 s later, so
  a reader thread left running shows);
- whether the materialization carries the script's own metadata (``script_seconds``).

    .venv/bin/python benchmarks/burst_benchmark.py [--count 40000]
"""

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_aws.pipes import PipesGlueClient
from pipes_benchmark import MESSAGE, PROMPT_WRITER, QUIET, SCRIPTS, benchmark_settings, clients_under_test

from glue_pipes_local_aws import LocalAWS
from glue_pipes_project.aws import AwsClients
from glue_pipes_project.deploy.plan import deploy_project

# (reader, client, Glue-side writer); upstream as its docs show it: CloudWatch reader, read after success.
VARIANTS = [("cloudwatch", "ours", "stdout"), ("s3", "ours", "s3-prompt"), ("cloudwatch", "upstream", "stdout")]
# How long after the step ended we look again for events a leftover thread wrote.
AFTER_SECONDS = 10.0
STEP_ENDS = {"STEP_SUCCESS", "STEP_FAILURE"}


def measure(spec: dict[str, Any]) -> dict[str, Any]:
    """One variant, on a fresh SQLite instance in a temporary directory."""
    with tempfile.TemporaryDirectory() as home, dg.instance_for_test(temp_dir=home) as instance:
        if spec["client"] == "floor":
            asset = floor_asset(spec["count"])
            resources: dict[str, Any] = {}
        else:
            settings = benchmark_settings(spec["endpoint"], spec["manifest"])
            client = clients_under_test(settings)[spec["client"]](spec["reader"])
            asset = burst_asset({"--count": str(spec["count"]), "--writer": spec["writer"], "--s3-interval": "0.5"})
            resources = {"glue_pipes_client": client}
        result = dg.materialize([asset], resources=resources, instance=instance, raise_on_error=False, run_config=QUIET)
        entries = instance.all_logs(result.run_id)
        time.sleep(AFTER_SECONDS)
        later = instance.all_logs(result.run_id)

    def event(entry: Any) -> str | None:
        return entry.dagster_event.event_type_value if entry.dagster_event else None

    start = next(e.timestamp for e in entries if event(e) == "STEP_START")
    end_index = next(i for i, e in enumerate(entries) if event(e) in STEP_ENDS)
    materializations = result.asset_materializations_for_node("bench") if result.success else []
    is_message = lambda e: bool(MESSAGE.match(e.user_message or ""))  # noqa: E731
    return {
        "success": result.success,
        "step_seconds": entries[end_index].timestamp - start,
        "stored_before_end": sum(map(is_message, entries[:end_index])),
        "after_end": sum(map(is_message, later[end_index:])),
        "script_metadata": bool(materializations) and "script_seconds" in materializations[0].metadata,
    }


def floor_asset(count: int) -> dg.AssetsDefinition:
    @dg.asset(name="bench")
    def floor(context: dg.AssetExecutionContext):
        for index in range(count):
            context.log.info(f"message {index}")

    return floor


def burst_asset(arguments: dict[str, str]) -> dg.AssetsDefinition:
    @dg.asset(name="bench")
    def bench(context: dg.AssetExecutionContext, glue_pipes_client: PipesGlueClient):
        params = {"JobName": "bench_messages", "Arguments": arguments}
        return glue_pipes_client.run(context=context, start_job_run_params=params).get_materialize_result()

    return bench


def in_child(spec: dict[str, Any]) -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(spec)], stdout=subprocess.PIPE, text=True, check=True
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=40_000)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(json.loads(args.child))))
        return

    with LocalAWS() as aws, tempfile.TemporaryDirectory() as tmp:
        scripts = Path(tmp) / "glue_scripts"
        shutil.copytree(SCRIPTS, scripts)
        shutil.copy(PROMPT_WRITER, scripts)
        settings = benchmark_settings(aws.endpoint_url, str(scripts / "jobs.yaml"))
        deploy_project(settings, AwsClients.connect(settings))
        base = {"endpoint": aws.endpoint_url, "manifest": str(scripts / "jobs.yaml"), "count": args.count}

        print(f"{args.count} Pipes log messages in one burst, SQLite-backed instance; each variant right after")
        print("its own floor measurement, so that a machine shared with other work compares like with like:\n")
        print(
            f"{'reader':<11} {'client':<9} {'writer':<10} {'success':>7} {'step s':>7} {'floor s':>7} {'vs floor':>8} "
            f"{'stored before end':>17} {'after end':>9} {'script metadata':>15}"
        )
        for reader, name, writer in VARIANTS:
            floor = in_child({**base, "client": "floor"})["step_seconds"]
            m = in_child({**base, "client": name, "reader": reader, "writer": writer})
            print(
                f"{reader:<11} {name:<9} {writer:<10} {'yes' if m['success'] else 'no':>7} {m['step_seconds']:>7.1f} "
                f"{floor:>7.1f} {m['step_seconds'] / floor:>7.2f}x {m['stored_before_end']:>17} "
                f"{m['after_end']:>9} {'yes' if m['script_metadata'] else 'no':>15}",
                flush=True,
            )


if __name__ == "__main__":
    main()

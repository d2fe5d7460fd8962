"""Our Glue Pipes client beside dagster-aws's PipesGlueClient, both reader variants, in one run.

Measures, on the local endpoint:
- step overhead: how long ``client.run`` takes beyond the script's own run time (a 0.3 s job);
- first-log latency: from the script's first ``pipes.log`` call to the event in Dagster's log;
- messages: delivered, lost, duplicated and throughput for N Pipes log messages, next to the floor
  (the same N ``context.log.info`` calls made directly in an asset, on the same kind of instance).

    .venv/bin/python benchmarks/pipes_benchmark.py [--sizes 10000 100000] [--repeat 3]

Each measurement runs in a fresh process against one shared local endpoint.
"""

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_aws.pipes import (
    PipesCloudWatchMessageReader,
    PipesGlueClient,
    PipesS3ContextInjector,
    PipesS3MessageReader,
)

from glue_pipes_local_aws import LocalAWS
from glue_pipes_local_aws.control_client import ControlClient
from glue_pipes_project.aws import AwsClients
from glue_pipes_project.deploy.plan import deploy_project
from glue_pipes_project.resources import GluePipesClientResource
from glue_pipes_project.settings import Settings

SCRIPTS = Path(__file__).resolve().parent / "glue_scripts"
PROMPT_WRITER = Path(__file__).resolve().parent.parent / "glue_jobs" / "pipes_s3_writer.py"
# How often the S3 message writers upload a chunk (glue_jobs/glue_pipes_s3_asset.py uses the same).
S3_WRITER_INTERVAL = "0.5"
# (reader, client, Glue-side writer): dagster-aws's client as its docs show it, with dagster-pipes'
# writer; ours with the writer glue_jobs/ ships, and with dagster-pipes' writer to separate the two.
VARIANTS = [
    ("cloudwatch", "ours", "stdout"),
    ("cloudwatch", "upstream", "stdout"),
    ("s3", "ours", "s3-prompt"),
    ("s3", "ours", "s3"),
    ("s3", "upstream", "s3"),
]
MESSAGE = re.compile(r"^message (\d+)$")
# Measure the event log, not terminal output: the console logger only prints errors.
QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}


def clients_under_test(settings: Settings) -> dict[str, Callable[[str], PipesGlueClient]]:
    def ours(reader: str) -> PipesGlueClient:
        resource = GluePipesClientResource(settings=settings, message_reader=reader)
        return resource.create_resource(dg.build_init_resource_context())

    def upstream(reader: str) -> PipesGlueClient:
        aws = AwsClients.connect(settings)
        message_reader = (
            PipesCloudWatchMessageReader(client=aws.logs)
            if reader == "cloudwatch"
            else PipesS3MessageReader(bucket=settings.bucket, client=aws.s3, interval=1)
        )
        return PipesGlueClient(
            client=aws.glue,
            context_injector=PipesS3ContextInjector(bucket=settings.bucket, client=aws.s3),
            message_reader=message_reader,
        )

    return {"ours": ours, "upstream": upstream}


def run_job(client: PipesGlueClient, job: str, arguments: dict[str, str]) -> dict[str, Any]:
    """Materialize one asset running ``job``; what it measured, and the run's log entries."""
    measured: dict[str, Any] = {}

    @dg.asset(name="bench")
    def bench(context: dg.AssetExecutionContext, glue_pipes_client: PipesGlueClient):
        started = time.perf_counter()
        invocation = glue_pipes_client.run(
            context=context, start_job_run_params={"JobName": job, "Arguments": arguments}
        )
        measured["run_seconds"] = time.perf_counter() - started
        results = invocation.get_results()
        if results and "script_seconds" in (results[0].metadata or {}):
            measured["script_seconds"] = results[0].metadata["script_seconds"].value
        return invocation.get_materialize_result() if results else None

    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        [bench], resources={"glue_pipes_client": client}, instance=instance, raise_on_error=False, run_config=QUIET
    )
    measured["success"] = result.success
    measured["logs"] = instance.all_logs(result.run_id)
    return measured


def floor(count: int) -> float:
    """Seconds for ``count`` context.log.info calls: Dagster's own cost for delivering N log messages."""
    measured: dict[str, float] = {}

    @dg.asset(name="floor")
    def floor_asset(context: dg.AssetExecutionContext):
        started = time.perf_counter()
        for index in range(count):
            context.log.info(f"message {index}")
        measured["seconds"] = time.perf_counter() - started

    dg.materialize([floor_asset], instance=dg.DagsterInstance.ephemeral(), run_config=QUIET)
    return measured["seconds"]


def writer_args(writer: str) -> dict[str, str]:
    return {"--writer": writer, "--s3-interval": S3_WRITER_INTERVAL}


def overhead_and_latency(client: PipesGlueClient, writer: str, repeat: int) -> tuple[float, float | None]:
    overheads, latencies = [], []
    for _ in range(repeat):
        measured = run_job(client, "bench_work", {"--seconds": "0.3", **writer_args(writer)})
        if "script_seconds" in measured:
            overheads.append(measured["run_seconds"] - measured["script_seconds"])
        for entry in measured["logs"]:
            found = re.match(r"first log written at ([\d.]+)", entry.user_message or "")
            if found:
                latencies.append(entry.timestamp - float(found.group(1)))
    return statistics.median(overheads), statistics.median(latencies) if latencies else None


def messages(client: PipesGlueClient, writer: str, count: int) -> dict[str, Any]:
    measured = run_job(client, "bench_messages", {"--count": str(count), **writer_args(writer)})
    indices = [int(m.group(1)) for e in measured["logs"] if (m := MESSAGE.match(e.user_message or ""))]
    return {
        "seconds": measured["run_seconds"],
        "delivered": len(set(indices)),
        "lost": count - len(set(indices)),
        "duplicated": len(indices) - len(set(indices)),
    }


def measure(spec: dict[str, Any]) -> dict[str, Any]:
    """One measurement, run in a fresh process (see ``main``)."""
    settings = benchmark_settings(spec["endpoint"], spec["manifest"])
    if spec["client"] == "floor":
        return {"seconds": floor(spec["count"])}
    client = clients_under_test(settings)[spec["client"]](spec["reader"])
    if spec["scenario"] == "overhead":
        overhead, latency = overhead_and_latency(client, spec["writer"], spec["repeat"])
        result: dict[str, Any] = {"overhead": overhead, "latency": latency}
    else:
        result = messages(client, spec["writer"], spec["count"])
    # What the client keeps doing after its step ended: dagster-aws's CloudWatch log reader thread
    # can outlive the step, polling GetLogEvents without pause.
    control = ControlClient(spec["endpoint"])
    control.reset_requests()
    time.sleep(2)
    result["calls_after"] = control.requests().get("logs:GetLogEvents", 0)
    return result


def benchmark_settings(endpoint_url: str, manifest: str) -> Settings:
    return Settings.from_env({"GLUE_PIPES_ENDPOINT_URL": endpoint_url, "GLUE_PIPES_MANIFEST": manifest})


def deploy_benchmark_jobs(endpoint_url: str, tmp: Path) -> str:
    """Deploy glue_scripts/ (with the shipped S3 writer) to the endpoint; the manifest's path."""
    scripts = tmp / "glue_scripts"
    shutil.copytree(SCRIPTS, scripts)
    shutil.copy(PROMPT_WRITER, scripts)
    settings = benchmark_settings(endpoint_url, str(scripts / "jobs.yaml"))
    deploy_project(settings, AwsClients.connect(settings))
    return settings.manifest_path


def in_child(spec: dict[str, Any]) -> dict[str, Any]:
    # A fresh process per measurement, so threads one client leaves behind cannot slow the next.
    completed = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(spec)], capture_output=True, text=True, check=True
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(json.loads(args.child))))
        return

    with LocalAWS() as aws, tempfile.TemporaryDirectory() as tmp:
        manifest = deploy_benchmark_jobs(aws.endpoint_url, Path(tmp))
        base = {"endpoint": aws.endpoint_url, "manifest": manifest, "repeat": args.repeat}

        print("Step overhead (client.run beyond the script's own time; 0.3 s job), first-log latency")
        print(f"(median of {args.repeat}), and GetLogEvents calls in the 2 s after the step ended:\n")
        print(f"{'reader':<11} {'client':<9} {'writer':<10} {'overhead s':>10} {'first log s':>11} {'calls after':>11}")
        timing = {}
        for reader, name, writer in VARIANTS:
            spec = {**base, "client": name, "reader": reader, "writer": writer, "scenario": "overhead"}
            measured = timing[(reader, name, writer)] = in_child(spec)
            latency = measured["latency"]
            shown = f"{latency:.2f}" if latency is not None else "never"
            print(
                f"{reader:<11} {name:<9} {writer:<10} {measured['overhead']:>10.2f} {shown:>11} "
                f"{measured['calls_after']:>11}",
                flush=True,
            )
        for reader, writer in (("cloudwatch", "stdout"), ("s3", "s3")):
            ours = timing[(reader, "ours", "s3-prompt" if reader == "s3" else writer)]["overhead"]
            print(f"upstream/ours overhead, {reader}: {timing[(reader, 'upstream', writer)]['overhead'] / ours:.1f}x")

        print("\nMessages (pipes.log.info) delivered to Dagster's event log, in-memory instance:\n")
        print(
            f"{'count':>7} {'reader':<11} {'client':<9} {'writer':<10} {'delivered':>9} {'lost':>7} {'dup':>4} "
            f"{'seconds':>8} {'msg/s':>7} {'vs floor':>8}"
        )
        for count in args.sizes:
            floor_seconds = in_child({**base, "client": "floor", "count": count})["seconds"]
            print(
                f"{count:>7} {'-':<11} {'floor':<9} {'-':<10} {count:>9} {0:>7} {0:>4} {floor_seconds:>8.1f} "
                f"{count / floor_seconds:>7.0f} {1:>7.2f}x",
                flush=True,
            )
            for reader, name, writer in VARIANTS:
                spec = {**base, "client": name, "reader": reader, "writer": writer, "scenario": "messages"}
                m = in_child({**spec, "count": count})
                print(
                    f"{count:>7} {reader:<11} {name:<9} {writer:<10} {m['delivered']:>9} {m['lost']:>7} "
                    f"{m['duplicated']:>4} {m['seconds']:>8.1f} {m['delivered'] / m['seconds']:>7.0f} "
                    f"{m['seconds'] / floor_seconds:>7.2f}x",
                    flush=True,
                )


if __name__ == "__main__":
    main()

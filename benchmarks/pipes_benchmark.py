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
import statistics
import subprocess
import sys
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

from glue_pipes_project.aws import AwsClients
from glue_pipes_project.deploy import deploy_project
from glue_pipes_project.local_aws import LocalAWS
from glue_pipes_project.local_aws.control_client import ControlClient
from glue_pipes_project.resources import GluePipesClientResource
from glue_pipes_project.settings import Settings

SCRIPTS = Path(__file__).resolve().parent / "glue_scripts"
# How often the S3 message writer uploads a chunk, in both clients' runs (glue_jobs/ uses the same).
S3_WRITER_INTERVAL = "0.5"
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


def writer_args(reader: str) -> dict[str, str]:
    return {"--writer": "s3" if reader == "s3" else "stdout", "--s3-interval": S3_WRITER_INTERVAL}


def overhead_and_latency(client: PipesGlueClient, reader: str, repeat: int) -> tuple[float, float | None]:
    overheads, latencies = [], []
    for _ in range(repeat):
        measured = run_job(client, "bench_work", {"--seconds": "0.3", **writer_args(reader)})
        if "script_seconds" in measured:
            overheads.append(measured["run_seconds"] - measured["script_seconds"])
        for entry in measured["logs"]:
            found = re.match(r"first log written at ([\d.]+)", entry.user_message or "")
            if found:
                latencies.append(entry.timestamp - float(found.group(1)))
    return statistics.median(overheads), statistics.median(latencies) if latencies else None


def messages(client: PipesGlueClient, reader: str, count: int) -> dict[str, Any]:
    measured = run_job(client, "bench_messages", {"--count": str(count), **writer_args(reader)})
    indices = [int(m.group(1)) for e in measured["logs"] if (m := MESSAGE.match(e.user_message or ""))]
    return {
        "seconds": measured["run_seconds"],
        "delivered": len(set(indices)),
        "lost": count - len(set(indices)),
        "duplicated": len(indices) - len(set(indices)),
    }


def measure(spec: dict[str, Any]) -> dict[str, Any]:
    """One measurement, run in a fresh process (see ``main``)."""
    settings = benchmark_settings(spec["endpoint"])
    if spec["client"] == "floor":
        return {"seconds": floor(spec["count"])}
    client = clients_under_test(settings)[spec["client"]](spec["reader"])
    if spec["scenario"] == "overhead":
        result: dict[str, Any] = dict(
            zip(("overhead", "latency"), overhead_and_latency(client, spec["reader"], spec["repeat"]), strict=True)
        )
    else:
        result = messages(client, spec["reader"], spec["count"])
    # What the client keeps doing after its step ended: dagster-aws's CloudWatch log reader thread
    # can outlive the step, polling GetLogEvents without pause.
    control = ControlClient(spec["endpoint"])
    control.reset_requests()
    time.sleep(2)
    result["calls_after"] = control.requests().get("logs:GetLogEvents", 0)
    return result


def benchmark_settings(endpoint_url: str) -> Settings:
    return Settings.from_env(
        {
            "GLUE_PIPES_ENDPOINT_URL": endpoint_url,
            "GLUE_PIPES_MANIFEST": str(SCRIPTS / "jobs.yaml"),
            "GLUE_PIPES_DEPLOY_ON_RUN": "false",
        }
    )


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

    with LocalAWS() as aws:
        settings = benchmark_settings(aws.endpoint_url)
        deploy_project(settings, AwsClients.connect(settings))
        base = {"endpoint": aws.endpoint_url, "repeat": args.repeat}

        print("Step overhead (client.run beyond the script's own time; 0.3 s job), first-log latency")
        print(f"(median of {args.repeat}), and GetLogEvents calls in the 2 s after the step ended:\n")
        print(f"{'reader':<11} {'client':<9} {'overhead s':>10} {'first log s':>11} {'calls after':>11}")
        for reader in ("cloudwatch", "s3"):
            timing = {}
            for name in ("ours", "upstream"):
                timing[name] = in_child({**base, "client": name, "reader": reader, "scenario": "overhead"})
                latency = timing[name]["latency"]
                shown = f"{latency:.2f}" if latency is not None else "never"
                print(
                    f"{reader:<11} {name:<9} {timing[name]['overhead']:>10.2f} {shown:>11} "
                    f"{timing[name]['calls_after']:>11}",
                    flush=True,
                )
            ratio = timing["upstream"]["overhead"] / timing["ours"]["overhead"]
            print(f"{'':<11} upstream/ours overhead: {ratio:.1f}x\n", flush=True)

        print("Messages (pipes.log.info) delivered to Dagster's event log, in-memory instance:\n")
        print(
            f"{'count':>7} {'reader':<11} {'client':<9} {'delivered':>9} {'lost':>7} {'dup':>4} "
            f"{'seconds':>8} {'msg/s':>7} {'vs floor':>8}"
        )
        for count in args.sizes:
            floor_seconds = in_child({**base, "client": "floor", "count": count})["seconds"]
            print(
                f"{count:>7} {'-':<11} {'floor':<9} {count:>9} {0:>7} {0:>4} {floor_seconds:>8.1f} "
                f"{count / floor_seconds:>7.0f} {1:>7.2f}x",
                flush=True,
            )
            for reader in ("cloudwatch", "s3"):
                for name in ("ours", "upstream"):
                    m = in_child({**base, "client": name, "reader": reader, "scenario": "messages", "count": count})
                    print(
                        f"{count:>7} {reader:<11} {name:<9} {m['delivered']:>9} {m['lost']:>7} {m['duplicated']:>4} "
                        f"{m['seconds']:>8.1f} {m['delivered'] / m['seconds']:>7.0f} "
                        f"{m['seconds'] / floor_seconds:>7.2f}x",
                        flush=True,
                    )


if __name__ == "__main__":
    main()

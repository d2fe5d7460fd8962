"""Our Glue Pipes client beside dagster-aws's PipesGlueClient, both reader variants, in one run.

Measures, on the local endpoint:
- step overhead: how long ``client.run`` takes beyond the script's own run time (a 0.3 s job);
- first-log latency: from the script's first ``pipes.log`` call to the event in Dagster's log;
- messages: delivered, lost, duplicated and throughput for N Pipes log messages, next to the floor
  (the same N ``context.log.info`` calls made directly in an asset, on the same kind of instance).

    .venv/bin/python benchmarks/pipes_benchmark.py [--sizes 10000 100000] [--repeat 3]
"""

import argparse
import re
import statistics
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
from glue_pipes_project.resources import GluePipesClientResource
from glue_pipes_project.settings import Settings

SCRIPTS = Path(__file__).resolve().parent / "glue_scripts"
# How often the S3 message writer uploads a chunk, in both clients' runs (glue_jobs/ uses the same).
S3_WRITER_INTERVAL = "0.5"
MESSAGE = re.compile(r"^message (\d+)$")


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
    result = dg.materialize([bench], resources={"glue_pipes_client": client}, instance=instance, raise_on_error=False)
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

    dg.materialize([floor_asset], instance=dg.DagsterInstance.ephemeral())
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    with LocalAWS() as aws:
        settings = Settings.from_env(
            {
                "GLUE_PIPES_ENDPOINT_URL": aws.endpoint_url,
                "GLUE_PIPES_MANIFEST": str(SCRIPTS / "jobs.yaml"),
                "GLUE_PIPES_DEPLOY_ON_RUN": "false",
            }
        )
        deploy_project(settings, AwsClients.connect(settings))
        factories = clients_under_test(settings)

        print("Step overhead (client.run beyond the script's own time; 0.3 s job) and first-log latency,")
        print(f"median of {args.repeat}:\n")
        print(f"{'reader':<11} {'client':<9} {'overhead s':>10} {'first log s':>11}")
        timing: dict[tuple[str, str], tuple[float, float | None]] = {}
        for reader in ("cloudwatch", "s3"):
            for name, factory in factories.items():
                timing[(reader, name)] = overhead_and_latency(factory(reader), reader, args.repeat)
                overhead, latency = timing[(reader, name)]
                shown = f"{latency:.2f}" if latency is not None else "never"
                print(f"{reader:<11} {name:<9} {overhead:>10.2f} {shown:>11}", flush=True)
            ours, upstream = timing[(reader, "ours")][0], timing[(reader, "upstream")][0]
            print(f"{'':<11} upstream/ours overhead ratio: {upstream / ours:.1f}x\n", flush=True)

        print("Messages (pipes.log.info) delivered to Dagster's event log, in-memory instance:\n")
        print(
            f"{'count':>7} {'reader':<11} {'client':<9} {'delivered':>9} {'lost':>7} {'dup':>4} "
            f"{'seconds':>8} {'msg/s':>7} {'vs floor':>8}"
        )
        for count in args.sizes:
            floor_seconds = floor(count)
            print(
                f"{count:>7} {'-':<11} {'floor':<9} {count:>9} {0:>7} {0:>4} {floor_seconds:>8.1f} "
                f"{count / floor_seconds:>7.0f} {1:>7.2f}x",
                flush=True,
            )
            for reader in ("cloudwatch", "s3"):
                for name, factory in factories.items():
                    m = messages(factory(reader), reader, count)
                    print(
                        f"{count:>7} {reader:<11} {name:<9} {m['delivered']:>9} {m['lost']:>7} {m['duplicated']:>4} "
                        f"{m['seconds']:>8.1f} {m['delivered'] / m['seconds']:>7.0f} "
                        f"{m['seconds'] / floor_seconds:>7.2f}x",
                        flush=True,
                    )


if __name__ == "__main__":
    main()

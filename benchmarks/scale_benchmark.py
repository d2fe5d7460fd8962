"""Many concurrent Glue Pipes steps under AWS's real API quotas: ours beside dagster-aws's PipesGlueClient.

The local endpoint enforces AWS's default quotas, with GetLogEvents at 10 calls per second (its
published quota in us-west-2, eu-west-1 and eu-central-1; 25 in most other Regions). Each client
runs --steps materializations at once, each in its own process as Dagster's multiprocess executor
runs steps, each a Glue run that writes --count Pipes log messages over --seconds. Reported per
client: steps that succeeded, messages lost and duplicated, first-log latency (from the script's
first ``pipes.log`` call to that event in Dagster's log), and the API calls the endpoint counted,
throttled ones apart.

    .venv/bin/python benchmarks/scale_benchmark.py [--steps 20] [--count 2000] [--seconds 20]
"""

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from pipes_benchmark import MESSAGE, benchmark_settings, clients_under_test, deploy_benchmark_jobs, run_job

from glue_pipes_local_aws import LocalAWS
from glue_pipes_local_aws.control_client import ControlClient

QUOTAS = "aws,logs:GetLogEvents=10"
FIRST_LOG = re.compile(r"first log written at ([\d.]+)")


def step(spec: dict[str, Any]) -> dict[str, Any]:
    """One materialization, in this (child) process; starts when the parent says go."""
    # dagster 1.13's own open_pipes_session warns about its preview API (pyproject filters it in tests).
    warnings.filterwarnings("ignore", message="Function `PipesMessageReader.expected_writer_count`")
    client = clients_under_test(benchmark_settings(spec["endpoint"], spec["manifest"]))[spec["client"]]("cloudwatch")
    print("ready", flush=True)
    sys.stdin.readline()
    arguments = {"--count": str(spec["count"]), "--seconds": str(spec["seconds"])}
    measured = run_job(client, "bench_steady", arguments)
    indices = [int(m.group(1)) for e in measured["logs"] if (m := MESSAGE.match(e.user_message or ""))]
    latencies = [
        entry.timestamp - float(found.group(1))
        for entry in measured["logs"]
        if (found := FIRST_LOG.match(entry.user_message or ""))
    ]
    return {
        "success": measured["success"],
        "lost": spec["count"] - len(set(indices)),
        "duplicated": len(indices) - len(set(indices)),
        "first_log": latencies[0] if latencies else None,
        "seconds": measured["run_seconds"],
    }


def concurrent_steps(base: dict[str, Any], client: str, steps: int) -> list[dict[str, Any]]:
    children = [
        subprocess.Popen(
            [sys.executable, __file__, "--child", json.dumps({**base, "client": client})],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(steps)
    ]
    for child in children:  # all set up (imports, clients) before any starts its Glue run
        assert child.stdout is not None
        while child.stdout.readline().strip() != "ready":
            pass
    for child in children:
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()
    return [json.loads(child.communicate()[0].strip().splitlines()[-1]) for child in children]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def summary(results: list[dict[str, Any]], requests: dict[str, int], throttled: dict[str, int]) -> dict[str, Any]:
    latencies = [r["first_log"] for r in results if r["first_log"] is not None]
    calls = requests.get("logs:GetLogEvents", 0)
    return {
        "succeeded": sum(r["success"] for r in results),
        "lost": sum(r["lost"] for r in results),
        "duplicated": sum(r["duplicated"] for r in results),
        "first_log_p50": statistics.median(latencies) if latencies else None,
        "first_log_p95": percentile(latencies, 0.95) if latencies else None,
        "first_logs": sorted(latencies),
        "step_seconds_max": max(r["seconds"] for r in results if r.get("seconds") is not None),
        "get_log_events": calls,
        "get_log_events_throttled": throttled.get("logs:GetLogEvents", 0),
        "throttled_share": throttled.get("logs:GetLogEvents", 0) / calls if calls else 0.0,
        "requests": requests,
        "throttled": throttled,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(step(json.loads(args.child))))
        return

    with LocalAWS() as aws, tempfile.TemporaryDirectory() as tmp:
        manifest = deploy_benchmark_jobs(aws.endpoint_url, Path(tmp))
        control = ControlClient(aws.endpoint_url)
        control.set_quotas(QUOTAS)  # after deploying, which is not what is measured
        base = {"endpoint": aws.endpoint_url, "manifest": manifest, "count": args.count, "seconds": args.seconds}
        print(f"{args.steps} concurrent steps (one process each), {args.count} Pipes messages over {args.seconds:g} s")
        print(f"each; quotas enforced: {QUOTAS} (AWS's defaults, GetLogEvents at its us-west-2 value)\n")
        measured = {}
        for client in ("ours", "upstream"):
            control.reset_requests()
            started = time.perf_counter()
            results = concurrent_steps(base, client, args.steps)
            measured[client] = {
                **summary(results, control.requests(), control.throttled()),
                "wall": time.perf_counter() - started,
            }
        print_table(measured, args.steps)


def print_table(measured: dict[str, dict[str, Any]], steps: int) -> None:
    def shown(value: float | None) -> str:
        return "never" if value is None else f"{value:.2f}"

    print(
        f"{'client':<9} {'ok':>5} {'lost':>6} {'dup':>4} {'first log p50 s':>15} {'p95 s':>6} "
        f"{'GetLogEvents':>12} {'throttled':>9} {'share':>6} {'slowest step s':>14}"
    )
    for client, m in measured.items():
        print(
            f"{client:<9} {m['succeeded']:>2}/{steps:<2} {m['lost']:>6} {m['duplicated']:>4} "
            f"{shown(m['first_log_p50']):>15} {shown(m['first_log_p95']):>6} {m['get_log_events']:>12} "
            f"{m['get_log_events_throttled']:>9} {m['throttled_share']:>6.1%} {m['step_seconds_max']:>14.1f}"
        )
    for client, m in measured.items():
        print(f"\n{client} first-log latencies, s: {' '.join(f'{value:.1f}' for value in m['first_logs'])}")
        print(f"{client} requests: {m['requests']}\n{client} throttled: {m['throttled']}")
    ours, upstream = measured["ours"], measured["upstream"]
    if ours["first_log_p95"] and upstream["first_log_p95"]:
        print(f"\nupstream/ours first-log p95: {upstream['first_log_p95'] / ours['first_log_p95']:.1f}x")
    if ours["get_log_events"]:
        print(f"upstream/ours GetLogEvents calls: {upstream['get_log_events'] / ours['get_log_events']:.1f}x")


if __name__ == "__main__":
    main()

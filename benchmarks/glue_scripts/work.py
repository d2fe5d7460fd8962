"""Benchmark job: a short piece of work that logs when it starts and reports how long it ran."""

import time

STARTED = time.time()

from bench_pipes import ARGS, open_pipes  # noqa: E402 - the clock starts before imports

with open_pipes() as pipes:
    pipes.log.info(f"first log written at {time.time():.6f}")
    time.sleep(float(ARGS.get("--seconds", "0.3")))
    pipes.report_asset_materialization(
        metadata={"script_seconds": {"raw_value": time.time() - STARTED, "type": "float"}}
    )

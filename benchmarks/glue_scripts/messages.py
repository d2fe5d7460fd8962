"""Benchmark job: sends --count Pipes log messages as fast as it can."""

import time

from bench_pipes import ARGS, open_pipes

started = time.time()
with open_pipes() as pipes:
    for index in range(int(ARGS["--count"])):
        pipes.log.info(f"message {index}")
    pipes.report_asset_materialization(
        metadata={"script_seconds": {"raw_value": time.time() - started, "type": "float"}}
    )

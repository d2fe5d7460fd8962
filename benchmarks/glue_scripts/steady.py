"""Benchmark job: sends --count Pipes log messages evenly over --seconds, the first one timestamped."""

import time

from bench_pipes import ARGS, open_pipes

with open_pipes() as pipes:
    pipes.log.info(f"first log written at {time.time():.6f}")
    count, seconds = int(ARGS["--count"]), float(ARGS["--seconds"])
    started = time.monotonic()
    for index in range(count):
        time.sleep(max(0.0, started + index * seconds / count - time.monotonic()))
        pipes.log.info(f"message {index}")
    pipes.report_asset_materialization(metadata={"sent": {"raw_value": count, "type": "int"}})

"""Shared by the Glue scripts in this folder; shipped to Glue through extra_py_files.

Runs on Glue's Python (3.9 and later): standard library only, no newer syntax.
"""

import argparse
import hashlib
import json
import random


def parse_args(argv):
    """Read this job's arguments the way Glue passes them (``--name value`` pairs)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--JOB_NAME", default="local")
    parser.add_argument("--JOB_RUN_ID", default="")
    parser.add_argument("--row_count", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    args, _unknown = parser.parse_known_args(argv[1:])
    return args


def generate_orders(row_count, seed):
    rng = random.Random(seed)
    regions = ["us-east-1", "eu-west-1", "ap-southeast-2"]
    return [
        {
            "order_id": index,
            "region": rng.choice(regions),
            "amount": round(rng.uniform(5, 500), 2),
        }
        for index in range(row_count)
    ]


def summarize(orders):
    by_region = {}
    for order in orders:
        by_region[order["region"]] = round(by_region.get(order["region"], 0.0) + order["amount"], 2)
    total = round(sum(order["amount"] for order in orders), 2)
    return {"row_count": len(orders), "total_amount": total, "amount_by_region": by_region}


def materialization(summary):
    """Metadata in Pipes' raw form, and a data version that changes only when the data does."""
    digest = hashlib.sha256(json.dumps(summary, sort_keys=True).encode("utf-8")).hexdigest()
    table = "\n".join(
        ["| region | amount |", "| --- | ---: |"]
        + [f"| {r} | {a:.2f} |" for r, a in sorted(summary["amount_by_region"].items())]
    )
    metadata = {
        "row_count": {"raw_value": summary["row_count"], "type": "int"},
        "total_amount": {"raw_value": summary["total_amount"], "type": "float"},
        "amount_by_region": {"raw_value": summary["amount_by_region"], "type": "json"},
        "preview": {"raw_value": table, "type": "md"},
    }
    return metadata, digest[:16]

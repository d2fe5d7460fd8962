"""Glue job behind ``raw_orders``: one day of order events as JSON lines in S3.

Locally there is no upstream system, so this job generates them: a few thousand orders per day,
deterministic per partition (seeded from the date). On AWS, point the pipeline at where your orders
land instead. ``--null_order_ids N`` plants N orders without an id (for tests and demos of the
blocking check on orders_curated). Plain Python (boto3, dagster-pipes): no Spark.
"""

import argparse
import json
import random
import sys
from urllib.parse import urlparse

import boto3
from orders_pipeline import data_version, open_pipes

STATUSES = ["placed", "paid", "shipped", "delivered", "returned"]


def parse_args(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("--JOB_NAME", default="local")
    parser.add_argument("--partition_date", required=True)
    parser.add_argument("--data_location", required=True)
    parser.add_argument("--null_order_ids", type=int, default=0)
    args, _unknown = parser.parse_known_args(argv[1:])
    return args


def generate_orders(day, null_order_ids):
    rng = random.Random(day)  # the same day always yields the same orders
    count = rng.randint(2000, 3000)
    compact = day.replace("-", "")
    orders = []
    for index in range(count):
        amount = round(rng.uniform(5, 500), 2)
        orders.append(
            {
                "order_id": None if index < null_order_ids else f"o-{compact}-{index:05d}",
                "customer_id": f"c-{rng.randint(1, 800):04d}",
                "order_ts": f"{day}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}",
                "status": rng.choice(STATUSES),
                "quantity": rng.randint(1, 5),
                # One producer in fifty sends amounts as strings: orders_curated's ResolveChoice casts them.
                "amount": str(amount) if rng.random() < 0.02 else amount,
            }
        )
    return orders


def main():
    args = parse_args(sys.argv)
    with open_pipes() as pipes:
        orders = generate_orders(args.partition_date, args.null_order_ids)
        body = "".join(json.dumps(order) + "\n" for order in orders).encode("utf-8")
        location = f"{args.data_location}raw/orders/dt={args.partition_date}/"
        url = urlparse(location)
        boto3.client("s3").put_object(Bucket=url.netloc, Key=f"{url.path.lstrip('/')}orders.jsonl", Body=body)
        pipes.log.info(f"Wrote {len(orders)} orders to {location}")
        pipes.report_asset_materialization(
            metadata={
                "row_count": {"raw_value": len(orders), "type": "int"},
                "partition": {"raw_value": args.partition_date, "type": "text"},
                "location": {"raw_value": location, "type": "url"},
                "null_order_ids_planted": {"raw_value": args.null_order_ids, "type": "int"},
            },
            data_version=data_version(orders),
        )


if __name__ == "__main__":
    main()

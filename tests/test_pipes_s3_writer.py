"""glue_jobs/pipes_s3_writer.py: chunks leave every interval, beside dagster-pipes' own S3 writer."""

import importlib.util
import json
import time
import uuid
from pathlib import Path

import pytest
from dagster_pipes import PipesS3MessageWriter

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("pipes_s3_writer", ROOT / "glue_jobs" / "pipes_s3_writer.py")
pipes_s3_writer = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(pipes_s3_writer)


@pytest.mark.parametrize(
    ("writer_class", "first_chunk"),
    [
        (pipes_s3_writer.PromptS3MessageWriter, [1]),
        # Upstream's loop compares whole seconds and sleeps 1 s a turn: nothing leaves before 1 s.
        (PipesS3MessageWriter, [1, 2]),
    ],
    ids=["prompt", "upstream"],
)
def test_a_chunk_leaves_every_interval(local_aws, writer_class, first_chunk):
    s3 = local_aws.client("s3")
    bucket, prefix = "writer-tests", uuid.uuid4().hex
    s3.create_bucket(Bucket=bucket)
    channel = writer_class(client=s3, interval=0.2).make_channel({"bucket": bucket, "key_prefix": prefix})
    with channel.buffered_upload_loop():
        channel.write_message({"n": 1})
        time.sleep(0.7)  # three intervals
        channel.write_message({"n": 2})

    def chunk(index: int) -> list[int]:
        body = s3.get_object(Bucket=bucket, Key=f"{prefix}/{index}.json")["Body"].read().decode()
        return [json.loads(line)["n"] for line in body.splitlines()]

    assert chunk(1) == first_chunk
    if first_chunk == [1]:
        assert chunk(2) == [2]  # and the last chunk is uploaded when Pipes closes

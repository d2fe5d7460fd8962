"""S3 for Spark through boto3: no hadoop-aws jars locally, so reads download objects to local files
and writes upload what Spark wrote to a local directory. boto3 goes to AWS_ENDPOINT_URL."""

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import boto3
from botocore.exceptions import ClientError

SCHEMES = ("s3://", "s3a://", "s3n://")


@dataclass(frozen=True)
class S3File:
    bucket: str
    key: str
    etag: str

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def split(url: str) -> tuple[str, str]:
    """(bucket, key or prefix) of an s3://, s3a:// or s3n:// URL."""
    for scheme in SCHEMES:
        if url.startswith(scheme):
            bucket, _, key = url[len(scheme) :].partition("/")
            return bucket, key
    raise ValueError(f"not an S3 path: {url!r} (expected s3://bucket/prefix)")


def client() -> Any:
    return boto3.client("s3")


def hidden(name: str) -> bool:
    """Hadoop's rule, which Spark and Glue follow: _SUCCESS, .crc files and the like are not data."""
    return name.startswith(("_", "."))


def list_files(s3: Any, url: str, recurse: bool = True) -> list[S3File]:
    """The data files at `url`: the object itself, or those under it as a folder."""
    bucket, key = split(url)
    if key and not key.endswith("/"):
        try:
            head = s3.head_object(Bucket=bucket, Key=key)
            return [S3File(bucket, key, head["ETag"].strip('"'))]
        except ClientError as error:
            if error.response["Error"]["Code"] not in ("404", "NoSuchKey"):
                raise
        key += "/"
    files = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key):
        for obj in page.get("Contents", []):
            relative = obj["Key"][len(key) :]
            parts = relative.split("/")
            if relative.endswith("/") or any(hidden(part) for part in parts) or (not recurse and len(parts) > 1):
                continue
            files.append(S3File(bucket, obj["Key"], obj["ETag"].strip('"')))
    return files


def download(s3: Any, files: Sequence[S3File], prefix: str, directory: Path) -> list[str]:
    """Download each file to `directory`/<its key relative to `prefix`>; their local paths."""
    paths = []
    for file in files:
        relative = file.key[len(prefix) :].lstrip("/") if file.key.startswith(prefix) else Path(file.key).name
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        s3.download_file(file.bucket, file.key, str(path))
        paths.append(str(path))
    return paths


def upload(s3: Any, directory: Path, url: str) -> list[str]:
    """Upload the data files Spark wrote under `directory` to the folder `url`; their relative paths."""
    bucket, prefix = split(url)
    prefix = prefix.rstrip("/")
    uploaded = []
    for path in sorted(_data_files(directory)):
        relative = path.relative_to(directory).as_posix()
        s3.upload_file(str(path), bucket, f"{prefix}/{relative}" if prefix else relative)
        uploaded.append(relative)
    return uploaded


def _data_files(directory: Path) -> Iterator[Path]:
    for root, dirs, names in os.walk(directory):
        dirs[:] = [name for name in dirs if not hidden(name)]
        yield from (Path(root) / name for name in names if not hidden(name))


def partitions(relative_paths: Sequence[str]) -> dict[str, dict[str, str]]:
    """The Hive-style partitions (`key=value/` folders, values escaped as Spark does) of written files:
    each partition's folder and its values."""
    found = {}
    for relative in relative_paths:
        folders = relative.split("/")[:-1]
        if folders:
            found["/".join(folders)] = {unquote(k): unquote(v) for k, _, v in (f.partition("=") for f in folders)}
    return found


def delete_older_than(s3: Any, url: str, cutoff: float) -> int:
    """Delete the objects under `url` last modified before `cutoff` (epoch seconds); how many."""
    bucket, prefix = split(url)
    doomed = [
        {"Key": obj["Key"]}
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for obj in page.get("Contents", [])
        if obj["LastModified"].timestamp() < cutoff
    ]
    for start in range(0, len(doomed), 1000):
        s3.delete_objects(Bucket=bucket, Delete={"Objects": doomed[start : start + 1000]})
    return len(doomed)

"""Whether the artifacts in S3 still hold what deploy uploaded.

Artifact keys are content-addressed (``.../artifacts/<sha256>/<file>``) and deploy uploads each with
S3's own SHA-256 checksum, which S3 computes from the bytes it stores. An object whose checksum is
missing or differs from the hash in its key was overwritten after deploy: Glue must not run it.
One HeadObject per object; the body is never downloaded.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

PARALLEL_HEADS = 8
_CONTENT_ADDRESSED = re.compile(r"/artifacts/([0-9a-f]{64})/[^/]+$")


@dataclass(frozen=True)
class TamperedObject:
    key: str
    problem: str


def content_sha256(key: str) -> str | None:
    """The SHA-256 a content-addressed key promises, or None for any other key."""
    match = _CONTENT_ADDRESSED.search(key)
    return match.group(1) if match else None


def s3_checksum(sha256_hex: str) -> str:
    """The form S3 reports a SHA-256 checksum in (base64 of the digest)."""
    return base64.b64encode(bytes.fromhex(sha256_hex)).decode("ascii")


class ArtifactVerifier:
    def __init__(self, s3: Any, bucket: str):
        self.s3 = s3
        self.bucket = bucket

    def tampered(self, keys: Iterable[str]) -> list[TamperedObject]:
        """The content-addressed objects among ``keys`` whose stored bytes are not the ones their key names."""
        checked = sorted({key for key in keys if content_sha256(key)})
        if not checked:
            return []
        with ThreadPoolExecutor(max_workers=min(PARALLEL_HEADS, len(checked))) as pool:
            return [found for found in pool.map(self._check, checked) if found]

    def _check(self, key: str) -> TamperedObject | None:
        try:
            head = self.s3.head_object(Bucket=self.bucket, Key=key, ChecksumMode="ENABLED")
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
                return TamperedObject(key, "missing")
            raise
        actual = head.get("ChecksumSHA256")
        if actual is None:
            return TamperedObject(key, "has no SHA-256 checksum (replaced, or from an older deploy)")
        if actual != s3_checksum(content_sha256(key) or ""):
            return TamperedObject(key, "content differs from what was deployed (SHA-256 mismatch)")
        return None


def deployed_artifact_keys(glue: Any, bucket: str, job_names: list[str], batch: int = 25) -> dict[str, str]:
    """The objects in ``bucket`` the deployed jobs run (script and extra files), each with its job's name."""
    keys: dict[str, str] = {}
    prefix = f"s3://{bucket}/"
    for start in range(0, len(job_names), batch):
        for job in glue.batch_get_jobs(JobNames=job_names[start : start + batch]).get("Jobs", []):
            extra = job.get("DefaultArguments", {}).get("--extra-py-files", "")
            uris = [job["Command"].get("ScriptLocation", ""), *extra.split(",")]
            keys.update({uri[len(prefix) :]: job["Name"] for uri in uris if uri.startswith(prefix)})
    return keys

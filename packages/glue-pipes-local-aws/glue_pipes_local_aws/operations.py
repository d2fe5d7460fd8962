"""Names an incoming AWS request as `service:Operation`, for request counting and fault injection."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs

# SigV4 credential scope: <key>/<date>/<region>/<service>/aws4_request
_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/([^/]+)/([^/]+)/aws4_request")


def signing_scope(environ: dict[str, Any]) -> tuple[str, str] | None:
    """(region, service) from the Authorization header, or from a presigned URL's query."""
    source = environ.get("HTTP_AUTHORIZATION") or _query_credential(environ)
    match = _CREDENTIAL_SCOPE.search(source or "")
    return (match.group(1), match.group(2)) if match else None


def operation_of(environ: dict[str, Any]) -> str:
    scope = signing_scope(environ)
    service = scope[1] if scope else "unknown"
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target and "." in target:
        return f"{service}:{target.rsplit('.', 1)[1]}"
    if service == "s3":
        return f"s3:{_s3_operation(environ)}"
    return f"{service}:{environ.get('REQUEST_METHOD', 'GET')}"


def _query_credential(environ: dict[str, Any]) -> str | None:
    values = parse_qs(environ.get("QUERY_STRING", "")).get("X-Amz-Credential")
    return f"Credential={values[0]}" if values else None


def _s3_operation(environ: dict[str, Any]) -> str:
    """Path-style S3 only (we advertise an IP endpoint, so boto3 never uses virtual hosts)."""
    method = environ.get("REQUEST_METHOD", "GET")
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    parts = environ.get("PATH_INFO", "/").lstrip("/").split("/", 1)
    if not parts[0]:
        return "ListBuckets"
    if len(parts) == 1 or not parts[1]:
        return _s3_bucket_operation(method, query)
    return _s3_object_operation(method, query, environ)


def _s3_bucket_operation(method: str, query: dict[str, list[str]]) -> str:
    if method == "GET":
        return "ListObjectsV2" if query.get("list-type") == ["2"] else "ListObjects"
    if method == "POST" and "delete" in query:
        return "DeleteObjects"
    return {"PUT": "CreateBucket", "HEAD": "HeadBucket", "DELETE": "DeleteBucket"}.get(method, f"Bucket{method}")


def _s3_object_operation(method: str, query: dict[str, list[str]], environ: dict[str, Any]) -> str:
    if method == "PUT":
        if "partNumber" in query:
            return "UploadPart"
        return "CopyObject" if environ.get("HTTP_X_AMZ_COPY_SOURCE") else "PutObject"
    if method == "POST":
        return "CreateMultipartUpload" if "uploads" in query else "CompleteMultipartUpload"
    if method == "DELETE":
        return "AbortMultipartUpload" if "uploadId" in query else "DeleteObject"
    return {"GET": "GetObject", "HEAD": "HeadObject"}.get(method, f"Object{method}")

"""What IAM would evaluate for a request: its actions, each on a resource ARN with its condition keys.

The endpoint enforces no IAM (moto does not either); it records, per principal, the authorization
requests AWS would make for each call, so a test can evaluate them against the project's policies
(infra/glue-pipes.yaml). The mapping follows the AWS Service Authorization Reference. An operation
not listed here maps to an action of its own name on `*` (`s3:BucketGET` for an S3 sub-resource we
do not name): no least-privilege policy grants that, so a new kind of call is noticed, not waved through.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote
from xml.sax.saxutils import unescape

from .glue.models import ACCOUNT_ID


@dataclass(frozen=True)
class Authorization:
    action: str
    resource: str
    context: tuple[tuple[str, str], ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action, "resource": self.resource, "context": dict(self.context)}


_S3_OBJECT_ACTIONS = {
    "GetObject": "s3:GetObject",
    "HeadObject": "s3:GetObject",  # HEAD needs READ, i.e. s3:GetObject (HeadObject API reference)
    "PutObject": "s3:PutObject",
    "CreateMultipartUpload": "s3:PutObject",
    "UploadPart": "s3:PutObject",
    "CompleteMultipartUpload": "s3:PutObject",
    "AbortMultipartUpload": "s3:AbortMultipartUpload",
    "DeleteObject": "s3:DeleteObject",
}
_S3_BUCKET_ACTIONS = {
    "ListObjectsV2": "s3:ListBucket",
    "ListObjects": "s3:ListBucket",
    "HeadBucket": "s3:ListBucket",
    "CreateBucket": "s3:CreateBucket",
    "DeleteBucket": "s3:DeleteBucket",
}
# Glue operations naming one job by `JobName`: the action has the operation's name.
_GLUE_JOB_OPERATIONS = frozenset(
    {
        "StartJobRun",
        "GetJobRun",
        "GetJobRuns",
        "BatchStopJobRun",
        "GetJob",
        "UpdateJob",
        "DeleteJob",
        "GetJobBookmark",
        "ResetJobBookmark",
    }
)
_GLUE_SERVICE = "glue.amazonaws.com"
# Data Catalog operations on one table by `DatabaseName` and `TableName`: catalog, database and table ARNs.
_GLUE_PARTITION_OPERATIONS = frozenset(
    {
        "GetPartition",
        "GetPartitions",
        "BatchGetPartition",
        "CreatePartition",
        "BatchCreatePartition",
        "UpdatePartition",
        "DeletePartition",
        "BatchDeletePartition",
    }
)
_S3_DELETE_KEY = re.compile(r"<Key>(.*?)</Key>", re.S)


def authorizations(operation: str, region: str, environ: dict[str, Any], body: bytes) -> tuple[Authorization, ...]:
    """`operation` is `service:Operation` as `operations.operation_of` names it."""
    service, _, name = operation.partition(":")
    if service == "s3":
        return _s3(name, environ, body)
    if service in ("glue", "logs"):
        try:
            request = json.loads(body or b"{}")
        except json.JSONDecodeError:
            request = {}
        if isinstance(request, dict):
            return _glue(name, region, request) if service == "glue" else _logs(name, region, request)
    # Query-protocol services (STS, IAM, CloudFormation) name the operation in an `Action` form field.
    fields = parse_qs(environ.get("QUERY_STRING", "")) | parse_qs(body.decode("utf-8", errors="replace"))
    action = fields.get("Action", [name])[0]
    return (Authorization(f"{service}:{action}", "*"),)


def _s3(name: str, environ: dict[str, Any], body: bytes) -> tuple[Authorization, ...]:
    bucket, _, key = unquote(environ.get("PATH_INFO", "/")).lstrip("/").partition("/")
    bucket_arn = f"arn:aws:s3:::{bucket}"
    if name in _S3_OBJECT_ACTIONS:
        return (Authorization(_S3_OBJECT_ACTIONS[name], f"{bucket_arn}/{key}"),)
    if name == "CopyObject":
        source = unquote(environ.get("HTTP_X_AMZ_COPY_SOURCE", "")).lstrip("/").split("?")[0]
        return (
            Authorization("s3:GetObject", f"arn:aws:s3:::{source}"),
            Authorization("s3:PutObject", f"{bucket_arn}/{key}"),
        )
    if name in ("ListObjectsV2", "ListObjects"):
        prefix = parse_qs(environ.get("QUERY_STRING", "")).get("prefix", [""])[0]
        return (Authorization("s3:ListBucket", bucket_arn, (("s3:prefix", prefix),)),)
    if name == "DeleteObjects":  # each key needs s3:DeleteObject (DeleteObjects API reference)
        keys = _S3_DELETE_KEY.findall(body.decode("utf-8", errors="replace"))
        return tuple(Authorization("s3:DeleteObject", f"{bucket_arn}/{unescape(key)}") for key in keys)
    if name in _S3_BUCKET_ACTIONS:
        return (Authorization(_S3_BUCKET_ACTIONS[name], bucket_arn),)
    if name == "ListBuckets":
        return (Authorization("s3:ListAllMyBuckets", "*"),)
    return (Authorization(f"s3:{name}", bucket_arn),)


def _glue(name: str, region: str, request: dict[str, Any]) -> tuple[Authorization, ...]:
    def job(job_name: str) -> str:
        return f"arn:aws:glue:{region}:{ACCOUNT_ID}:job/{job_name}"

    if name in _GLUE_JOB_OPERATIONS:
        found = [Authorization(f"glue:{name}", job(str(request.get("JobName", ""))))]
        if name == "UpdateJob" and "Role" in request.get("JobUpdate", {}):
            found.append(_pass_role(request["JobUpdate"]["Role"]))
        return tuple(found)
    if name == "CreateJob":
        found = [Authorization("glue:CreateJob", job(str(request.get("Name", ""))))]
        if request.get("Tags"):  # creating with tags also needs glue:TagResource (Glue's IAM docs)
            found.append(Authorization("glue:TagResource", job(str(request.get("Name", "")))))
        if "Role" in request:
            found.append(_pass_role(request["Role"]))
        return tuple(found)
    if name == "BatchGetJobs":
        return tuple(Authorization("glue:BatchGetJobs", job(str(n))) for n in request.get("JobNames", []))
    if name in ("GetTags", "TagResource", "UntagResource"):
        return (Authorization(f"glue:{name}", str(request.get("ResourceArn", ""))),)
    catalog = _catalog(name, request)
    if catalog is not None:
        # Catalog operations need the action on the catalog, the database and the table (Glue's
        # "Specifying AWS Glue resource ARNs"); deleting a database, on its tables too.
        base = f"arn:aws:glue:{region}:{ACCOUNT_ID}"
        database, table = catalog
        resources = [f"{base}:catalog", f"{base}:database/{database}"]
        resources += [f"{base}:table/{database}/{table}"] if table else []
        resources += [f"{base}:table/{database}/*"] if name == "DeleteDatabase" else []
        return tuple(Authorization(f"glue:{name}", resource) for resource in resources)
    return (Authorization(f"glue:{name}", "*"),)  # GetJobs and other list calls take only `*`


def _catalog(name: str, request: dict[str, Any]) -> tuple[str, str | None] | None:
    """(database, table or None) a Data Catalog operation names; None for other operations."""
    if name == "CreateDatabase":
        return str(request.get("DatabaseInput", {}).get("Name", "")), None
    if name in ("GetDatabase", "DeleteDatabase"):
        return str(request.get("Name", "")), None
    if name in ("CreateTable", "UpdateTable"):
        return str(request.get("DatabaseName", "")), str(request.get("TableInput", {}).get("Name", ""))
    if name in ("GetTable", "DeleteTable"):
        return str(request.get("DatabaseName", "")), str(request.get("Name", ""))
    if name in _GLUE_PARTITION_OPERATIONS:
        return str(request.get("DatabaseName", "")), str(request.get("TableName", ""))
    return None


def _pass_role(role: str) -> Authorization:
    arn = role if role.startswith("arn:") else f"arn:aws:iam::{ACCOUNT_ID}:role/{role}"
    return Authorization("iam:PassRole", arn, (("iam:PassedToService", _GLUE_SERVICE),))


def _logs(name: str, region: str, request: dict[str, Any]) -> tuple[Authorization, ...]:
    group = request.get("logGroupName")
    if group is None:
        return (Authorization(f"logs:{name}", "*"),)
    arn = f"arn:aws:logs:{region}:{ACCOUNT_ID}:log-group:{group}"
    stream = request.get("logStreamName")
    return (Authorization(f"logs:{name}", f"{arn}:log-stream:{stream}" if stream else arn),)

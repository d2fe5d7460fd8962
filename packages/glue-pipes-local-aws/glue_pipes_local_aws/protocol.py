"""How AWS encodes responses and errors on the wire, for the requests we answer ourselves."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from typing import Any
from xml.sax.saxutils import escape

from werkzeug.wrappers import Response

JSON_CONTENT_TYPE = "application/x-amz-json-1.1"


class AwsError(Exception):
    """An error to send back as AWS does; botocore turns `code` into `ClientError.Error.Code`."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


def json_response(body: dict[str, Any]) -> Response:
    return Response(
        json.dumps(body),
        status=200,
        content_type=JSON_CONTENT_TYPE,
        headers={"x-amzn-RequestId": str(uuid.uuid4())},
    )


def json_error(error: AwsError) -> Response:
    """JSON 1.1 error shape (Glue, CloudWatch Logs): `__type` in the body, code in a header too."""
    return Response(
        json.dumps({"__type": error.code, "message": error.message}),
        status=error.status,
        content_type=JSON_CONTENT_TYPE,
        headers={"x-amzn-RequestId": str(uuid.uuid4()), "x-amzn-ErrorType": error.code},
    )


def xml_error(error: AwsError) -> Response:
    """REST-XML error shape (S3)."""
    request_id = str(uuid.uuid4())
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{escape(error.code)}</Code><Message>{escape(error.message)}</Message>"
        f"<RequestId>{request_id}</RequestId></Error>"
    )
    return Response(
        body,
        status=error.status,
        content_type="application/xml",
        headers={"x-amz-request-id": request_id},
    )


def epoch(timestamp: float | None) -> float | None:
    """JSON 1.1 sends timestamps as epoch seconds; botocore parses them into datetimes."""
    return None if timestamp is None else round(timestamp, 3)


def without_none(items: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """AWS omits absent members rather than sending null."""
    return {key: value for key, value in items if value is not None}

"""The endpoint's front door: only its user, from this machine, not through a browser.

Every request must name the loopback address and port the endpoint serves in `Host` (DNS
rebinding), carry no `Origin` (a web page), and be SigV4-signed with the endpoint's credentials or
one of its named principals' (`PRINCIPALS`); the request then carries the principal's name
(`PRINCIPAL_KEY`) and its buffered body (`BODY_KEY`) for attribution. The control API wants a token
derived from the endpoint's own secret and JSON bodies. Signatures are checked
by recomputing them with botocore's own signer. No response grants CORS: moto's permissive headers
are stripped.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import io
import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from botocore.auth import SIGV4_TIMESTAMP, S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.compat import HTTPHeaders
from botocore.credentials import Credentials
from werkzeug.datastructures import EnvironHeaders
from werkzeug.wrappers import Response
from werkzeug.wsgi import get_input_stream

from .control_client import CONTROL_PREFIX, HEALTH_ROUTE, TOKEN_HEADER
from .credentials import ADMIN, EndpointCredentials
from .protocol import AwsError, json_error, xml_error

WsgiApp = Callable[[dict[str, Any], Any], Iterable[bytes]]

_AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/,\s]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)"
    r"/aws4_request,\s*SignedHeaders=(?P<headers>[a-z0-9;-]+),\s*Signature=(?P<signature>[0-9a-f]{64})"
)
# Values of x-amz-content-sha256 that stand for a body the signature does not cover (as on AWS).
_UNHASHED_PAYLOADS = frozenset(
    {
        "UNSIGNED-PAYLOAD",
        "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
    }
)
_MAX_CLOCK_SKEW = datetime.timedelta(minutes=15)  # what AWS allows
_HOW_TO_SIGN = "sign requests with this endpoint's credentials (glue-pipes local-aws env)"
PRINCIPAL_KEY = "glue_pipes.principal"  # WSGI environ keys set on an authenticated request
BODY_KEY = "glue_pipes.body"


class RequestGuard:
    """WSGI middleware in front of the endpoint's app."""

    def __init__(
        self,
        app: WsgiApp,
        credentials: EndpointCredentials,
        host: str,
        port: int,
        principals: Mapping[str, EndpointCredentials] | None = None,
    ) -> None:
        self._app = app
        self._credentials = credentials
        self._principals = {ADMIN: credentials, **(principals or {})}
        names = {*("127.0.0.1", "localhost", "[::1]"), f"[{host}]" if ":" in host else host}
        self._hosts = {f"{name}:{port}" for name in names}

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        def start_without_cors(status: str, headers: list[tuple[str, str]], *args: Any) -> Any:
            kept = [(name, value) for name, value in headers if not name.lower().startswith("access-control-")]
            return start_response(status, kept, *args)

        rejection = self._rejection(environ)
        if rejection is not None:
            return rejection(environ, start_without_cors)
        return self._app(environ, start_without_cors)

    def _rejection(self, environ: dict[str, Any]) -> Response | None:
        respond = json_error if _is_json_protocol(environ) else xml_error
        if environ.get("HTTP_HOST", "").lower() not in self._hosts:
            return respond(AwsError("AccessDenied", "Host must be the loopback address and port of this endpoint", 403))
        if "HTTP_ORIGIN" in environ or environ.get("REQUEST_METHOD") == "OPTIONS":
            return respond(AwsError("AccessDenied", "Cross-origin requests are not allowed", 403))
        if environ.get("PATH_INFO", "").startswith(CONTROL_PREFIX):
            return self._control_rejection(environ)
        try:
            self._verify_signature(environ)
        except AwsError as error:
            return respond(error)
        return None

    def _control_rejection(self, environ: dict[str, Any]) -> Response | None:
        method = environ.get("REQUEST_METHOD")
        if method == "GET" and environ["PATH_INFO"] == CONTROL_PREFIX + HEALTH_ROUTE:
            return None  # says only that this is our endpoint, so a foreign server on the port is recognised
        token = environ.get("HTTP_" + TOKEN_HEADER.upper().replace("-", "_"), "")
        if not hmac.compare_digest(token.encode(), self._credentials.control_token.encode()):
            return _control_error(f"the control API needs the {TOKEN_HEADER} header; use ControlClient", 403)
        content_type = environ.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
        if method != "GET" and content_type != "application/json":
            return _control_error("the control API accepts only application/json bodies", 415)
        return None

    def _verify_signature(self, environ: dict[str, Any]) -> None:
        json_protocol = _is_json_protocol(environ)
        if "X-Amz-Signature=" in environ.get("QUERY_STRING", ""):
            raise AwsError("AccessDenied", f"Presigned URLs are not supported: {_HOW_TO_SIGN}", 403)
        match = _AUTHORIZATION.fullmatch(environ.get("HTTP_AUTHORIZATION", "").strip())
        if match is None:
            code = "MissingAuthenticationTokenException" if json_protocol else "AccessDenied"
            raise AwsError(code, f"Request is not signed with SigV4: {_HOW_TO_SIGN}", 403)
        principal = self._principal_of(match["key"])
        if principal is None:
            code = "UnrecognizedClientException" if json_protocol else "InvalidAccessKeyId"
            raise AwsError(code, f"Unknown access key id: {_HOW_TO_SIGN}", 403)
        timestamp = _request_time(environ, match["date"])
        body = _buffered_body(environ)
        payload_hash = environ.get("HTTP_X_AMZ_CONTENT_SHA256")
        if payload_hash and payload_hash not in _UNHASHED_PAYLOADS and payload_hash != hashlib.sha256(body).hexdigest():
            raise AwsError("XAmzContentSHA256Mismatch", "x-amz-content-sha256 does not match the body", 400)
        expected = self._signature(environ, match, timestamp, body, self._principals[principal])
        if not hmac.compare_digest(expected.encode(), match["signature"].encode()):
            code = "InvalidSignatureException" if json_protocol else "SignatureDoesNotMatch"
            raise AwsError(code, f"The request signature does not match: {_HOW_TO_SIGN}", 403)
        environ[PRINCIPAL_KEY] = principal
        environ[BODY_KEY] = body

    def _principal_of(self, access_key_id: str) -> str | None:
        found = None
        for name, credentials in self._principals.items():  # every key compared: no timing hint of which matched
            if hmac.compare_digest(access_key_id.encode(), credentials.access_key_id.encode()):
                found = name
        return found

    def _signature(
        self,
        environ: dict[str, Any],
        match: re.Match[str],
        timestamp: str,
        body: bytes,
        signer_credentials: EndpointCredentials,
    ) -> str:
        signer_class = _S3Verifier if match["service"] == "s3" else _Verifier
        credentials = Credentials(signer_credentials.access_key_id, signer_credentials.secret_access_key)
        signer = signer_class(credentials, match["service"], match["region"])
        headers = EnvironHeaders(environ)
        signed = HTTPHeaders()
        for name in match["headers"].split(";"):
            if name == "host":
                signed[name] = environ.get("HTTP_HOST", "")
            elif name in headers:
                signed[name] = headers[name]
        # The path exactly as the client sent it (still percent-encoded), which is what it signed.
        url = f"http://{environ.get('HTTP_HOST', '')}{environ.get('RAW_URI') or environ.get('REQUEST_URI', '/')}"
        request = AWSRequest(method=environ.get("REQUEST_METHOD", "GET"), url=url, headers=signed, data=body)
        request.context["timestamp"] = timestamp
        return signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)


class _SignedHeadersAsSent:
    """botocore's signer, told which headers the client signed instead of choosing them itself."""

    def headers_to_sign(self, request: AWSRequest) -> HTTPHeaders:
        return request.headers


class _Verifier(_SignedHeadersAsSent, SigV4Auth):
    pass


class _S3Verifier(_SignedHeadersAsSent, S3SigV4Auth):  # S3 signs the path as sent, unnormalised
    pass


def _request_time(environ: dict[str, Any], scope_date: str) -> str:
    timestamp = environ.get("HTTP_X_AMZ_DATE", "")
    try:
        sent = datetime.datetime.strptime(timestamp, SIGV4_TIMESTAMP).replace(tzinfo=datetime.UTC)
    except ValueError:
        raise AwsError("IncompleteSignature", "X-Amz-Date is missing or malformed", 403) from None
    if timestamp[:8] != scope_date or abs(datetime.datetime.now(datetime.UTC) - sent) > _MAX_CLOCK_SKEW:
        raise AwsError("RequestTimeTooSkewed", "The request time is too far from the endpoint's time", 403)
    return timestamp


def _buffered_body(environ: dict[str, Any]) -> bytes:
    """Read the body to hash it, and hand the app a stream that yields it again."""
    body = get_input_stream(environ).read()
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    environ.pop("wsgi.input_terminated", None)
    return body


def _is_json_protocol(environ: dict[str, Any]) -> bool:
    """Glue and CloudWatch Logs speak JSON 1.1 (X-Amz-Target); S3 and the query protocols speak XML."""
    return "HTTP_X_AMZ_TARGET" in environ or environ.get("CONTENT_TYPE", "").startswith("application/x-amz-json")


def _control_error(message: str, status: int) -> Response:
    return Response(json.dumps({"message": message}), status=status, content_type="application/json")

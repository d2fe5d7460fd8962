"""The endpoint's WSGI app: control API, our Glue job API, and moto for everything else."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import Any

from werkzeug.wrappers import Request, Response

from .attribution import authorizations
from .auth import BODY_KEY, PRINCIPAL_KEY
from .clients import INTERNAL_HEADER
from .control import CONTROL_PREFIX, ControlApi
from .glue.responses import GlueApi
from .moto_compat import DomainDispatcherApplication, create_backend_app
from .operations import operation_of, signing_scope
from .protocol import AwsError, json_error, json_response, xml_error
from .traffic import FaultPlan, QuotaEnforcer, RequestCounter

GLUE_TARGET_PREFIX = "AWSGlue."
_INTERNAL_ENVIRON_KEY = "HTTP_" + INTERNAL_HEADER.upper().replace("-", "_")

StartResponse = Any  # the WSGI start_response callable


class EndpointApp:
    def __init__(
        self,
        glue: GlueApi,
        control: ControlApi,
        counter: RequestCounter,
        faults: FaultPlan,
        default_region: str,
        quotas: QuotaEnforcer,
    ) -> None:
        self._glue = glue
        self._control = control
        self._counter = counter
        self._faults = faults
        self._default_region = default_region
        self._quotas = quotas
        self._moto = DomainDispatcherApplication(create_backend_app)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").startswith(CONTROL_PREFIX):
            return self._control.handle(Request(environ))(environ, start_response)
        operation = operation_of(environ)
        # Every call, the endpoint's own included (the Glue service acts as the job's role), is attributed.
        self._counter.record(
            environ.get(PRINCIPAL_KEY, ""),
            operation,
            authorizations(operation, self._region(environ), environ, environ.get(BODY_KEY, b"")),
        )
        if environ.get(_INTERNAL_ENVIRON_KEY) != "1":  # only what clients send is counted and faulted
            self._counter.count(operation)
            fault = self._faults.take(operation)
            if fault and fault.error:
                error = AwsError(fault.error, fault.message, fault.status)
                respond = json_error if environ.get("HTTP_X_AMZ_TARGET") else xml_error
                return respond(error)(environ, start_response)
            if not self._quotas.allows(operation, self._region(environ)):
                self._counter.count_throttled(operation)
                return _throttled(environ)(environ, start_response)
            if fault:
                body = self._dispatch(environ, start_response)  # the work is done before the answer is late
                time.sleep(fault.delay_seconds)
                return body
        return self._dispatch(environ, start_response)

    def _dispatch(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        operation_name = target.removeprefix(GLUE_TARGET_PREFIX)
        if target.startswith(GLUE_TARGET_PREFIX) and self._glue.owns(operation_name):
            return self._glue_response(environ, operation_name)(environ, start_response)
        return self._moto(environ, start_response)

    def _region(self, environ: dict[str, Any]) -> str:
        scope = signing_scope(environ)
        return scope[0] if scope else self._default_region

    def _glue_response(self, environ: dict[str, Any], operation: str) -> Response:
        region = self._region(environ)
        try:
            body = json.loads(Request(environ).get_data() or b"{}")
            return json_response(self._glue.handle(operation, region, body))
        except AwsError as error:
            return json_error(error)
        except KeyError as missing:
            return json_error(AwsError("InvalidInputException", f"Missing required parameter {missing}"))
        except json.JSONDecodeError as error:
            return json_error(AwsError("SerializationException", str(error)))


def _throttled(environ: dict[str, Any]) -> Response:
    """A call over its quota, answered as AWS does: JSON services 400 ThrottlingException, S3 503 SlowDown."""
    if environ.get("HTTP_X_AMZ_TARGET"):
        return json_error(AwsError("ThrottlingException", "Rate exceeded"))
    return xml_error(AwsError("SlowDown", "Please reduce your request rate.", 503))

"""The `/_glue_pipes/` control API: health, request counts and attributed calls, faults, quotas, forced
run states, shutdown."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

from werkzeug.wrappers import Request, Response

from .control_client import CONTROL_PREFIX, SERVICE_NAME
from .glue.models import STATES
from .glue.responses import GlueApi
from .traffic import Fault, FaultPlan, QuotaEnforcer, QuotaTable, RequestCounter


class ControlApi:
    def __init__(
        self,
        endpoint_url: str,
        counter: RequestCounter,
        faults: FaultPlan,
        glue: GlueApi,
        quotas: QuotaEnforcer,
        on_shutdown: Callable[[], None],
    ) -> None:
        self._endpoint_url = endpoint_url
        self._counter = counter
        self._faults = faults
        self._glue = glue
        self._quotas = quotas
        self._on_shutdown = on_shutdown

    def handle(self, request: Request) -> Response:
        path = request.path.removeprefix(CONTROL_PREFIX).strip("/")
        route = (request.method, path)
        run_id = _run_state_path(path)
        if request.method == "POST" and run_id:
            return self._force_run_state(run_id, request)
        if route == ("GET", "health"):
            return _json({"service": SERVICE_NAME, "pid": os.getpid(), "endpoint_url": self._endpoint_url})
        if route == ("GET", "requests"):
            return _json(self._counter.snapshot())
        if route == ("GET", "requests/calls"):
            return _json({"calls": self._counter.calls()})
        if route == ("GET", "requests/throttled"):
            return _json(self._counter.throttled())
        if route == ("DELETE", "requests"):
            self._counter.reset()
            return _json({})
        if route == ("GET", "quotas"):
            table = self._quotas.table
            return _json({"enforced": table is not None, **(table.to_dict() if table else {})})
        if route == ("PUT", "quotas"):
            return self._set_quotas(request)
        if route == ("DELETE", "quotas"):
            self._quotas.configure(None)
            return _json({})
        if route == ("POST", "faults"):
            return self._add_fault(request)
        if route == ("DELETE", "faults"):
            self._faults.clear()
            return _json({})
        if route == ("POST", "shutdown"):
            self._on_shutdown()
            return _json({"stopping": True})
        return _json({"message": f"no control route {request.method} {request.path}"}, status=404)

    def _add_fault(self, request: Request) -> Response:
        spec = request.get_json(force=True, silent=True)
        if (
            not isinstance(spec, dict)
            or not spec.get("operation")
            or not (spec.get("error") or float(spec.get("delay_seconds") or 0) > 0)
        ):
            return _json(
                {"message": 'expected {"operation": ..., "error" or "delay_seconds": ..., "count"?, "status"?}'},
                status=400,
            )
        self._faults.add(
            Fault(
                operation=spec["operation"],
                error=spec.get("error"),
                remaining=int(spec.get("count", 1)),
                status=int(spec.get("status", 400)),
                message=spec.get("message", "Injected fault"),
                delay_seconds=float(spec.get("delay_seconds") or 0),
            )
        )
        return _json({})

    def _set_quotas(self, request: Request) -> Response:
        spec = request.get_json(force=True, silent=True)
        try:
            if not isinstance(spec, dict) or not isinstance(spec.get("quotas"), str):
                raise ValueError('expected {"quotas": "aws" | "service:Operation=TPS,..."}')
            self._quotas.configure(QuotaTable.parse(spec["quotas"]))
        except ValueError as error:
            return _json({"message": str(error)}, status=400)
        return _json({})

    def _force_run_state(self, run_id: str, request: Request) -> Response:
        spec = request.get_json(force=True, silent=True)
        if not isinstance(spec, dict) or spec.get("state") not in STATES:
            return _json({"message": f'expected {{"state": one of {sorted(STATES)}, "error_message"?}}'}, status=400)
        run = self._glue.find_run(run_id)
        if run is None:
            return _json({"message": f"no job run {run_id}"}, status=404)
        run.force_state(spec["state"], spec.get("error_message"))
        return _json({})


def _run_state_path(path: str) -> str | None:
    """The run id of `runs/<run id>/state`."""
    parts = path.split("/")
    return parts[1] if len(parts) == 3 and parts[0] == "runs" and parts[2] == "state" else None


def _json(body: dict[str, Any], status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")

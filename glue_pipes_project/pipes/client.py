"""Our Glue Pipes client: dagster-aws's ``PipesGlueClient``, fixed where it falls short.

Still a ``PipesGlueClient`` with the same ``run(context=..., start_job_run_params=..., extras=...)``,
so assets read exactly like dagster-aws's documentation. On top of upstream (0.29) it:

- reports the launched run at once, so the live readers (``pipes.readers``) stream messages and
  logs while the job runs, from a failed run too;
- polls GetJobRun fast at first and backs off to a cap (upstream: a fixed 5 s), goes back to fast
  polling once the script has closed Pipes, and treats every terminal state, EXPIRED included, as
  the end;
- retries StartJobRun on ``ConcurrentRunsExceededException`` with backoff up to a deadline;
- attaches a retried step to the Glue run its earlier attempt started, if that run still runs;
- stops the Glue run when the Dagster run is terminated, from the moment a run may exist (upstream
  only once it polls), reading boto3's real ``Errors`` key;
- warns in the step's log when one AWS call has been pending for long;
- paces GetJobRun with the machine-wide adaptive budget the readers use for GetLogEvents;
- fails with the state, ``ErrorMessage``, the tail of the run's error log and links;
- adds execution time, the run's capacity, timeout and execution class, DPU-hours and estimated
  cost to the metadata;
- resolves logical job names from jobs.yaml, and never mutates the caller's params.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from dagster import (
    AssetExecutionContext,
    DagsterExecutionInterruptedError,
    Failure,
    MetadataValue,
    OpExecutionContext,
    PipesClientCompletedInvocation,
    PipesContextInjector,
    PipesMessageReader,
    PipesSession,
    open_pipes_session,
)
from dagster_aws.pipes import PipesGlueClient
from dagster_pipes import DAGSTER_PIPES_MESSAGES_CLI_ARGUMENT, decode_param

from glue_pipes_project.dagster_compat import step_key
from glue_pipes_project.glue_facts import TERMINAL_STATES
from glue_pipes_project.pipes.call_budget import CallBudget
from glue_pipes_project.pipes.costs import GlueRates, GlueUsage

if TYPE_CHECKING:
    from mypy_boto3_glue import GlueClient
    from mypy_boto3_glue.type_defs import JobRunTypeDef
    from mypy_boto3_logs import CloudWatchLogsClient

INTERRUPTS = (DagsterExecutionInterruptedError, KeyboardInterrupt)
# Our own run argument: which Dagster step started this Glue run, so a retry can find it.
STEP_ARGUMENT = "--dagster-step"


@dataclass(frozen=True)
class Backoff:
    initial_seconds: float
    maximum_seconds: float
    factor: float = 2.0

    def intervals(self) -> Iterator[float]:
        interval = self.initial_seconds
        while True:
            yield interval
            interval = min(interval * self.factor, self.maximum_seconds)


@dataclass(frozen=True)
class GlueRunPolicy:
    """How the client waits, retries and stops; the defaults suit both short and hours-long jobs."""

    poll: Backoff = Backoff(initial_seconds=0.1, maximum_seconds=5.0, factor=1.5)
    start_retry: Backoff = Backoff(initial_seconds=2.0, maximum_seconds=60.0)
    start_retry_timeout_seconds: float = 300.0
    stop_timeout_seconds: float = 30.0
    error_tail_lines: int = 30
    # Warn in the step's log when a single AWS call has been pending this long.
    slow_call_warning_seconds: float = 30.0


@dataclass
class _StartedRun:
    """What the client knows of the Glue run it is starting, for stopping it when interrupted."""

    run_id: str | None = None
    # A StartJobRun call was made and not refused: a run may exist even without a known id.
    attempted: bool = False


class LiveGlueClient(PipesGlueClient):
    def __init__(
        self,
        *,
        client: GlueClient,
        context_injector: PipesContextInjector,
        message_reader: PipesMessageReader,
        logs_client: CloudWatchLogsClient,
        job_names: Mapping[str, str] | None = None,
        policy: GlueRunPolicy | None = None,
        rates: GlueRates | None = None,
        forward_termination: bool = True,
    ):
        # Still a PipesGlueClient (the documented asset signature is true), but we keep our own
        # references instead of relying on upstream's private attributes.
        super().__init__(
            context_injector=context_injector,
            message_reader=message_reader,
            client=client,
            forward_termination=forward_termination,
        )
        self._glue = client
        self._injector = context_injector
        self._reader = message_reader
        self._logs = logs_client
        self._job_names = dict(job_names or {})
        self.policy = policy or GlueRunPolicy()
        self.rates = rates or GlueRates()
        # Every step polls GetJobRun: pace them machine-wide and slow down on throttling, as the readers
        # do for GetLogEvents, instead of letting botocore's retries absorb the throttles.
        CallBudget.attach(self._glue, "GetJobRun")

    def deployed_job_name(self, job_name: str) -> str:
        """The Glue name of a logical job; names not in jobs.yaml pass through unchanged."""
        return self._job_names.get(job_name, job_name)

    def run(  # type: ignore[override]
        self,
        *,
        context: OpExecutionContext | AssetExecutionContext,
        start_job_run_params: Mapping[str, Any],
        extras: dict[str, Any] | None = None,
    ) -> PipesClientCompletedInvocation:
        params = copy.deepcopy(dict(start_job_run_params))
        job_name = params["JobName"] = self.deployed_job_name(params["JobName"])
        params["Arguments"] = dict(params.get("Arguments") or {})
        step = _step_marker(context)

        with open_pipes_session(
            context=context,
            message_reader=self._reader,
            context_injector=self._injector,
            extras=extras,
        ) as session:
            started = _StartedRun()
            # From the moment a Glue run may exist, a terminated Dagster run stops it.
            try:
                attached = self._active_run_of(job_name, step) if _is_retry(context) else None
                if attached:
                    started.run_id = attached["Id"]
                    context.log.info(
                        f"Attaching to Glue job {job_name} run {started.run_id}, started by an earlier attempt"
                    )
                    messages_params = _decoded(attached.get("Arguments", {}).get(DAGSTER_PIPES_MESSAGES_CLI_ARGUMENT))
                else:
                    params["Arguments"].update(session.get_bootstrap_cli_arguments())
                    params["Arguments"][STEP_ARGUMENT] = step
                    self._start(context, params, started)
                    messages_params = {}
                run_id = started.run_id
                assert run_id is not None  # attached, or _start returned with an id
                job_run = self._call(context, "GetJobRun", self._glue.get_job_run, JobName=job_name, RunId=run_id)
                self._report_launched(context, session, job_run["JobRun"], messages_params)
                job_run = self._wait(context, job_name, run_id, session)
            except INTERRUPTS:
                if self.forward_termination:
                    self._stop_started(context, job_name, step, started)
                raise
            if job_run["JobRunState"] != "SUCCEEDED":
                raise self._failure(job_run)
            context.log.info(f"Glue job {job_name} run {run_id} succeeded in {job_run.get('ExecutionTime', 0)} s")

        return PipesClientCompletedInvocation(session, metadata=self._metadata(job_run))

    # -- starting ------------------------------------------------------------------------------

    def _report_launched(
        self,
        context: OpExecutionContext | AssetExecutionContext,
        session: PipesSession,
        job_run: dict[str, Any],
        messages_params: dict[str, Any],
    ) -> None:
        log_group = job_run.get("LogGroupName")
        if not log_group:
            context.log.warning(f"Glue job {job_run['JobName']} has no CloudWatch log group: no live logs or messages")
            return
        session.report_launched(
            {
                "extras": {
                    "log_group": f"{log_group}/output",
                    "log_stream": job_run["Id"],
                    "glue_log_group": log_group,
                    "messages_params": messages_params,
                }
            }
        )

    def _start(
        self, context: OpExecutionContext | AssetExecutionContext, params: dict[str, Any], started: _StartedRun
    ) -> None:
        deadline = time.monotonic() + self.policy.start_retry_timeout_seconds
        waits = self.policy.start_retry.intervals()
        while True:
            started.attempted = True
            try:
                started.run_id = self._call(context, "StartJobRun", self._glue.start_job_run, **params)["JobRunId"]
            except self._glue.exceptions.ConcurrentRunsExceededException as exc:
                started.attempted = False  # refused: no run exists
                wait = next(waits)
                if time.monotonic() + wait > deadline:
                    raise Failure(
                        description=(
                            f"Glue job {params['JobName']} is already running as many runs as its "
                            f"MaxConcurrentRuns allows; still refused after "
                            f"{self.policy.start_retry_timeout_seconds:.0f} s of retries "
                            f"({exc.response['Error'].get('Message', '')})"
                        ),
                        metadata={"AWS Glue Job Name": params["JobName"]},
                    ) from exc
                context.log.info(f"Glue job {params['JobName']} is at MaxConcurrentRuns; retrying in {wait:.0f} s")
                time.sleep(wait)
                continue
            context.log.info(f"Started AWS Glue job {params['JobName']} run: {started.run_id}")
            return

    def _active_run_of(self, job_name: str, step: str) -> JobRunTypeDef | None:
        # Runs come newest first, and a job has at most MaxConcurrentRuns active ones: one page will do.
        for job_run in self._glue.get_job_runs(JobName=job_name, MaxResults=200).get("JobRuns", []):
            arguments = job_run.get("Arguments") or {}
            if job_run["JobRunState"] not in TERMINAL_STATES and arguments.get(STEP_ARGUMENT) == step:
                return job_run
        return None

    # -- waiting and stopping ------------------------------------------------------------------

    def _wait(
        self, context: OpExecutionContext | AssetExecutionContext, job_name: str, run_id: str, session: PipesSession
    ) -> dict[str, Any]:
        waits = self.policy.poll.intervals()
        script_closed = False
        while True:
            job_run = self._call(context, "GetJobRun", self._glue.get_job_run, JobName=job_name, RunId=run_id)
            job_run = job_run["JobRun"]
            if job_run["JobRunState"] in TERMINAL_STATES:
                return job_run
            if not script_closed and _sleep_unless(
                next(waits), lambda: session.message_handler.received_closed_message
            ):
                # The script closed Pipes: Glue will report the end within moments, so poll fast again.
                script_closed = True
                waits = self.policy.poll.intervals()
            elif script_closed:
                time.sleep(next(waits))

    def _call(
        self,
        context: OpExecutionContext | AssetExecutionContext,
        operation: str,
        call: Callable[..., Any],
        **kwargs: Any,
    ) -> Any:
        """One AWS call, with a warning in the step's log when it stays pending for long."""
        after = self.policy.slow_call_warning_seconds
        warning = threading.Timer(
            after,
            lambda: context.log.warning(
                f"Still waiting for AWS to answer {operation} after {after:g} s "
                f"(throttled, or the endpoint is slow or unreachable)"
            ),
        )
        warning.daemon = True
        warning.start()
        try:
            return call(**kwargs)
        finally:
            warning.cancel()

    def _stop_started(
        self, context: OpExecutionContext | AssetExecutionContext, job_name: str, step: str, started: _StartedRun
    ) -> None:
        run_id = started.run_id
        if run_id is None and started.attempted:
            # Interrupted while StartJobRun was in flight: the run may exist without us knowing its id.
            active = self._active_run_of(job_name, step)
            run_id = active["Id"] if active else None
        if run_id is not None:
            self._stop(context, job_name, run_id)

    def _stop(self, context: OpExecutionContext | AssetExecutionContext, job_name: str, run_id: str) -> None:
        context.log.warning(f"Dagster run terminated: stopping Glue job {job_name} run {run_id}")
        response = self._glue.batch_stop_job_run(JobName=job_name, JobRunIds=[run_id])
        if not response.get("SuccessfulSubmissions"):
            errors = response.get("Errors") or []
            detail = "; ".join(
                f"{e.get('ErrorDetail', {}).get('ErrorCode')}: {e.get('ErrorDetail', {}).get('ErrorMessage')}"
                for e in errors
            )
            context.log.warning(f"Glue did not accept the stop of run {run_id}: {detail or response}")
            return
        deadline = time.monotonic() + self.policy.stop_timeout_seconds
        state = "STOPPING"
        while time.monotonic() < deadline:
            state = self._glue.get_job_run(JobName=job_name, RunId=run_id)["JobRun"]["JobRunState"]
            if state in TERMINAL_STATES:
                break
            time.sleep(0.5)
        context.log.warning(f"Glue job {job_name} run {run_id} is {state}")

    # -- results -------------------------------------------------------------------------------

    def _failure(self, job_run: dict[str, Any]) -> Failure:
        job_name, run_id, state = job_run["JobName"], job_run["Id"], job_run["JobRunState"]
        log_group = job_run.get("LogGroupName")
        lines = [
            f"Glue job {job_name} run {run_id} ended {state} after {job_run.get('ExecutionTime', 0)} s: "
            f"{job_run.get('ErrorMessage') or 'no error message'}"
        ]
        tail = self._error_tail(log_group, run_id) if log_group else []
        if tail:
            lines += [f"Last {len(tail)} lines of {log_group}/error:", *(f"    {line}" for line in tail)]
        links = self._links(job_run)
        lines += [f"{label}: {url}" for label, url in links.items()]
        return Failure(
            description="\n".join(lines),
            metadata={
                "AWS Glue Job Name": job_name,
                "AWS Glue Job Run ID": run_id,
                "AWS Glue Job Run State": state,
                "AWS Glue Error Message": job_run.get("ErrorMessage") or "",
                **{label: MetadataValue.url(url) for label, url in links.items()},
            },
        )

    def _error_tail(self, log_group: str, run_id: str) -> list[str]:
        try:
            response = self._logs.get_log_events(
                logGroupName=f"{log_group}/error",
                logStreamName=run_id,
                startFromHead=False,
                limit=self.policy.error_tail_lines,
            )
        except self._logs.exceptions.ResourceNotFoundException:
            return []
        return [event["message"] for event in response.get("events", [])]

    def _links(self, job_run: dict[str, Any]) -> dict[str, str]:
        region = self._glue.meta.region_name
        console = f"https://{region}.console.aws.amazon.com"
        links = {
            "AWS Glue Job Run URL": f"{console}/gluestudio/home?region={region}#/job/{quote(job_run['JobName'])}"
            f"/run/{job_run['Id']}"
        }
        if log_group := job_run.get("LogGroupName"):
            for stream in ("output", "error"):
                links[f"AWS Glue {stream} logs"] = (
                    f"{console}/cloudwatch/home?region={region}#logsV2:log-groups/log-group/"
                    f"{_console_escape(f'{log_group}/{stream}')}/log-events/{_console_escape(job_run['Id'])}"
                )
        return links

    def _metadata(self, job_run: dict[str, Any]) -> dict[str, Any]:
        usage = GlueUsage.of(job_run, self.rates)
        metadata: dict[str, Any] = {
            "AWS Glue Job Run ID": job_run["Id"],
            "AWS Glue Job Name": job_run["JobName"],
            **{label: MetadataValue.url(url) for label, url in self._links(job_run).items()},
            "AWS Glue Execution Time (s)": usage.execution_seconds,
        }
        if job_run.get("WorkerType"):
            metadata["AWS Glue Worker Type"] = job_run["WorkerType"]
            metadata["AWS Glue Number of Workers"] = job_run.get("NumberOfWorkers")
        elif job_run.get("MaxCapacity") is not None:
            metadata["AWS Glue Max Capacity (DPU)"] = float(job_run["MaxCapacity"])
        # The run's own values (GetJobRun), so per-run overrides show as they ran.
        if job_run.get("Timeout") is not None:
            metadata["AWS Glue Timeout (min)"] = job_run["Timeout"]
        if job_run.get("ExecutionClass"):
            metadata["AWS Glue Execution Class"] = job_run["ExecutionClass"]
        if usage.dpu_hours is not None:
            metadata["AWS Glue DPU Hours"] = usage.dpu_hours
            metadata["AWS Glue Estimated Cost (USD)"] = usage.estimated_cost_usd
        return metadata


def _sleep_unless(seconds: float, condition: Callable[[], bool]) -> bool:
    """Sleep up to ``seconds``; return True as soon as ``condition`` holds."""
    deadline = time.monotonic() + seconds
    while not condition():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        time.sleep(min(remaining, 0.02))
    return True


def _step_marker(context: OpExecutionContext | AssetExecutionContext) -> str:
    op_context = context.op_execution_context if isinstance(context, AssetExecutionContext) else context
    run = op_context.run
    return f"{run.root_run_id or run.run_id}:{step_key(op_context)}"


def _is_retry(context: OpExecutionContext | AssetExecutionContext) -> bool:
    op_context = context.op_execution_context if isinstance(context, AssetExecutionContext) else context
    return op_context.retry_number > 0 or op_context.run.parent_run_id is not None


def _decoded(value: str | None) -> dict[str, Any]:
    return decode_param(value) if value else {}


def _console_escape(text: str) -> str:
    # The CloudWatch console double-encodes path parts and writes '%' as '$'.
    return quote(quote(text, safe=""), safe="").replace("%", "$")

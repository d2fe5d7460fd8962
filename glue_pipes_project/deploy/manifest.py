"""Load and validate ``glue_jobs/jobs.yaml``, the one source of truth for Glue job definitions.

Every problem is reported as one line naming the file, the job and the field, and all problems are
collected before anything is raised, so a user fixes the manifest in one pass. Each job's optional
``asset`` block says how Dagster shows it (the deploy step ignores that block).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

import dagster as dg
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from glue_pipes_project.deploy.strict_yaml import StrictYamlReader, YamlInputError
from glue_pipes_project.glue_facts import (
    COMMAND_PYTHON_VERSION,
    GLUE_PYTHON,
    MAX_DESCRIPTION,
    MAX_TIMEOUT_MINUTES,
    PYTHONSHELL_CAPACITIES,
    WORKER_TYPES,
)

# Glue's name limit is 255; deployed names get an environment prefix, so leave room for it.
MAX_LOGICAL_NAME = 200
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
# Arguments the deploy step and the Pipes client own; a manifest setting them would be overwritten.
RESERVED_ARGUMENTS = (
    "--extra-py-files",
    "--dagster-pipes-context",
    "--dagster-pipes-messages",
    "--data_location",
    "--catalog_database",
)
_RESERVED_HINTS = {
    "--extra-py-files": "list files under extra_py_files",
    "--data_location": "set by deploy for the environment",
    "--catalog_database": "set by deploy for the environment",
}
# A message lists at most this many problems, so a huge broken manifest still gives a readable error.
MAX_PROBLEMS = 50
# Control characters other than tab: Glue's string patterns exclude them, and they garble messages.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")
_ASSET_KEY = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")
# Dagster's rule for names (checks become op outputs named after them).
_DAGSTER_NAME = re.compile(r"^[A-Za-z0-9_]+$")
MessageReader = Literal["cloudwatch", "s3"]
# A partitioned asset's run gets its partition key as this argument.
PARTITION_ARGUMENT = "--partition_date"
# Every Glue asset's deploy check (defs/glue/deploy_checks.py); a check of jobs.yaml may not take its name.
DEPLOY_CHECK = "deployed_job_matches_repository"
# How a job's script sends Pipes messages, and the Dagster resource whose client reads them that way.
MESSAGE_READER_RESOURCES: dict[MessageReader, str] = {"cloudwatch": "glue_pipes_client", "s3": "glue_pipes_s3_client"}


def _single_line(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters or line breaks")
    return value


def _text(value: str) -> str:
    # Glue's DescriptionString pattern allows tab, CR and LF, nothing else below 0x20.
    if _CONTROL.search(value.replace("\n", "").replace("\r", "")):
        raise ValueError("must not contain control characters")
    return value


def _asset_key(value: str) -> str:
    # Dagster turns a key into an op name by joining segments with '__' and replacing '-' and '.'
    # with '_'; anything else outside [A-Za-z0-9_] would fail when the asset is built.
    if not _ASSET_KEY.fullmatch(value):
        raise ValueError("use segments of letters, digits, '_', '.', '-' separated by '/'")
    return value


def _iso_date(value: str) -> str:
    try:
        if date.fromisoformat(value).isoformat() == value:
            return value
    except ValueError:
        pass
    raise ValueError("use a date as YYYY-MM-DD")


Line = Annotated[str, AfterValidator(_single_line)]
# YAML reads an unquoted 2026-11-01 as a date; quoted or not, it is the same day.
IsoDate = Annotated[
    str, BeforeValidator(lambda v: v.isoformat() if isinstance(v, date) else v), AfterValidator(_iso_date)
]
Text = Annotated[str, AfterValidator(_text)]
AssetKeyText = Annotated[str, AfterValidator(_asset_key)]


class ManifestError(ValueError):
    """One or more problems in a manifest; ``problems`` holds one line per problem."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


class DailyPartitions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    start_date: IsoDate
    end_offset: int = Field(default=0, strict=True)


class Partitions(BaseModel):
    """How the asset is partitioned; daily is the one kind so far (its key is a day, YYYY-MM-DD)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    daily: DailyPartitions

    def definition(self) -> dg.DailyPartitionsDefinition:
        return dg.DailyPartitionsDefinition(start_date=self.daily.start_date, end_offset=self.daily.end_offset)


class CheckBlock(BaseModel):
    """An asset check the job's script reports through Pipes (``report_asset_check``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Line
    # A failed blocking check (severity ERROR) fails the step, so downstream assets of the run do not run.
    blocking: bool = Field(default=False, strict=True)
    description: Text | None = None


class AssetBlock(BaseModel):
    """How Dagster shows a job (the ``asset:`` block of a job; every field optional).

    By default each job becomes an asset generated by ``GlueJobsComponent``; ``hand_written: true``
    says an asset written in Python runs the job (then only ``key`` may be given: the asset's key,
    which the deploy check targets).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    hand_written: bool = Field(default=False, strict=True)
    key: AssetKeyText | None = None
    group: Line | None = None
    description: Text | None = None
    kinds: list[Line] | None = None
    deps: list[AssetKeyText] = Field(default_factory=list)
    owners: list[Line] = Field(default_factory=list)
    tags: dict[Line, Line] = Field(default_factory=dict)
    message_reader: MessageReader = "cloudwatch"
    run_arguments: dict[Line, Text] = Field(default_factory=dict)
    partitions: Partitions | None = None
    checks: list[CheckBlock] = Field(default_factory=list)


class JobSpec(BaseModel):
    """One Glue job as written in ``jobs.yaml`` (field names are the YAML keys)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Numbers are strict: YAML's `true` is not 1, and "30" is not 30.
    script: Line
    type: Literal["pythonshell", "glueetl"] = "glueetl"
    glue_version: Line = "5.0"
    python_version: Line | None = None
    worker_type: Line | None = None
    number_of_workers: int | None = Field(default=None, ge=1, strict=True)
    max_capacity: float | None = Field(default=None, gt=0, strict=True)
    timeout_minutes: int = Field(default=60, ge=1, le=MAX_TIMEOUT_MINUTES, strict=True)
    max_concurrent_runs: int = Field(default=1, ge=1, le=1000, strict=True)
    max_retries: int = Field(default=0, ge=0, le=10, strict=True)
    execution_class: Literal["STANDARD", "FLEX"] = "STANDARD"
    description: Text = Field(default="", max_length=MAX_DESCRIPTION)
    default_arguments: dict[Line, Text] = Field(default_factory=dict)
    extra_py_files: list[Line] = Field(default_factory=list)
    asset: AssetBlock = Field(default_factory=AssetBlock)

    @field_validator("glue_version", "python_version", mode="before")
    @classmethod
    def _versions_are_strings(cls, value: Any) -> Any:
        # YAML reads 5.0 as a float; Glue wants the string "5.0".
        return str(value) if isinstance(value, (int, float)) else value


class ManifestModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    jobs: dict[str, JobSpec]


@dataclass(frozen=True)
class Job:
    """A validated job: its logical name, spec and the absolute paths of the files it ships."""

    name: str
    spec: JobSpec
    script_path: Path
    extra_py_paths: tuple[Path, ...]

    @property
    def python(self) -> str:
        return GLUE_PYTHON[(self.spec.type, self.spec.glue_version)]

    @property
    def asset_key(self) -> dg.AssetKey:
        return dg.AssetKey.from_user_string(self.spec.asset.key or self.name)

    @property
    def partitions_def(self) -> dg.DailyPartitionsDefinition | None:
        partitions = self.spec.asset.partitions
        return partitions.definition() if partitions else None

    def check_specs(self) -> list[dg.AssetCheckSpec]:
        """The checks the job's script reports, as declared in its ``asset:`` block."""
        return [
            dg.AssetCheckSpec(check.name, asset=self.asset_key, blocking=check.blocking, description=check.description)
            for check in self.spec.asset.checks
        ]

    def asset_spec(self, code_version: str | None = None) -> dg.AssetSpec:
        """The asset Dagster shows for this job, with the defaults of an ``asset:`` block filled in."""
        asset = self.spec.asset
        default_kinds = {"glue", "python" if self.spec.type == "pythonshell" else "spark"}
        return dg.AssetSpec(
            key=self.asset_key,
            group_name=asset.group,
            description=asset.description or self.spec.description or None,
            kinds=set(asset.kinds) if asset.kinds is not None else default_kinds,
            deps=[dg.AssetKey.from_user_string(dep) for dep in asset.deps],
            owners=asset.owners,
            tags=asset.tags,
            code_version=code_version,
            partitions_def=self.partitions_def,
        )


@dataclass(frozen=True)
class Manifest:
    path: Path
    jobs: dict[str, Job]

    @property
    def root(self) -> Path:
        return self.path.parent

    def only(self, name: str) -> Manifest:
        """This manifest restricted to one job; a name it does not hold fails naming the known jobs."""
        if name not in self.jobs:
            raise unknown_job(self.path, name, self.jobs)
        return Manifest(self.path, {name: self.jobs[name]})


def unknown_job(path: str | Path, name: str, known: Iterable[str]) -> ManifestError:
    jobs = ", ".join(sorted(known)) or "none"
    return ManifestError([f"{path}: no job {name!r} (jobs: {jobs}); a Glue asset's job must be a job of jobs.yaml"])


def load_manifest(path: str | Path, *, pipes_requires_python: str | None = None) -> Manifest:
    """Load ``path`` and check every job; raise ``ManifestError`` listing every problem.

    ``pipes_requires_python`` is the minimum Python of the dagster-pipes artifact shipped to every
    job (``"3.10"``); a job whose Glue runtime is older is rejected rather than failing at run time.
    """
    path = Path(path).resolve()
    label = _label(path)
    try:
        raw = StrictYamlReader().read(path)
    except YamlInputError as exc:
        raise ManifestError([f"{label}{_yaml_where(exc.path)}: {exc}"]) from None

    if not isinstance(raw, dict) or not isinstance(raw.get("jobs"), dict) or not raw["jobs"]:
        raise ManifestError([f"{label}: field 'jobs': must be a mapping of job name to job"])

    problems: list[str] = []
    jobs: dict[str, Job] = {}
    unknown_top = sorted(set(raw) - {"jobs"})
    problems += [f"{label}: field {_quote(key)}: unknown top-level field" for key in unknown_top]

    for name, body in raw["jobs"].items():
        where = f"{label}: job {_quote(name)}"
        if not isinstance(name, str) or not _NAME.fullmatch(name) or len(name) > MAX_LOGICAL_NAME:
            problems.append(
                f"{where}, field 'name': use letters, digits, '_', '.', '-' "
                f"(at most {MAX_LOGICAL_NAME} characters), starting with a letter or digit"
            )
            continue
        if not isinstance(body, dict):
            problems.append(f"{where}: must be a mapping of fields")
            continue
        try:
            spec = JobSpec.model_validate(body)
        except ValidationError as exc:
            problems += [f"{where}, field {_field_problem(err)}" for err in exc.errors()]
            continue
        job_problems = _check_job(name, spec, path.parent, pipes_requires_python)
        problems += [f"{where}, field {p}" for p in job_problems]
        if not job_problems:
            jobs[name] = Job(
                name=name,
                spec=spec,
                script_path=(path.parent / spec.script).resolve(),
                extra_py_paths=tuple((path.parent / p).resolve() for p in spec.extra_py_files),
            )

    problems += _group_partitions_problems(label, jobs.values())
    if len(problems) > MAX_PROBLEMS:
        problems = problems[:MAX_PROBLEMS] + [f"{label}: ... and {len(problems) - MAX_PROBLEMS} more problems"]
    if problems:
        raise ManifestError(problems)
    return Manifest(path=path, jobs=jobs)


def _check_job(name: str, spec: JobSpec, root: Path, pipes_requires_python: str | None) -> list[str]:
    """Rules that span fields or touch the file system; each entry starts with the field name."""
    problems: list[str] = []
    problems += _check_file("script", spec.script, root)
    for index, extra in enumerate(spec.extra_py_files):
        problems += _check_file(f"extra_py_files[{index}]", extra, root, (".py", ".zip", ".whl"))

    runtime = (spec.type, spec.glue_version)
    versions = sorted(v for t, v in GLUE_PYTHON if t == spec.type)
    if runtime not in GLUE_PYTHON:
        problems.append(
            f"'glue_version': {spec.type} jobs support Glue {', '.join(versions)} (got {spec.glue_version!r})"
        )
    expected_python = COMMAND_PYTHON_VERSION[spec.type]
    if spec.python_version is not None and spec.python_version != expected_python:
        problems.append(
            f"'python_version': {spec.type} jobs take python_version {expected_python!r} (got {spec.python_version!r})"
        )
    if runtime in GLUE_PYTHON and pipes_requires_python:
        runtime_python = GLUE_PYTHON[runtime]
        if _version_tuple(runtime_python) < _version_tuple(pipes_requires_python):
            problems.append(
                f"'glue_version': {spec.type} on Glue {spec.glue_version} runs Python "
                f"{runtime_python}, but the dagster-pipes shipped to every job needs Python "
                f">={pipes_requires_python}; use type glueetl with glue_version 4.0 or later"
            )

    problems += capacity_problems(spec)
    problems += argument_problems("default_arguments", spec.default_arguments)
    problems += _check_asset(name, spec.asset)
    return problems


def capacity_problems(spec: JobSpec) -> list[str]:
    """The rules of worker type, workers, capacity and execution class by job type (also for run overrides)."""
    problems: list[str] = []
    if spec.type == "pythonshell":
        if spec.worker_type is not None or spec.number_of_workers is not None:
            problems.append("'worker_type': pythonshell jobs take max_capacity, not workers")
        if spec.max_capacity is not None and spec.max_capacity not in PYTHONSHELL_CAPACITIES:
            problems.append(f"'max_capacity': pythonshell jobs take 0.0625 or 1 (got {spec.max_capacity})")
        if spec.execution_class == "FLEX":
            problems.append("'execution_class': FLEX is only for glueetl jobs")
    else:
        if spec.max_capacity is not None:
            problems.append("'max_capacity': glueetl jobs take worker_type and number_of_workers")
        if spec.worker_type is not None and spec.worker_type not in WORKER_TYPES:
            problems.append(f"'worker_type': must be one of {', '.join(WORKER_TYPES)} (got {spec.worker_type!r})")
        if spec.number_of_workers is not None and spec.number_of_workers < 2:
            problems.append(f"'number_of_workers': glueetl jobs need at least 2 (got {spec.number_of_workers})")

    return problems


def run_override_problems(spec: JobSpec, overrides: Mapping[str, Any]) -> list[str]:
    """Problems of per-run overrides of ``spec``'s fields, by the rules jobs.yaml itself follows."""
    try:
        effective = JobSpec.model_validate({**spec.model_dump(), **overrides})
    except ValidationError as exc:
        return [_field_problem(err) for err in exc.errors()]
    return capacity_problems(effective)


def argument_problems(field: str, arguments: dict[str, str]) -> list[str]:
    problems = []
    for key in arguments:
        if not key.startswith("--"):
            problems.append(f"{_quote(f'{field}.{key}')}: argument names start with '--'")
        elif key in RESERVED_ARGUMENTS:
            hint = _RESERVED_HINTS.get(key, "set by Pipes")
            problems.append(f"{_quote(f'{field}.{key}')}: reserved ({hint})")
    return problems


def _check_asset(job_name: str, asset: AssetBlock) -> list[str]:
    """The ``asset:`` block's rules; Dagster's own checks of groups, owners, tags and kinds are asked directly."""
    if asset.hand_written:
        return [
            f"'asset.{field}': a hand-written asset declares this in Python (only 'key' goes with hand_written)"
            for field in sorted(asset.model_fields_set - {"hand_written", "key"})
        ]
    key = dg.AssetKey.from_user_string(asset.key or job_name)
    problems = [
        f"'asset.deps': {_quote(dep)} is the asset itself"
        for dep in asset.deps
        if dg.AssetKey.from_user_string(dep) == key
    ]
    # Dagster checks these when it builds the asset: ask it now, so a problem names the job and field.
    dagster_checks: dict[str, Callable[[], dg.AssetSpec]] = {
        "group": lambda: dg.AssetSpec(key, group_name=asset.group),
        "owners": lambda: dg.AssetSpec(key, owners=asset.owners),
        "tags": lambda: dg.AssetSpec(key, tags=asset.tags),
        "kinds": lambda: dg.AssetSpec(key, kinds=set(asset.kinds or ())),
    }
    for field, build in dagster_checks.items():
        try:
            build()
        except dg.DagsterInvalidDefinitionError as exc:
            problems.append(f"'asset.{field}': {str(exc).splitlines()[0]}")
    problems += argument_problems("asset.run_arguments", asset.run_arguments)
    if asset.partitions and PARTITION_ARGUMENT in asset.run_arguments:
        problems.append(f"{_quote(f'asset.run_arguments.{PARTITION_ARGUMENT}')}: reserved (set from the partition key)")
    return problems + _check_problems(asset.checks)


def _group_partitions_problems(label: str, jobs: Iterable[Job]) -> list[str]:
    """A group's partitioned assets run as one job on one schedule (defs/glue/schedules.py): same partitions."""
    first: dict[str | None, Job] = {}
    problems = []
    for job in jobs:
        partitions = job.spec.asset.partitions
        if partitions is None:
            continue
        other = first.setdefault(job.spec.asset.group, job)
        if other.spec.asset.partitions != partitions:
            problems.append(
                f"{label}: job {_quote(job.name)}, field 'asset.partitions': the partitioned assets of group "
                f"{_quote(job.spec.asset.group or 'default')} run on one schedule: use the partitions of job "
                f"{_quote(other.name)}"
            )
    return problems


def _check_problems(checks: list[CheckBlock]) -> list[str]:
    problems = []
    seen: set[str] = set()
    for index, check in enumerate(checks):
        field = f"'asset.checks[{index}].name'"
        if not _DAGSTER_NAME.fullmatch(check.name):
            problems.append(f"{field}: use letters, digits and '_' (got {_quote(check.name)})")
        elif check.name == DEPLOY_CHECK:
            problems.append(f"{field}: {DEPLOY_CHECK!r} is every Glue asset's deploy check; choose another name")
        elif check.name in seen:
            problems.append(f"{field}: {_quote(check.name)} is declared twice")
        seen.add(check.name)
    return problems


def _check_file(field: str, relative: str, root: Path, suffixes: tuple[str, ...] = (".py",)) -> list[str]:
    candidate = (root / relative).resolve()
    if not candidate.is_relative_to(root):
        return [f"'{field}': {_quote(relative)} is outside {root.name}/"]
    if candidate.suffix not in suffixes:
        return [f"'{field}': {_quote(relative)} must end with {' or '.join(suffixes)}"]
    if not candidate.is_file():
        return [f"'{field}': {_quote(relative)} does not exist in {root.name}/"]
    return []


def _field_problem(error: Any) -> str:
    # Dict entries report their location as (field, key, "[key]"); the key alone is what a user wrote.
    field = ".".join(str(part) for part in error["loc"] if part != "[key]") or "?"
    message = error["msg"]
    if error["type"] == "extra_forbidden":
        message = "unknown field"
    elif "input" in error and error["type"] != "missing":
        message = f"{message} (got {_quote(error['input'])})"
    return f"{_quote(field)}: {message}"


def _quote(value: Any, limit: int = 80) -> str:
    """``repr`` keeps a value on one line (newlines escaped); long values are cut so messages stay short."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 3]}... ({len(str(value))} characters)"


def _yaml_where(path: tuple[Any, ...]) -> str:
    if len(path) >= 2 and path[0] == "jobs":
        fields = ".".join(str(part) for part in path[2:])
        return f": job {_quote(path[1])}" + (f", field {_quote(fields)}" if fields else "")
    return f": field {_quote('.'.join(str(part) for part in path))}" if path else ""


def _label(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))

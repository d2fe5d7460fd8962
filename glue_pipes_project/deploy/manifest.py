"""Load and validate ``glue_jobs/jobs.yaml``, the one source of truth for Glue job definitions.

Every problem is reported as one line naming the file, the job and the field, and all problems are
collected before anything is raised, so a user fixes the manifest in one pass.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

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
RESERVED_ARGUMENTS = ("--extra-py-files", "--dagster-pipes-context", "--dagster-pipes-messages")
# A message lists at most this many problems, so a huge broken manifest still gives a readable error.
MAX_PROBLEMS = 50
# Control characters other than tab: Glue's string patterns exclude them, and they garble messages.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")


def _single_line(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters or line breaks")
    return value


def _text(value: str) -> str:
    # Glue's DescriptionString pattern allows tab, CR and LF, nothing else below 0x20.
    if _CONTROL.search(value.replace("\n", "").replace("\r", "")):
        raise ValueError("must not contain control characters")
    return value


Line = Annotated[str, AfterValidator(_single_line)]


class ManifestError(ValueError):
    """One or more problems in a manifest; ``problems`` holds one line per problem."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


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
    description: Annotated[str, AfterValidator(_text)] = Field(default="", max_length=MAX_DESCRIPTION)
    default_arguments: dict[Line, Annotated[str, AfterValidator(_text)]] = Field(default_factory=dict)
    extra_py_files: list[Line] = Field(default_factory=list)

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


@dataclass(frozen=True)
class Manifest:
    path: Path
    jobs: dict[str, Job]

    @property
    def root(self) -> Path:
        return self.path.parent


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
            problems += [_pydantic_problem(where, err) for err in exc.errors()]
            continue
        job_problems = _check_job(spec, path.parent, pipes_requires_python)
        problems += [f"{where}, field {p}" for p in job_problems]
        if not job_problems:
            jobs[name] = Job(
                name=name,
                spec=spec,
                script_path=(path.parent / spec.script).resolve(),
                extra_py_paths=tuple((path.parent / p).resolve() for p in spec.extra_py_files),
            )

    if len(problems) > MAX_PROBLEMS:
        problems = problems[:MAX_PROBLEMS] + [f"{label}: ... and {len(problems) - MAX_PROBLEMS} more problems"]
    if problems:
        raise ManifestError(problems)
    return Manifest(path=path, jobs=jobs)


def _check_job(spec: JobSpec, root: Path, pipes_requires_python: str | None) -> list[str]:
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

    for key in spec.default_arguments:
        if not key.startswith("--"):
            problems.append(f"{_quote(f'default_arguments.{key}')}: argument names start with '--'")
        elif key in RESERVED_ARGUMENTS:
            hint = "list files under extra_py_files" if key == "--extra-py-files" else "set by Pipes"
            problems.append(f"{_quote(f'default_arguments.{key}')}: reserved ({hint})")
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


def _pydantic_problem(where: str, error: Any) -> str:
    # Dict entries report their location as (field, key, "[key]"); the key alone is what a user wrote.
    field = ".".join(str(part) for part in error["loc"] if part != "[key]") or "?"
    message = error["msg"]
    if error["type"] == "extra_forbidden":
        message = "unknown field"
    elif "input" in error and error["type"] != "missing":
        message = f"{message} (got {_quote(error['input'])})"
    return f"{where}, field {_quote(field)}: {message}"


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

"""Load and validate ``glue_jobs/jobs.yaml``, the one source of truth for Glue job definitions.

Every problem is reported as one line naming the file, the job and the field, and all problems are
collected before anything is raised, so a user fixes the manifest in one pass.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

# Python each Glue runtime gives a script (AWS Glue release notes).
GLUE_PYTHON = {
    ("pythonshell", "3.0"): "3.9",
    ("glueetl", "3.0"): "3.7",
    ("glueetl", "4.0"): "3.10",
    ("glueetl", "5.0"): "3.11",
    ("glueetl", "5.1"): "3.11",
}
# The PythonVersion value Glue's API takes for each job type.
COMMAND_PYTHON_VERSION = {"pythonshell": "3.9", "glueetl": "3"}
WORKER_TYPES = ("G.025X", "G.1X", "G.2X", "G.4X", "G.8X")
PYTHONSHELL_CAPACITIES = (0.0625, 1.0)
MAX_TIMEOUT_MINUTES = 2880
# Glue's name limit is 255; deployed names get an environment prefix, so leave room for it.
MAX_LOGICAL_NAME = 200
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
# Arguments the deploy step and the Pipes client own; a manifest setting them would be overwritten.
RESERVED_ARGUMENTS = ("--extra-py-files", "--dagster-pipes-context", "--dagster-pipes-messages")


class ManifestError(ValueError):
    """One or more problems in a manifest; ``problems`` holds one line per problem."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


class JobSpec(BaseModel):
    """One Glue job as written in ``jobs.yaml`` (field names are the YAML keys)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    script: str
    type: Literal["pythonshell", "glueetl"] = "glueetl"
    glue_version: str = "5.0"
    python_version: str | None = None
    worker_type: str | None = None
    number_of_workers: int | None = None
    max_capacity: float | None = None
    timeout_minutes: int = Field(default=60, ge=1, le=MAX_TIMEOUT_MINUTES)
    max_concurrent_runs: int = Field(default=1, ge=1, le=1000)
    max_retries: int = Field(default=0, ge=0, le=10)
    execution_class: Literal["STANDARD", "FLEX"] = "STANDARD"
    description: str = ""
    default_arguments: dict[str, str] = Field(default_factory=dict)
    extra_py_files: list[str] = Field(default_factory=list)

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
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ManifestError([f"{label}: file not found"]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ManifestError([f"{label}: not valid YAML{where}: {exc.problem}"]) from None

    if not isinstance(raw, dict) or not isinstance(raw.get("jobs"), dict) or not raw["jobs"]:
        raise ManifestError([f"{label}: field 'jobs': must be a mapping of job name to job"])

    problems: list[str] = []
    jobs: dict[str, Job] = {}
    unknown_top = sorted(set(raw) - {"jobs"})
    problems += [f"{label}: field '{key}': unknown top-level field" for key in unknown_top]

    for name, body in raw["jobs"].items():
        where = f"{label}: job '{name}'"
        if not isinstance(name, str) or not _NAME.match(name) or len(name) > MAX_LOGICAL_NAME:
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
            problems.append(f"'default_arguments.{key}': argument names start with '--'")
        elif key in RESERVED_ARGUMENTS:
            hint = "list files under extra_py_files" if key == "--extra-py-files" else "set by Pipes"
            problems.append(f"'default_arguments.{key}': reserved ({hint})")
    return problems


def _check_file(field: str, relative: str, root: Path, suffixes: tuple[str, ...] = (".py",)) -> list[str]:
    candidate = (root / relative).resolve()
    if not candidate.is_relative_to(root):
        return [f"'{field}': {relative!r} is outside {root.name}/"]
    if candidate.suffix not in suffixes:
        return [f"'{field}': {relative!r} must end with {' or '.join(suffixes)}"]
    if not candidate.is_file():
        return [f"'{field}': {relative!r} does not exist in {root.name}/"]
    return []


def _pydantic_problem(where: str, error: Any) -> str:
    field = ".".join(str(part) for part in error["loc"]) or "?"
    message = error["msg"]
    if error["type"] == "extra_forbidden":
        message = "unknown field"
    elif "input" in error and error["type"] != "missing":
        message = f"{message} (got {error['input']!r})"
    return f"{where}, field '{field}': {message}"


def _label(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))

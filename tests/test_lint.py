"""`make lint`: clean on the repository, and each linter fails on a mistake planted in a copy of it.

The copies are the files git knows (tracked or new), in a fresh git work tree under tmp_path: the
repository itself is never changed. About 10 s in all, most of it `dagster-cloud ci check` starting.
"""

import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from dagster_cloud_cli.utils import SUPPORTED_PYTHON_VERSIONS
from packaging.specifiers import SpecifierSet

# Run by `make lint` (with the linters), not by `make test`: checkov alone takes 10-25 s to start.
pytestmark = pytest.mark.lint

REPO = Path(__file__).resolve().parents[1]
# The project environment running these tests holds dagster-cloud.
PROJECT_BIN = Path(sys.executable).parent


@pytest.fixture(scope="session")
def lint_python() -> Path:
    """The lint environment's Python. A fresh clone has none yet: the Makefile's own rule syncs it
    from tools/lint/uv.lock (about 1 s from a warm uv cache; a no-op when it is up to date)."""
    subprocess.run(["make", "-s", ".tools/lint/.synced"], cwd=REPO, check=True, capture_output=True)
    return REPO / ".tools/lint/bin/python"


def copy_of_repo(tmp_path: Path) -> Path:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    copy = tmp_path / "repo"
    for name in filter(None, listed.stdout.split("\0")):
        if (REPO / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, copy / name)
    subprocess.run(["git", "init", "-q"], cwd=copy, check=True)
    return copy


def replace_once(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{path.name} no longer contains {old!r}: plant the mistake elsewhere"
    path.write_text(text.replace(old, new, 1))


def undefined_step(repo: Path) -> None:
    # A typo in a step id: the condition reads an object with no such property.
    replace_once(repo / ".github/workflows/ci.yml", "steps.install.outcome", "steps.instal.outcome")


def unquoted_variable(repo: Path) -> None:
    replace_once(repo / ".github/workflows/ci.yml", "run: make check", "run: make check $CHECK_ARGS")


def unpinned_action(repo: Path) -> None:
    # In a new workflow (.yaml): every file in .github/workflows/ is linted, committed or not.
    ci = (repo / ".github/workflows/ci.yml").read_text()
    unpinned, found = re.subn(r"actions/checkout@[0-9a-f]{40}.*", "actions/checkout@v7", ci, count=1)
    assert found, "ci.yml no longer uses a pinned actions/checkout: plant the mistake elsewhere"
    (repo / ".github/workflows/planted.yaml").write_text(unpinned)


def invalid_permission(repo: Path) -> None:
    replace_once(repo / ".github/workflows/ci.yml", "contents: read", "contents: reed")


def add_instead_of_copy(repo: Path) -> None:
    # Any Dockerfile anywhere in the tree, whatever its suffix.
    dockerfile = repo / "deploy/planted/Dockerfile.worker"
    dockerfile.parent.mkdir(parents=True)
    dockerfile.write_text("FROM python:3.11-slim\nADD . /app\n")


def misspelled_compose_key(repo: Path) -> None:
    replace_once(repo / "deploy/self-hosted/docker-compose.yml", "services:", "servics:")


def misspelled_location_field(repo: Path) -> None:
    replace_once(repo / "dagster_cloud.yaml", "location_name:", "location_nam:")


PLANTED = [
    pytest.param("actionlint", undefined_step, 'property "instal" is not defined', id="actionlint"),
    pytest.param("actionlint", unquoted_variable, "SC2086", id="actionlint-shellcheck"),
    pytest.param("zizmor", unpinned_action, "unpinned-uses", id="zizmor"),
    pytest.param("check-jsonschema", invalid_permission, "'reed' is not one of", id="check-jsonschema"),
    pytest.param("hadolint", add_instead_of_copy, "DL3020", id="hadolint"),
    pytest.param("compose-schema", misspelled_compose_key, "servics", id="compose-schema"),
    pytest.param("dagster-cloud", misspelled_location_field, "location_nam", id="dagster-cloud"),
]


def lint(lint_python: Path, repo: Path, *names: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [lint_python, REPO / "tools/lint/run.py", "--project-bin", PROJECT_BIN, *names],
        cwd=repo,
        capture_output=True,
        text=True,
    )


def test_every_linter_is_clean_on_the_repository(lint_python: Path) -> None:
    # The runner `make lint` calls (make lint itself runs these tests: calling it here would recurse).
    done = lint(lint_python, REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    for name in ("actionlint", "zizmor", "check-jsonschema", "hadolint", "compose-schema", "dagster-cloud"):
        assert f"=== {name}: ok" in done.stdout
    assert "FAILED" not in done.stdout


@pytest.mark.parametrize(("name", "plant", "expected"), PLANTED)
def test_each_linter_fails_on_a_planted_mistake(
    lint_python: Path, tmp_path: Path, name: str, plant: Callable[[Path], None], expected: str
) -> None:
    if plant is unquoted_variable and not (lint_python.parent / "shellcheck").exists():
        pytest.skip("no shellcheck wheel for this platform (tools/lint/pyproject.toml)")
    repo = copy_of_repo(tmp_path)
    plant(repo)
    done = lint(lint_python, repo, name)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"=== {name}: FAILED" in done.stdout
    assert expected in done.stdout, done.stdout


def test_the_workflows_build_with_the_projects_oldest_python() -> None:
    """The templates' hard-coded "3.10" cannot even install this project: the Dagster+ build and CI use
    the oldest Python it supports, one Dagster+ Serverless builds for."""
    requires = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"]
    oldest = requires.removeprefix(">=")
    assert SpecifierSet(requires).contains(oldest) and oldest in SUPPORTED_PYTHON_VERSIONS
    workflows = REPO / ".github/workflows"
    deploy = yaml.safe_load((workflows / "dagster-plus-deploy.yml").read_text())
    assert deploy["env"]["PYTHON_VERSION"] == oldest
    ci_steps = yaml.safe_load((workflows / "ci.yml").read_text())["jobs"]["checks"]["steps"]
    assert [step["with"]["python-version"] for step in ci_steps if "setup-python" in step.get("uses", "")] == [oldest]

"""The linters on infra/: cfn-lint and checkov on the template, parliament on the rendered policies.

Each runs clean on the repository's files and fails on a copy with one planted mistake. The linters
live in .tools/lint (tools/lint's own lock: checkov's pins would downgrade the project's); synced
here when missing, as `make lint` does.
"""

import json
import os
import subprocess
from pathlib import Path

import pytest

from glue_pipes_project.infra import TEMPLATE, render_policies

# Run by `make lint` (with the linters), not by `make test`: checkov alone takes 10-25 s to start.
pytestmark = pytest.mark.lint

ROOT = Path(__file__).resolve().parent.parent
LINT_BIN = ROOT / ".tools" / "lint" / "bin"


@pytest.fixture(scope="module")
def lint_bin() -> Path:
    if not (LINT_BIN / "checkov").exists():
        subprocess.run(
            [str(ROOT / ".tools" / "bin" / "uv"), "sync", "--frozen", "--project", "tools/lint"],
            cwd=ROOT,
            env={**os.environ, "UV_PROJECT_ENVIRONMENT": str(ROOT / ".tools" / "lint")},
            check=True,
        )
    return LINT_BIN


def cfn_lint(lint_bin: Path, *templates: Path) -> subprocess.CompletedProcess[str]:
    return _run([lint_bin / "cfn-lint", *templates])


def checkov(lint_bin: Path, *templates: Path) -> dict[str, list[str]]:
    """``{template: [failed check ids]}`` from one checkov run (it takes ~10 s just to start)."""
    command = [lint_bin / "checkov", "--skip-download", "--quiet", "--framework", "cloudformation", "-o", "json"]
    result = _run([*command, *(part for template in templates for part in ("-f", template))])
    report = json.loads(result.stdout)
    failed = {str(template): [] for template in templates}
    for check in report["results"]["failed_checks"]:
        # checkov reports a file relative to the working directory, however it was named.
        path = str((ROOT / check["file_path"].lstrip("/")).resolve())
        failed[path].append(check["check_id"])
    assert result.returncode == (1 if any(failed.values()) else 0), result.stderr
    return failed


def parliament(lint_bin: Path, template: Path, directory: Path) -> subprocess.CompletedProcess[str]:
    """parliament reviews identity policies: the managed policies, not the roles' trust policies."""
    render_policies(directory, template, example=True)
    return _run([lint_bin / "parliament", "--directory", directory, "--exclude_pattern", r".*-trust\.json"])


def _run(command: list[object]) -> subprocess.CompletedProcess[str]:
    # stdin closed: parliament reads a policy from any stdin that is not a terminal.
    return subprocess.run(
        [str(part) for part in command], capture_output=True, text=True, stdin=subprocess.DEVNULL, cwd=ROOT
    )


def planted(tmp_path: Path, old: str, new: str) -> Path:
    text = TEMPLATE.read_text()
    assert old in text
    copy = tmp_path / "glue-pipes.yaml"
    copy.write_text(text.replace(old, new, 1))
    return copy


def test_cfn_lint_clean_and_catches_a_bad_property(lint_bin, tmp_path):
    bad = planted(tmp_path, "ExpirationInDays:", "ExpireInDays:")
    result = cfn_lint(lint_bin, TEMPLATE, bad)
    assert result.returncode != 0
    # Every finding is the planted one's, in the planted copy.
    findings = [line for line in result.stdout.splitlines() if line.startswith(("E", "W", "I"))]
    assert findings and all("ExpireInDays" in line for line in findings), result.stdout
    assert str(TEMPLATE) not in result.stdout


def test_checkov_clean_and_catches_an_unblocked_bucket(lint_bin, tmp_path):
    bad = planted(tmp_path, "BlockPublicPolicy: true", "BlockPublicPolicy: false")
    failed = checkov(lint_bin, TEMPLATE, bad)
    assert failed[str(TEMPLATE)] == []
    assert failed[str(bad)] == ["CKV_AWS_54"]  # "Ensure S3 bucket has block public policy enabled"


def test_parliament_clean_and_catches_a_misspelt_action(lint_bin, tmp_path):
    clean = parliament(lint_bin, TEMPLATE, tmp_path / "clean")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    result = parliament(lint_bin, planted(tmp_path, "glue:GetJobRuns", "glue:GetJobRunz"), tmp_path / "bad")
    assert result.returncode != 0
    assert "Unknown action glue:GetJobRunz" in result.stdout

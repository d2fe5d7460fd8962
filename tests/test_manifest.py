"""jobs.yaml validation: every problem named by file, job and field, all reported at once."""

import ast
import shutil
from pathlib import Path

import pytest

from glue_pipes_project.artifacts import pipes_requires_python
from glue_pipes_project.manifest import ManifestError, load_manifest

GLUE_JOBS = Path(__file__).resolve().parent.parent / "glue_jobs"


@pytest.fixture
def jobs_dir(tmp_path: Path) -> Path:
    target = tmp_path / "glue_jobs"
    shutil.copytree(GLUE_JOBS, target)
    return target


def write(jobs_dir: Path, text: str) -> Path:
    path = jobs_dir / "jobs.yaml"
    path.write_text(text)
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(ManifestError) as caught:
        load_manifest(path, pipes_requires_python=pipes_requires_python())
    return caught.value.problems


def test_the_project_manifest_loads():
    manifest = load_manifest(GLUE_JOBS / "jobs.yaml", pipes_requires_python=pipes_requires_python())
    job = manifest.jobs["glue_pipes_asset"]
    assert job.script_path == GLUE_JOBS / "glue_pipes_asset.py"
    assert job.spec.glue_version == "5.0" and job.python == "3.11"
    assert job.extra_py_paths == (GLUE_JOBS / "orders.py",)


def test_glue_scripts_parse_as_python_3_9():
    # Python shell jobs run 3.9: a newer construct would only fail on Glue.
    for script in GLUE_JOBS.glob("*.py"):
        ast.parse(script.read_text(), filename=str(script), feature_version=(3, 9))


def test_each_problem_names_file_job_and_field(jobs_dir: Path):
    path = write(
        jobs_dir,
        """
jobs:
  ok_job:
    script: glue_pipes_asset.py
  bad_job:
    script: ../outside.py
    worker_type: G.3X
    timeout_minutes: 0
    colour: blue
  shell_job:
    script: missing.py
    type: pythonshell
    glue_version: "3.0"
""",
    )
    found = problems(path)
    label = str(path)
    assert all(p.startswith(label) for p in found), found
    expected = [
        "job 'bad_job', field 'timeout_minutes'",
        "job 'bad_job', field 'colour': unknown field",
        "job 'shell_job', field 'script': 'missing.py' does not exist",
        "job 'shell_job', field 'glue_version': pythonshell on Glue 3.0 runs Python 3.9",
    ]
    for fragment in expected:
        assert any(fragment in p for p in found), (fragment, found)
    # bad_job's field errors stop it before file checks; its other problems come after a fix.
    path = write(jobs_dir, "jobs:\n  bad_job:\n    script: ../outside.py\n    worker_type: G.3X\n")
    found = problems(path)
    assert any("job 'bad_job', field 'script': '../outside.py' is outside glue_jobs/" in p for p in found)
    assert any("job 'bad_job', field 'worker_type': must be one of" in p and "'G.3X'" in p for p in found)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("jobs: []", "field 'jobs': must be a mapping"),
        ("jobs:\n  'bad name!':\n    script: glue_pipes_asset.py", "job 'bad name!', field 'name'"),
        (
            "jobs:\n  j:\n    script: glue_pipes_asset.py\n    default_arguments: {'--extra-py-files': x}",
            "field 'default_arguments.--extra-py-files': reserved",
        ),
        (
            "jobs:\n  j:\n    script: glue_pipes_asset.py\n    default_arguments: {row: '1'}",
            "field 'default_arguments.row': argument names start with '--'",
        ),
        (
            "jobs:\n  j:\n    script: glue_pipes_asset.py\n    number_of_workers: 1",
            "field 'number_of_workers'",
        ),
        ("jobs:\n  j:\n    script: glue_pipes_asset.py\n    python_version: '3.9'", "field 'python_version'"),
        ("jobs:\n  j:\n    script: glue_pipes_asset.py\n    glue_version: '2.0'", "field 'glue_version'"),
        ("jobs:\n  j: [", "not valid YAML at line 2, column 7"),
    ],
)
def test_single_problems(jobs_dir: Path, body: str, fragment: str):
    found = problems(write(jobs_dir, body))
    assert any(fragment in p for p in found), found

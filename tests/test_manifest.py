"""jobs.yaml validation: every problem named by file, job and field, all reported at once."""

import ast
import shutil
from pathlib import Path

import pytest

from glue_pipes_project.deploy.artifacts import pipes_requires_python
from glue_pipes_project.deploy.manifest import ManifestError, load_manifest

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


JOB = "jobs:\n  j:\n    script: glue_pipes_asset.py\n"


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (JOB + "  j:\n    script: orders.py\n", "job 'j': set twice (lines 2 and 4)"),
        (JOB + "    script: orders.py\n", "job 'j', field 'script': set twice (lines 3 and 4)"),
        (JOB + "    default_arguments: {'--a': '1', '--a': '2'}\n", "field 'default_arguments.--a': set twice"),
        # A 457-byte "billion laughs" document: rejected from the parser's events, never expanded.
        (
            'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
            + "".join(f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True))
            + JOB,
            "YAML anchors and aliases are not supported at line 1, column 4",
        ),
        (JOB + "    extra_py_files: &files [orders.py]\n", "anchors and aliases are not supported at line 4"),
        (JOB.encode() + b"    description: caf\xe9\n", "not UTF-8: byte 0xe9 at line 4"),
        (JOB + "    description: a\x00b\n", "control character '\\x00' at line 4, column 19"),
        (JOB + '    description: "a\\x00b"\n', "job 'j', field 'description': Value error, must not contain control"),
        ('jobs:\n  j:\n    script: "glue_pipes_asset.py\\n"\n', "field 'script': Value error, must not contain"),
        ("jobs: " + "[" * 100_000 + "]" * 100_000, "nested deeper than 16 levels at line 1"),
        ("jobs: [" + "1," * 200_000 + "]", "more than 100000 YAML values at line 1"),
        (JOB + "    timeout_minutes: " + "9" * 5000 + "\n", "not valid YAML: Exceeds the limit (4300 digits)"),
        (JOB + "    timeout_minutes: true\n", "job 'j', field 'timeout_minutes': Input should be a valid integer"),
        (JOB + "    timeout_minutes: 10081\n", "field 'timeout_minutes': Input should be less than or equal to 10080"),
        (JOB + "    max_retries: false\n", "field 'max_retries': Input should be a valid integer (got False)"),
        (JOB + "    number_of_workers: 2.0\n", "field 'number_of_workers': Input should be a valid integer"),
        (JOB + "    max_concurrent_runs: '3'\n", "field 'max_concurrent_runs': Input should be a valid integer"),
        (
            JOB + "    description: " + "x" * 2049 + "\n",
            "field 'description': String should have at most 2048 characters (got 'xxxx",
        ),
        ('jobs:\n  "two\\nlines":\n    script: glue_pipes_asset.py\n', "job 'two\\nlines', field 'name'"),
        ('jobs:\n  "trailing\\n":\n    script: glue_pipes_asset.py\n', "job 'trailing\\n', field 'name'"),
        ("jobs:\n  j:\n    script: [" + "'x', " * 10_000 + "]\n", "field 'script': Input should be a valid string"),
    ],
    ids=[
        "duplicate-job",
        "duplicate-field",
        "duplicate-argument",
        "billion-laughs",
        "anchor",
        "not-utf8",
        "nul-byte",
        "escaped-nul",
        "newline-in-script",
        "deep-nesting",
        "too-many-values",
        "huge-integer",
        "bool-timeout",
        "timeout-over-7-days",
        "bool-retries",
        "float-workers",
        "string-runs",
        "long-description",
        "newline-in-name",
        "trailing-newline-in-name",
        "huge-value-in-message",
    ],
)
def test_bad_input_is_one_short_line_naming_file_job_and_field(jobs_dir: Path, body: str | bytes, fragment: str):
    path = jobs_dir / "jobs.yaml"
    path.write_bytes(body if isinstance(body, bytes) else body.encode())
    (problem,) = problems(path)
    assert problem.startswith(f"{path}: ") and fragment in problem, problem
    assert "\n" not in problem and len(problem) < 400 + len(str(path)), problem


def test_a_description_of_2048_characters_and_a_7_day_timeout_are_fine(jobs_dir: Path):
    path = write(jobs_dir, JOB + f"    description: {'x' * 2048}\n    timeout_minutes: 10080\n")
    job = load_manifest(path).jobs["j"]
    assert (len(job.spec.description), job.spec.timeout_minutes) == (2048, 10080)


def test_a_manifest_over_the_size_cap_is_rejected_without_reading_it_all(jobs_dir: Path):
    path = write(jobs_dir, JOB + "#" * (1024 * 1024) + "\n")
    (problem,) = problems(path)
    assert problem == f"{path}: larger than 1048576 bytes"


def test_a_directory_is_not_a_manifest(jobs_dir: Path):
    (problem,) = problems(jobs_dir)
    assert problem == f"{jobs_dir}: is a directory, not a YAML file"


def test_many_problems_are_capped(jobs_dir: Path):
    path = write(jobs_dir, "jobs:\n" + "".join(f"  j{i}:\n    script: missing{i}.py\n" for i in range(200)))
    found = problems(path)
    assert len(found) == 51 and found[-1] == f"{path}: ... and 150 more problems"

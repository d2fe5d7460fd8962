"""jobs.yaml validation: every problem named by file, job and field, all reported at once."""

import ast
import shutil
from pathlib import Path

import dagster as dg
import pytest

from glue_pipes_project import cli
from glue_pipes_project.deploy.artifacts import pipes_requires_python
from glue_pipes_project.deploy.job_definitions import job_definition
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
            "jobs:\n  j:\n    script: glue_pipes_asset.py\n    default_arguments: {'--data_location': s3://b/x/}",
            "field 'default_arguments.--data_location': reserved (set by deploy for the environment)",
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


# -- the asset: block (how Dagster shows a job; deploy ignores it) --------------------------------

ASSET = JOB + "    asset:\n"


@pytest.mark.parametrize(
    ("block", "fragment"),
    [
        ("      colour: blue\n", "field 'asset.colour': unknown field"),
        ("      key: bad key\n", "field 'asset.key': Value error, use segments of letters, digits, '_', '.', '-'"),
        ("      key: a//b\n", "field 'asset.key': Value error, use segments"),
        ("      deps: [ok, 'x y']\n", "field 'asset.deps.1': Value error, use segments"),
        (
            "      message_reader: sqs\n",
            "field 'asset.message_reader': Input should be 'cloudwatch' or 's3' (got 'sqs')",
        ),
        ("      hand_written: 'yes'\n", "field 'asset.hand_written': Input should be a valid boolean (got 'yes')"),
        ("      kinds: glue\n", "field 'asset.kinds': Input should be a valid list (got 'glue')"),
        ("      tags: {a: [1]}\n", "field 'asset.tags.a': Input should be a valid string"),
        ("      group: a-b\n", "field 'asset.group': \"a-b\" is not a valid asset group name"),
        ("      owners: [bob]\n", "field 'asset.owners': Invalid owner 'bob'"),
        ("      tags: {'a b': x}\n", "field 'asset.tags': Found invalid tag keys: ['a b']"),
        ("      tags: {a: 'x y'}\n", "field 'asset.tags': Invalid tag value: x y, for key: a"),
        (
            "      kinds: [" + ", ".join(f"k{i}" for i in range(11)) + "]\n",
            "field 'asset.kinds': Assets can have at most",
        ),
        ("      key: a/j\n      deps: [a/j]\n", "field 'asset.deps': 'a/j' is the asset itself"),
        ("      run_arguments: {row: '1'}\n", "field 'asset.run_arguments.row': argument names start with '--'"),
        (
            "      run_arguments: {'--dagster-pipes-context': x}\n",
            "field 'asset.run_arguments.--dagster-pipes-context': reserved (set by Pipes)",
        ),
        (
            "      hand_written: true\n      kinds: [glue]\n",
            "field 'asset.kinds': a hand-written asset declares this in Python (only 'key' goes with hand_written)",
        ),
        ("      partitions: {}\n", "field 'asset.partitions.daily': Field required"),
        (
            "      partitions: {daily: {start_date: '2026-11-01'}, hourly: {}}\n",
            "field 'asset.partitions.hourly': unknown field",
        ),
        (
            "      partitions: {daily: {start_date: '2026-13-01'}}\n",
            "field 'asset.partitions.daily.start_date': Value error, use a date as YYYY-MM-DD (got '2026-13-01')",
        ),
        (
            "      partitions: {daily: {start_date: '2026-1-1'}}\n",
            "field 'asset.partitions.daily.start_date': Value error, use a date as YYYY-MM-DD (got '2026-1-1')",
        ),
        (
            "      partitions: {daily: {start_date: '2026-11-01', end_offset: '1'}}\n",
            "field 'asset.partitions.daily.end_offset': Input should be a valid integer (got '1')",
        ),
        (
            "      partitions: {daily: {start_date: '2026-11-01'}}\n      run_arguments: {'--partition_date': x}\n",
            "field 'asset.run_arguments.--partition_date': reserved (set from the partition key)",
        ),
        ("      checks: [{blocking: true}]\n", "field 'asset.checks.0.name': Field required"),
        ("      checks: [{name: a, blocking: 'yes'}]\n", "field 'asset.checks.0.blocking': Input should be a valid"),
        ("      checks: [{name: a, severity: WARN}]\n", "field 'asset.checks.0.severity': unknown field"),
        ("      checks: [{name: 'no nulls'}]\n", "field 'asset.checks[0].name': use letters, digits and '_'"),
        ("      checks: [{name: a}, {name: a}]\n", "field 'asset.checks[1].name': 'a' is declared twice"),
        (
            "      checks: [{name: deployed_job_matches_repository}]\n",
            "field 'asset.checks[0].name': 'deployed_job_matches_repository' is every Glue asset's deploy check",
        ),
        (
            "      hand_written: true\n      checks: [{name: a}]\n",
            "field 'asset.checks': a hand-written asset declares this in Python",
        ),
    ],
    ids=lambda value: value if len(value) < 40 else value[:40],
)
def test_an_asset_block_problem_names_file_job_and_field(jobs_dir: Path, block: str, fragment: str):
    path = write(jobs_dir, ASSET + block)
    (problem,) = problems(path)
    assert problem.startswith(f"{path}: job 'j', ") and fragment in problem, problem
    assert "\n" not in problem


def test_asset_false_is_not_an_asset_block(jobs_dir: Path):
    (problem,) = problems(write(jobs_dir, JOB + "    asset: false\n"))
    assert "job 'j', field 'asset': Input should be a valid dictionary" in problem, problem


def test_without_an_asset_block_a_job_is_a_generated_asset_with_defaults(jobs_dir: Path):
    path = write(
        jobs_dir,
        JOB
        + "    description: Orders.\n  shell:\n    script: orders.py\n    type: pythonshell\n    glue_version: '3.0'\n",
    )
    jobs = load_manifest(path).jobs
    spec = jobs["j"].asset_spec(code_version="abc")
    assert (spec.key, spec.description, spec.kinds, spec.code_version) == (
        dg.AssetKey("j"),
        "Orders.",
        {"glue", "spark"},
        "abc",
    )
    assert (spec.group_name, list(spec.deps), spec.owners, jobs["j"].spec.asset.message_reader) == (
        None,
        [],
        [],
        "cloudwatch",
    )
    assert jobs["shell"].asset_spec().kinds == {"glue", "python"} and jobs["shell"].asset_spec().description is None


def test_an_asset_block_shapes_the_asset(jobs_dir: Path):
    block = (
        "      key: reports/orders\n      group: reports\n      description: Per region.\n"
        "      kinds: [glue, s3]\n      deps: [glue_pipes_asset, raw/orders]\n      owners: [team:data, a@b.io]\n"
        "      tags: {domain: orders}\n      message_reader: s3\n      run_arguments: {'--row_count': '5'}\n"
    )
    job = load_manifest(write(jobs_dir, ASSET + block)).jobs["j"]
    spec = job.asset_spec()
    assert spec.key == dg.AssetKey(["reports", "orders"]) and spec.group_name == "reports"
    assert (spec.description, spec.kinds) == ("Per region.", {"glue", "s3"})
    assert [dep.asset_key for dep in spec.deps] == [dg.AssetKey("glue_pipes_asset"), dg.AssetKey(["raw", "orders"])]
    assert (spec.owners, spec.tags["domain"]) == (["team:data", "a@b.io"], "orders")
    assert (job.spec.asset.message_reader, job.spec.asset.run_arguments) == ("s3", {"--row_count": "5"})


def test_the_glue_job_definition_ignores_the_asset_block(jobs_dir: Path):
    plain = load_manifest(write(jobs_dir, JOB)).jobs["j"]
    shaped = load_manifest(write(jobs_dir, ASSET + "      key: a/b\n      run_arguments: {'--x': '1'}\n")).jobs["j"]
    uris = {"role_arn": "arn:role", "script_uri": "s3://b/j.py", "extra_py_uris": [], "environment": {}}
    assert job_definition(shaped, **uris) == job_definition(plain, **uris)


def test_the_project_manifest_hand_writes_one_asset_and_generates_the_other():
    jobs = load_manifest(GLUE_JOBS / "jobs.yaml").jobs
    assert jobs["glue_pipes_asset"].spec.asset.hand_written
    s3 = jobs["glue_pipes_s3_asset"]
    assert not s3.spec.asset.hand_written and s3.spec.asset.message_reader == "s3"
    assert s3.asset_spec().kinds == {"glue", "python", "s3"}


def test_the_cli_rejects_a_bad_asset_block_with_exit_2_and_one_line(jobs_dir: Path, capsys):
    path = write(jobs_dir, ASSET + "      owners: [bob]\n      colour: blue\n")
    assert cli.main(["deploy", "--manifest", str(path)]) == 2
    assert capsys.readouterr().err == f"error: {path}: job 'j', field 'asset.colour': unknown field\n"


PARTITIONED = """
jobs:
  raw:
    script: glue_pipes_asset.py
    asset:
      group: orders
      partitions: {daily: {start_date: 2026-11-01}}
      checks:
        - {name: ids_present, blocking: true, description: Every order has an id.}
        - {name: counts_in_bounds}
  curated:
    script: glue_pipes_asset.py
    asset:
      group: orders
      partitions: {daily: {start_date: "2026-11-01", end_offset: 1}}
"""


def test_partitions_and_checks_shape_the_asset(jobs_dir: Path):
    raw = load_manifest(write(jobs_dir, PARTITIONED.replace(", end_offset: 1", ""))).jobs["raw"]
    assert raw.asset_spec().partitions_def == dg.DailyPartitionsDefinition(start_date="2026-11-01")
    blocking, warn = raw.check_specs()
    assert (blocking.name, blocking.blocking, blocking.description) == ("ids_present", True, "Every order has an id.")
    assert (warn.name, warn.blocking, warn.asset_key) == ("counts_in_bounds", False, dg.AssetKey("raw"))


def test_the_partitioned_assets_of_a_group_share_their_partitions(jobs_dir: Path):
    (problem,) = problems(write(jobs_dir, PARTITIONED))
    assert problem.startswith(f"{jobs_dir / 'jobs.yaml'}: job 'curated', field 'asset.partitions': "), problem
    assert "group 'orders' run on one schedule: use the partitions of job 'raw'" in problem

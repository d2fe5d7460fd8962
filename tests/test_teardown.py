"""`glue-pipes teardown` against the local endpoint: exactly one environment's jobs and S3 prefix go."""

import json
import os
import re
from pathlib import Path

import pytest

from glue_pipes_project import cli
from glue_pipes_project.deploy.naming import ENVIRONMENT_TAG, MANAGED_TAG, MANAGED_VALUE
from glue_pipes_project.settings import LOCAL_BUCKET, branch_id

ROOT = Path(__file__).resolve().parent.parent
FEAT, FEAT_X = branch_id("feat"), branch_id("feat-x")  # "feat-x-…" starts with "feat-"
# What a teardown that changes nothing may send. The endpoint names S3's bucket-level GETs that are
# not ListObjectsV2 (GetBucketVersioning, ListObjectVersions) "s3:ListObjects"; STS's query calls "sts:POST".
READS = {
    "glue:GetJobs",
    "glue:GetTags",
    "glue:GetDatabase",
    "glue:GetDatabases",
    "sts:POST",
    "s3:ListObjectsV2",
    "s3:ListObjects",
}
JOBS, FILES = 5, 9  # glue_jobs/jobs.yaml's jobs, and the files deploy uploads for them


@pytest.fixture
def env(monkeypatch, local_aws, request):
    """`glue-pipes` settings with a job prefix and S3 prefix of this test's own, on the shared endpoint."""
    name = re.sub(r"[^a-z0-9-]+", "-", request.node.name.lower())[:40]
    for key in [key for key in os.environ if key.startswith(("GLUE_PIPES_", "DAGSTER_CLOUD_"))]:
        monkeypatch.delenv(key)
    values = {
        "GLUE_PIPES_ENDPOINT_URL": local_aws.endpoint_url,
        "GLUE_PIPES_MANIFEST": str(ROOT / "glue_jobs" / "jobs.yaml"),
        "GLUE_PIPES_JOB_PREFIX": f"{name}-",
        "GLUE_PIPES_S3_PREFIX": name,
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values


def deploy(monkeypatch, capsys, environment: str, branch: str | None = None) -> set[str]:
    """Deploy glue_jobs/ to one environment; the Glue job names it created."""
    with monkeypatch.context() as scoped:
        scoped.setenv("GLUE_PIPES_ENV", environment)
        if branch:
            scoped.setenv("GLUE_PIPES_BRANCH", branch)
        code = cli.main(["deploy", "--json"])
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and result["jobs"]["created"] == JOBS, result
    return {item["glue_job_name"] for item in result["jobs"]["items"]}


def teardown(capsys, *args: str) -> tuple[int, dict, str]:
    code = cli.main(["teardown", "--json", *args])
    captured = capsys.readouterr()
    return code, json.loads(captured.out) if captured.out.strip() else {}, captured.err


def database(env, branch: str) -> str:
    """The branch environment's Glue database, as deploy names it."""
    return f"{env['GLUE_PIPES_JOB_PREFIX']}branch-{branch}".replace("-", "_")


def databases(local_aws, env) -> set[str]:
    prefix = env["GLUE_PIPES_JOB_PREFIX"].replace("-", "_")
    return {d["Name"] for d in local_aws.client("glue").get_databases()["DatabaseList"] if d["Name"].startswith(prefix)}


def jobs(local_aws, env) -> set[str]:
    pages = local_aws.client("glue").get_paginator("get_jobs").paginate()
    return {
        job["Name"] for page in pages for job in page["Jobs"] if job["Name"].startswith(env["GLUE_PIPES_JOB_PREFIX"])
    }


def objects(local_aws, env, bucket: str = LOCAL_BUCKET) -> set[str]:
    pages = (
        local_aws.client("s3")
        .get_paginator("list_objects_v2")
        .paginate(Bucket=bucket, Prefix=env["GLUE_PIPES_S3_PREFIX"])
    )
    return {obj["Key"] for page in pages for obj in page.get("Contents", [])}


def versions(local_aws, bucket: str, prefix: str) -> set[tuple[str, str]]:
    pages = local_aws.client("s3").get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix)
    return {(v["Key"], v["VersionId"]) for p in pages for v in [*p.get("Versions", []), *p.get("DeleteMarkers", [])]}


def writes(local_aws) -> dict[str, int]:
    return {operation: n for operation, n in local_aws.requests().items() if n and operation not in READS}


def test_teardown_deletes_exactly_one_branchs_jobs_and_prefix(local_aws, env, monkeypatch, capsys):
    prefix, s3_prefix = env["GLUE_PIPES_JOB_PREFIX"], env["GLUE_PIPES_S3_PREFIX"]
    deploy(monkeypatch, capsys, "prod")
    feat_jobs = deploy(monkeypatch, capsys, "branch", "feat")
    deploy(monkeypatch, capsys, "branch", "feat-x")
    glue, s3 = local_aws.client("glue"), local_aws.client("s3")
    command = {"Name": "glueetl", "ScriptLocation": "s3://elsewhere/script.py"}
    # Each fails one of the two tests a job must pass: name under feat's prefix, and both tags feat's.
    not_ours = {
        f"{prefix}{FEAT}--handmade": {},
        f"{prefix}{FEAT}--tagged-prod": {MANAGED_TAG: MANAGED_VALUE, ENVIRONMENT_TAG: "prod"},
        f"{prefix}{FEAT}--other-tool": {MANAGED_TAG: "someone-else", ENVIRONMENT_TAG: f"branch-{FEAT}"},
        f"{prefix}elsewhere": {MANAGED_TAG: MANAGED_VALUE, ENVIRONMENT_TAG: f"branch-{FEAT}"},
    }
    for name, tags in not_ours.items():
        glue.create_job(Name=name, Role="r", Command=command, Tags=tags)
    feat_root, feat_pipes = f"{s3_prefix}/branch-{FEAT}/", f"{s3_prefix}/pipes/branch-{FEAT}/"
    feat_data = f"{s3_prefix}/data/branch-{FEAT}/"
    for key in (
        f"{feat_pipes}context/run-1/context.json",
        f"{feat_data}raw/orders/dt=2026-11-01/orders.jsonl",
        f"{s3_prefix}/data/branch-{FEAT}x/raw/orders/dt=2026-11-01/orders.jsonl",
        f"{s3_prefix}/pipes/branch-{FEAT}x/context/run-2/context.json",
        f"{s3_prefix}/branch-{FEAT}x/keep.txt",
        f"{s3_prefix}/notes",
    ):
        s3.put_object(Bucket=LOCAL_BUCKET, Key=key, Body=b"{}")
    jobs_before, objects_before = jobs(local_aws, env), objects(local_aws, env)
    databases_before = databases(local_aws, env)
    assert databases_before == {database(env, FEAT), database(env, FEAT_X), f"{prefix}prod".replace("-", "_")}
    feat_objects = {key for key in objects_before if key.startswith((feat_root, feat_pipes, feat_data))}
    assert len(feat_objects) == FILES + 2  # the deployed files, the run's context object and its data

    # The environment says prod and another branch: the flags win.
    monkeypatch.setenv("GLUE_PIPES_ENV", "prod")
    monkeypatch.setenv("GLUE_PIPES_BRANCH", "feat-x")
    local_aws.reset_requests()
    code, result, err = teardown(capsys, "--env", "branch", "--branch", "feat")

    assert code == 0, err
    assert result == {
        "environment": "branch",
        "branch": FEAT,
        "bucket": LOCAL_BUCKET,
        "prefixes": [feat_root, feat_pipes, feat_data],
        "dry_run": False,
        "jobs": {"deleted": JOBS, "items": sorted(feat_jobs)},
        "database": database(env, FEAT),
        "objects": {"deleted": FILES + 2, "keys": FILES + 2, "versioned": False},
    }
    assert jobs(local_aws, env) == jobs_before - feat_jobs
    assert objects(local_aws, env) == objects_before - feat_objects
    assert databases(local_aws, env) == databases_before - {database(env, FEAT)}
    assert writes(local_aws) == {"glue:DeleteJob": JOBS, "glue:DeleteDatabase": 1, "s3:DeleteObjects": 1}

    local_aws.reset_requests()
    code, again, err = teardown(capsys, "--env", "branch", "--branch", "feat")
    assert code == 0, err
    assert (again["jobs"], again["database"], again["objects"]["deleted"]) == ({"deleted": 0, "items": []}, None, 0)
    assert writes(local_aws) == {}
    assert jobs(local_aws, env) == jobs_before - feat_jobs


def test_dry_run_sends_only_reads_and_prints_the_plan(local_aws, env, monkeypatch, capsys):
    feat_jobs = deploy(monkeypatch, capsys, "branch", "feat")
    jobs_before, objects_before = jobs(local_aws, env), objects(local_aws, env)
    local_aws.reset_requests()
    assert cli.main(["teardown", "--env", "branch", "--branch", "feat", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert set(local_aws.requests()) <= READS, local_aws.requests()
    assert (jobs(local_aws, env), objects(local_aws, env)) == (jobs_before, objects_before)

    root = f"s3://{LOCAL_BUCKET}/{env['GLUE_PIPES_S3_PREFIX']}/branch-{FEAT}"
    assert out.startswith(f"Teardown plan for branch environment, {root}, {local_aws.endpoint_url}:\n  jobs\n")
    assert all(f"    delete     {name}\n" in out for name in feat_jobs)
    pipes = f"s3://{LOCAL_BUCKET}/{env['GLUE_PIPES_S3_PREFIX']}/pipes/branch-{FEAT}/"
    data = f"s3://{LOCAL_BUCKET}/{env['GLUE_PIPES_S3_PREFIX']}/data/branch-{FEAT}/"
    assert f"  database\n    delete     {database(env, FEAT)} (its tables and partitions)\n" in out
    assert f"    delete     {FILES} objects under {root}/ and {pipes} and {data}\n" in out
    summary = f"Would tear down: jobs {JOBS} to delete; database {database(env, FEAT)} to delete; S3 objects {FILES}"
    assert re.search(rf"^{summary} to delete \(\d+\.\d s\)$", out, re.M)
    code, plan, _ = teardown(capsys, "--env", "branch", "--branch", "feat", "--dry-run")
    assert code == 0 and plan["dry_run"] is True and plan["jobs"]["deleted"] == JOBS


def test_human_output_shows_progress_and_summary(local_aws, env, monkeypatch, capsys):
    deploy(monkeypatch, capsys, "branch", "feat")
    monkeypatch.setenv("GLUE_PIPES_ENV", "branch")
    monkeypatch.setenv("GLUE_PIPES_BRANCH", "feat")  # no flags: the environment decides
    assert cli.main(["teardown"]) == 0
    out = capsys.readouterr().out
    assert "  [1/5] delete " in out and "  [5/5] delete " in out
    assert f"  [1/1] delete Glue database {database(env, FEAT)}\n" in out
    root = f"s3://{LOCAL_BUCKET}/{env['GLUE_PIPES_S3_PREFIX']}"
    where = f"{root}/branch-{FEAT}/ and {root}/pipes/branch-{FEAT}/ and {root}/data/branch-{FEAT}/"
    assert f"  [{FILES}/{FILES}] deleted objects under {where}\n" in out
    summary = f"Tore down: jobs {JOBS} deleted; database {database(env, FEAT)} deleted; S3 objects {FILES} deleted"
    assert re.search(rf"^{summary} \(\d+\.\d s\)$", out, re.M)
    assert jobs(local_aws, env) == set() and objects(local_aws, env) == set() and databases(local_aws, env) == set()


@pytest.mark.parametrize(
    ("args", "variables", "message"),
    [
        (["--env", "prod"], {}, "error: refusing to tear down the prod environment"),
        ([], {"GLUE_PIPES_ENV": "prod"}, "error: refusing to tear down the prod environment"),
        (["--env", "local", "--branch", "feat"], {}, "error: --branch names a branch environment, not local"),
        (["--env", "branch"], {}, "a branch environment needs GLUE_PIPES_BRANCH"),
    ],
    ids=["prod-flag", "prod-variable", "branch-without-branch-env", "branch-env-without-branch"],
)
def test_bad_input_exits_2_and_sends_nothing(local_aws, env, monkeypatch, capsys, args, variables, message):
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    local_aws.reset_requests()
    try:
        code = cli.main(["teardown", *args])
    except SystemExit as exited:  # settings errors leave through glue-pipes' settings check
        code = exited.code
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    assert sum(local_aws.requests().values()) == 0


def test_versioned_bucket_loses_every_version_of_the_prefix_in_batches(local_aws, env, monkeypatch, capsys):
    # S3 takes 1000 keys per DeleteObjects (the endpoint takes more); 4 shows the batching with 10 versions.
    monkeypatch.setattr("glue_pipes_project.deploy.teardown.S3_DELETE_BATCH", 4)
    bucket = "teardown-versioned"
    s3 = local_aws.client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    monkeypatch.setenv("GLUE_PIPES_BUCKET", bucket)
    deploy(monkeypatch, capsys, "branch", "feat")
    deploy(monkeypatch, capsys, "branch", "feat-x")
    feat_root, feat_x_root = (f"{env['GLUE_PIPES_S3_PREFIX']}/branch-{b}/" for b in (FEAT, FEAT_X))
    # Runs left context objects; one was written twice, one deleted (its versions and a delete marker stay).
    keys = [f"{feat_root}pipes/run-{n}/context.json" for n in range(3)]
    for key in [*keys, keys[0]]:
        s3.put_object(Bucket=bucket, Key=key, Body=b"{}")
    s3.delete_object(Bucket=bucket, Key=keys[1])
    assert len(versions(local_aws, bucket, feat_root)) == FILES + 4 + 1  # deployed files, context objects, marker
    feat_x_versions = versions(local_aws, bucket, feat_x_root)

    local_aws.reset_requests()
    code = cli.main(["teardown", "--env", "branch", "--branch", "feat"])
    out = capsys.readouterr().out
    assert code == 0, out
    s3_prefix = env["GLUE_PIPES_S3_PREFIX"]
    where = " and ".join(
        f"s3://{bucket}/{prefix}"
        for prefix in (feat_root, f"{s3_prefix}/pipes/branch-{FEAT}/", f"{s3_prefix}/data/branch-{FEAT}/")
    )
    assert f"    delete     {FILES + 5} object versions and delete markers of {FILES + 3} keys under {where}\n" in out
    assert [line for line in out.splitlines() if "deleted objects" in line] == [
        f"  [{done}/{FILES + 5}] deleted objects under {where}" for done in (4, 8, 12, 14)
    ]
    assert writes(local_aws) == {"glue:DeleteJob": JOBS, "glue:DeleteDatabase": 1, "s3:DeleteObjects": 4}
    assert versions(local_aws, bucket, feat_root) == set()
    assert versions(local_aws, bucket, feat_x_root) == feat_x_versions


def test_failed_deletes_fail_the_command_and_name_what_remains(local_aws, env, monkeypatch, capsys):
    bucket = "teardown-locked"
    s3 = local_aws.client("s3")
    s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)  # versioned, and a legal hold blocks deletes
    monkeypatch.setenv("GLUE_PIPES_BUCKET", bucket)
    feat_jobs = sorted(deploy(monkeypatch, capsys, "branch", "feat"))
    held = f"{env['GLUE_PIPES_S3_PREFIX']}/branch-{FEAT}/pipes/held.json"
    version = s3.put_object(
        Bucket=bucket, Key=held, Body=b"{}", ObjectLockLegalHoldStatus="ON", ChecksumAlgorithm="SHA256"
    )["VersionId"]
    local_aws.inject_fault("glue:DeleteJob", "AccessDeniedException")  # the first of the two

    code, result, err = teardown(capsys, "--env", "branch", "--branch", "feat")
    assert code == 1 and result == {}
    assert (
        f"\nerror: teardown of environment branch-{FEAT} is incomplete: 1 Glue job(s) and 1 S3 object(s) remain\n"
        in err
    )
    assert f"  remains: Glue job {feat_jobs[0]}\n" in err
    assert f"  remains: {held} (version {version})\n" in err
    assert f"  failed: glue:DeleteJob {feat_jobs[0]}: AccessDeniedException: Injected fault\n" in err
    # S3 names the refused version too; the local endpoint names only the key.
    assert re.search(rf"^  failed: s3:DeleteObjects {held}( \(version {version}\))?: AccessDenied: ", err, re.M)
    assert jobs(local_aws, env) == {feat_jobs[0]}
    assert objects(local_aws, env, bucket) == {held}

    s3.put_object_legal_hold(Bucket=bucket, Key=held, VersionId=version, LegalHold={"Status": "OFF"})
    code, result, err = teardown(capsys, "--env", "branch", "--branch", "feat")
    assert code == 0, err
    assert (result["jobs"]["items"], result["objects"]["deleted"]) == ([feat_jobs[0]], 1)
    assert jobs(local_aws, env) == set() and versions(local_aws, bucket, env["GLUE_PIPES_S3_PREFIX"]) == set()

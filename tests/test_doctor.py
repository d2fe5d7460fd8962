"""`glue-pipes doctor` on the local endpoint: all pass after a deploy, and each planted failure says so.

Most tests run doctor as CI would after a deploy: GLUE_PIPES_MODE=aws with the endpoint's URL and
credentials, against a bucket and Glue role set up as the infra/ stack would (encrypted, public
access blocked, role trusted by Glue). One deploy per module; each test plants one failure.
"""

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from glue_pipes_project import cli
from glue_pipes_project.aws import AwsClients
from glue_pipes_project.deploy.plan import deploy_project
from glue_pipes_project.settings import Settings

# One worker runs the whole module: its session-scoped set-up is costly, once is enough.
pytestmark = pytest.mark.xdist_group("doctor")

ROOT = Path(__file__).resolve().parent.parent
BUCKET = "doctor-checks"
ROLE = "glue-pipes-doctor-role"
GLUE_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "glue.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


def _set_environment(monkeypatch: pytest.MonkeyPatch, values: dict[str, str]) -> None:
    import os

    for key in list(os.environ):
        if key.startswith(("GLUE_PIPES_", "DAGSTER_CLOUD_", "AWS_")):
            monkeypatch.delenv(key)
    for key, value in values.items():
        monkeypatch.setenv(key, value)


@pytest.fixture(scope="session")  # lives on the worker: a module fixture is rebuilt when xdist interleaves modules
def deployed(local_aws, tmp_path_factory) -> Iterator[dict[str, str]]:
    """An AWS-mode environment on the endpoint, set up as the stack does, with glue_jobs/ deployed."""
    s3 = local_aws.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_encryption(
        Bucket=BUCKET,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    flags = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
    s3.put_public_access_block(Bucket=BUCKET, PublicAccessBlockConfiguration=dict.fromkeys(flags, True))
    role = local_aws.client("iam").create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(GLUE_TRUST))
    jobs_dir = tmp_path_factory.mktemp("doctor") / "glue_jobs"
    shutil.copytree(ROOT / "glue_jobs", jobs_dir)
    values = {
        "GLUE_PIPES_MODE": "aws",
        "GLUE_PIPES_ENV": "prod",
        "GLUE_PIPES_REGION": "us-east-1",
        "GLUE_PIPES_ENDPOINT_URL": local_aws.endpoint_url,
        "GLUE_PIPES_BUCKET": BUCKET,
        "GLUE_PIPES_ROLE_ARN": role["Role"]["Arn"],
        "GLUE_PIPES_MANIFEST": str(jobs_dir / "jobs.yaml"),
        "GLUE_PIPES_JOB_PREFIX": "doctor-",
        "GLUE_PIPES_S3_PREFIX": "doctor",
        **local_aws.credentials.environment(),
    }
    with pytest.MonkeyPatch.context() as monkeypatch:
        _set_environment(monkeypatch, values)
        settings = Settings.from_env()
        deploy_project(settings, AwsClients.connect(settings))
    yield values


@pytest.fixture
def doctor_env(deployed, monkeypatch, tmp_path, local_aws) -> Iterator[dict[str, str]]:
    monkeypatch.chdir(tmp_path)  # no ./.env of the checkout's
    _set_environment(monkeypatch, deployed)
    yield deployed
    local_aws.clear_faults()  # a fault the test did not consume must not hit the next test


def doctor(capsys, *args: str) -> tuple[int, dict, list[str]]:
    """Exit code, the --json report, and the human lines (on stderr with --json)."""
    code = cli.main(["doctor", "--json", *args])
    captured = capsys.readouterr()
    return code, json.loads(captured.out), captured.err.splitlines()


def failures(report: dict) -> dict[str, str]:
    return {c["name"]: c["detail"] for c in report["checks"] if c["status"] == "fail"}


def test_all_checks_pass_after_deploy_and_json_shape(doctor_env, capsys):
    code, report, lines = doctor(capsys)
    assert code == 0
    assert report["ok"] is True and (report["mode"], report["environment"]) == ("aws", "prod")
    names = [c["name"] for c in report["checks"]]
    assert names == [
        "credentials",
        "region",
        f"bucket s3://{BUCKET}",
        "bucket encryption",
        "bucket public access",
        f"pipes prefix s3://{BUCKET}/doctor/pipes/prod/context/",
        "job glue_pipes_asset",
        "job glue_pipes_s3_asset",
        "job raw_orders",
        "job orders_curated",
        "job orders_daily_summary",
        "dagster-pipes shipped",
        f"Glue role {doctor_env['GLUE_PIPES_ROLE_ARN']}",
        "Glue log groups",
    ]
    assert {c["status"] for c in report["checks"]} == {"pass"}
    assert all(set(c) == {"name", "status", "detail", "fix"} and c["fix"] is None for c in report["checks"])
    # The human report is one line per check, the same as the JSON says.
    assert len(lines) == len(names)
    assert all(line.startswith(f"PASS  {name}: ") for line, name in zip(lines, names, strict=True))
    assert "default encryption AES256" in lines[3]


def test_human_output_goes_to_stdout_without_json(doctor_env, capsys):
    assert cli.main(["doctor"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("PASS  credentials: arn:aws:")
    assert captured.err == ""


def test_missing_bucket(doctor_env, monkeypatch, capsys):
    monkeypatch.setenv("GLUE_PIPES_BUCKET", "doctor-no-such-bucket")
    code, report, lines = doctor(capsys)
    assert code == 1 and report["ok"] is False
    assert "FAIL  bucket s3://doctor-no-such-bucket: does not exist" in lines
    bucket = next(c for c in report["checks"] if c["name"] == "bucket s3://doctor-no-such-bucket")
    assert "GLUE_PIPES_BUCKET" in bucket["fix"]
    assert (
        "PutObject failed: NoSuchBucket"
        in failures(report)["pipes prefix s3://doctor-no-such-bucket/doctor/pipes/prod/context/"]
    )


@pytest.mark.parametrize("operation", ["PutObject", "GetObject"])
def test_access_denied_under_the_pipes_prefix(doctor_env, local_aws, operation, capsys):
    local_aws.inject_fault(f"s3:{operation}", "AccessDenied", status=403)
    code, report, lines = doctor(capsys)
    assert code == 1
    name = f"pipes prefix s3://{BUCKET}/doctor/pipes/prod/context/"
    assert list(failures(report)) == [name]  # nothing else is blamed
    assert f"{operation} failed: AccessDenied" in failures(report)[name]
    assert f"      fix: grant s3:{operation} on arn:aws:s3:::{BUCKET}/doctor/pipes/prod/context/*" in lines


def test_missing_jobs(doctor_env, monkeypatch, capsys):
    monkeypatch.setenv("GLUE_PIPES_JOB_PREFIX", "doctor-never-deployed-")
    code, report, lines = doctor(capsys)
    assert code == 1
    assert set(failures(report)) == {
        f"job {name}"
        for name in ("glue_pipes_asset", "glue_pipes_s3_asset", "raw_orders", "orders_curated", "orders_daily_summary")
    }
    assert (
        "Glue job 'doctor-never-deployed-glue_pipes_asset' does not exist" in failures(report)["job glue_pipes_asset"]
    )
    assert "      fix: run `glue-pipes deploy` (`make deploy`) or the deploy_glue_jobs job in Dagster" in lines
    pipes = next(c for c in report["checks"] if c["name"] == "dagster-pipes shipped")
    assert pipes["status"] == "skip"


def test_drifted_job(doctor_env, tmp_path, capsys):
    edited = tmp_path / "glue_jobs"
    shutil.copytree(Path(doctor_env["GLUE_PIPES_MANIFEST"]).parent, edited)
    with (edited / "glue_pipes_asset.py").open("a") as script:
        script.write("\n# edited after deploy\n")
    code, report, _ = doctor(capsys, "--manifest", str(edited / "jobs.yaml"))
    assert code == 1
    assert list(failures(report)) == ["job glue_pipes_asset"]
    assert failures(report)["job glue_pipes_asset"] == (
        "job 'glue_pipes_asset' is not deployed as the repository has it: Glue job 'doctor-glue_pipes_asset' "
        "differs in Command; this glue_jobs/glue_pipes_asset.py is not in S3"
    )


def test_missing_role(doctor_env, monkeypatch, capsys):
    arn = "arn:aws:iam::123456789012:role/glue-pipes-doctor-missing"
    monkeypatch.setenv("GLUE_PIPES_ROLE_ARN", arn)
    code, report, _ = doctor(capsys)
    assert code == 1
    assert failures(report)[f"Glue role {arn}"] == "does not exist"


def test_bad_input_exits_2(doctor_env, monkeypatch, tmp_path, capsys):
    (tmp_path / "jobs.yaml").write_text("jobs: {broken: {script: missing.py}}\n")
    assert cli.main(["doctor", "--manifest", str(tmp_path / "jobs.yaml")]) == 2
    assert "error:" in capsys.readouterr().err
    monkeypatch.setenv("GLUE_PIPES_MODE", "cloud")
    with pytest.raises(SystemExit) as exited:
        cli.main(["doctor"])
    assert exited.value.code == 2


def test_local_mode_skips_what_the_endpoint_does_not_model(local_aws, monkeypatch, tmp_path, capsys):
    values = {
        "GLUE_PIPES_ENDPOINT_URL": local_aws.endpoint_url,
        "GLUE_PIPES_JOB_PREFIX": "doctor-local-",
        "GLUE_PIPES_S3_PREFIX": "doctor-local",
    }
    monkeypatch.chdir(tmp_path)
    _set_environment(monkeypatch, values)
    settings = Settings.from_env()
    deploy_project(settings, AwsClients.connect(settings))
    code, report, _ = doctor(capsys)
    assert code == 0, failures(report)
    skipped = {c["name"] for c in report["checks"] if c["status"] == "skip"}
    assert skipped == {"bucket encryption", "bucket public access", f"Glue role {settings.role_arn}"}

"""The local endpoint runs the scripts it is given: only its user may drive it, never a web page."""

from __future__ import annotations

import http.client
import json
import os
import pwd
import shlex
import stat
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from glue_pipes_local_aws import LocalAWS
from glue_pipes_local_aws.control_client import CONTROL_PREFIX, TOKEN_HEADER
from glue_pipes_local_aws.credentials import credentials_path
from glue_pipes_local_aws.runtime_dir import UnsafeRuntimeDirError, runtime_dir

FOREIGN_ORIGIN = "http://attacker.example"


def _send(aws: LocalAWS, method: str, path: str, body: bytes = b"", **headers: str) -> http.client.HTTPResponse:
    """A raw request, as curl or a browser would send it (no signature unless given)."""
    connection = http.client.HTTPConnection("127.0.0.1", aws.port, timeout=10)
    headers = {key.replace("_", "-"): value for key, value in headers.items()}
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def _job(aws: LocalAWS) -> str:
    """A job that could run anything: what an intruder would start."""
    s3, glue = aws.client("s3"), aws.client("glue")
    bucket = f"security-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="job.py", Body=b"print('ran')\n")
    name = f"target-{uuid.uuid4().hex[:8]}"
    glue.create_job(Name=name, Role="role", Command={"Name": "pythonshell", "ScriptLocation": f"s3://{bucket}/job.py"})
    return name


def _start_job_unsigned(aws: LocalAWS, name: str, **headers: str) -> http.client.HTTPResponse:
    return _send(
        aws,
        "POST",
        "/",
        json.dumps({"JobName": name}).encode(),
        X_Amz_Target="AWSGlue.StartJobRun",
        Content_Type="application/x-amz-json-1.1",
        **headers,
    )


def test_unsigned_requests_are_refused_in_each_protocol_s_error_shape(local_aws: LocalAWS) -> None:
    name = _job(local_aws)
    glue_answer = _start_job_unsigned(local_aws, name)
    assert glue_answer.status == 403
    assert glue_answer.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
    assert _send(local_aws, "GET", "/").status == 403  # S3 ListBuckets
    assert local_aws.client("glue").get_job_runs(JobName=name)["JobRuns"] == []


@pytest.mark.parametrize(
    ("service", "call", "code"),
    [
        ("s3", lambda client: client.list_buckets(), "SignatureDoesNotMatch"),
        ("glue", lambda client: client.get_jobs(), "InvalidSignatureException"),
        ("logs", lambda client: client.describe_log_groups(), "InvalidSignatureException"),
    ],
)
def test_a_request_signed_with_the_wrong_secret_is_refused(
    local_aws: LocalAWS, service: str, call: Any, code: str
) -> None:
    client = boto3.client(
        service,
        endpoint_url=local_aws.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=local_aws.credentials.access_key_id,
        aws_secret_access_key="not-the-secret",
    )
    with pytest.raises(ClientError) as raised:
        call(client)
    assert raised.value.response["Error"]["Code"] == code
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_the_old_dummy_credentials_are_refused(local_aws: LocalAWS) -> None:
    client = boto3.client(
        "glue",
        endpoint_url=local_aws.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    with pytest.raises(ClientError, match="UnrecognizedClientException"):
        client.start_job_run(JobName=_job(local_aws))


def test_a_foreign_origin_gets_no_cors_grant(local_aws: LocalAWS) -> None:
    preflight = _send(
        local_aws,
        "OPTIONS",
        "/",
        Origin=FOREIGN_ORIGIN,
        Access_Control_Request_Method="POST",
        Access_Control_Request_Headers="x-amz-target,content-type",
    )
    assert preflight.status == 403
    assert not [name for name in preflight.headers if name.lower().startswith("access-control-")]
    # A "simple" cross-site POST (no preflight): refused, and its answer readable by no page.
    simple = _start_job_unsigned(local_aws, _job(local_aws), Origin=FOREIGN_ORIGIN)
    assert simple.status == 403 and simple.headers.get("Access-Control-Allow-Origin") is None


def test_signed_answers_carry_no_cors_headers(local_aws: LocalAWS) -> None:
    answer = local_aws.client("s3").list_buckets()
    assert not [name for name in answer["ResponseMetadata"]["HTTPHeaders"] if name.startswith("access-control-")]


@pytest.mark.parametrize("host", ["attacker.example", "attacker.example:{port}", "127.0.0.1:1", "127.0.0.2:{port}"])
def test_a_host_other_than_the_loopback_address_and_port_is_refused(local_aws: LocalAWS, host: str) -> None:
    # DNS rebinding: a page on attacker.example, re-pointed at 127.0.0.1, sends its own Host.
    answer = _send(local_aws, "GET", CONTROL_PREFIX + "health", Host=host.format(port=local_aws.port))
    assert answer.status == 403
    assert _send(local_aws, "GET", CONTROL_PREFIX + "health").status == 200  # the health check itself stays open


def test_the_control_api_needs_the_token_and_json(local_aws: LocalAWS) -> None:
    token = local_aws.credentials.control_token
    fault = json.dumps({"operation": "glue:GetJobRun", "error": "ThrottlingException"}).encode()
    assert _send(local_aws, "GET", CONTROL_PREFIX + "requests").status == 403
    assert _send(local_aws, "POST", CONTROL_PREFIX + "shutdown").status == 403
    assert _send(local_aws, "POST", CONTROL_PREFIX + "faults", fault, Content_Type="application/json").status == 403
    # A browser's simple-request shapes, even with the token: refused.
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"):
        headers = {"Content_Type": content_type, TOKEN_HEADER.replace("-", "_"): token}
        assert _send(local_aws, "POST", CONTROL_PREFIX + "faults", fault, **headers).status == 415
    with pytest.raises(ClientError) as raised:  # none of the refused requests injected its fault
        local_aws.client("glue").get_job_run(JobName="no-such-job", RunId="jr_0")
    assert raised.value.response["Error"]["Code"] == "EntityNotFoundException"
    local_aws.clear_faults()  # ControlClient sends the token: allowed


def test_credentials_are_in_a_user_private_file(local_aws: LocalAWS) -> None:
    path = credentials_path(local_aws.port)
    file, directory = os.lstat(path), os.lstat(path.parent)
    assert stat.S_IMODE(file.st_mode) == 0o600 and stat.S_ISREG(file.st_mode) and file.st_uid == os.getuid()
    assert stat.S_IMODE(directory.st_mode) == 0o700 and stat.S_ISDIR(directory.st_mode)
    assert directory.st_uid == os.getuid()
    assert json.loads(path.read_text())["aws_secret_access_key"] == local_aws.credentials.secret_access_key


def test_a_start_removes_credentials_killed_endpoints_left(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    dead = subprocess.Popen(["true"])
    dead.wait()
    left = {"aws_access_key_id": "k", "aws_secret_access_key": "s"}
    (runtime_dir() / "local-aws-1.credentials").write_text(json.dumps({**left, "pid": dead.pid}))
    (runtime_dir() / "local-aws-2.credentials").write_text(json.dumps({**left, "pid": os.getpid()}))
    with LocalAWS() as aws:
        assert sorted(path.name for path in runtime_dir().glob("*.credentials")) == sorted(
            ["local-aws-2.credentials", f"local-aws-{aws.port}.credentials"]
        )
    assert [path.name for path in runtime_dir().glob("*.credentials")] == ["local-aws-2.credentials"]


@pytest.mark.parametrize("problem", ["group-writable", "world-readable", "symlink"])
def test_an_unsafe_runtime_dir_is_refused(problem: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    target = tmp_path / "glue-pipes"
    if problem == "symlink":
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir(mode=0o700)
        target.symlink_to(elsewhere)
    else:
        target.mkdir()
        target.chmod(0o770 if problem == "group-writable" else 0o704)
    with pytest.raises(UnsafeRuntimeDirError, match="glue-pipes must be a directory"):
        runtime_dir()


def test_a_fresh_runtime_dir_is_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    os.umask(old := os.umask(0))  # the most permissive umask must not matter
    try:
        assert stat.S_IMODE(os.lstat(runtime_dir()).st_mode) == 0o700
    finally:
        os.umask(old)


def _intrude(port: int, credentials_file: Path, job: str) -> list[str]:
    """What another local user can try: read the credentials, start a job unsigned or with guessed keys."""
    try:
        credentials_file.read_text()
        seen = ["read the credentials"]
    except PermissionError:
        seen = ["cannot read the credentials"]
    guessed = (
        "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/glue/aws4_request, SignedHeaders=host, Signature="
        + "0" * 64
    )
    for headers in ({}, {"Authorization": guessed}):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request(
            "POST",
            "/",
            body=json.dumps({"JobName": job}),
            headers={"X-Amz-Target": "AWSGlue.StartJobRun", "Content-Type": "application/x-amz-json-1.1", **headers},
        )
        seen.append(str(connection.getresponse().status))
        connection.close()
    return seen


@pytest.mark.skipif(os.geteuid() != 0, reason="switching to a second OS user (nobody) needs root")
def test_a_second_os_user_cannot_read_the_credentials_nor_start_a_job(local_aws: LocalAWS) -> None:
    nobody = pwd.getpwnam("nobody")
    name, credentials_file = _job(local_aws), credentials_path(local_aws.port)
    # A forked child that becomes `nobody` (the interpreter may sit where nobody cannot exec it).
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through the pipe and never returns
        try:
            os.setgroups([])
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)
            seen = _intrude(local_aws.port, credentials_file, name)
        except BaseException as error:
            seen = [repr(error)]
        try:
            os.write(write_end, json.dumps(seen).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as report:
        seen = json.loads(report.read() or "null")
    os.waitpid(child, 0)
    assert seen == ["cannot read the credentials", "403", "403"]
    assert local_aws.client("glue").get_job_runs(JobName=name)["JobRuns"] == []


def test_local_aws_env_gives_the_aws_cli_and_sdks_working_credentials(local_aws: LocalAWS) -> None:
    exported = subprocess.run(
        [sys.executable, "-m", "glue_pipes_project.cli", "local-aws", "env", "--port", str(local_aws.port)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    variables = dict(shlex.split(line.removeprefix("export "))[0].split("=", 1) for line in exported.splitlines())
    assert variables["AWS_ENDPOINT_URL"] == local_aws.endpoint_url
    assert variables["AWS_SECRET_ACCESS_KEY"] == local_aws.credentials.secret_access_key
    local_aws.client("s3").create_bucket(Bucket="seen-by-the-sdk")
    environment = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    listed = subprocess.run(
        [sys.executable, "-c", "import boto3; print(boto3.client('s3').list_buckets()['Buckets'])"],
        env={**environment, **variables},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "seen-by-the-sdk" in listed

"""Least privilege, both ways: every AWS call the project makes is allowed by its principal's policy in
infra/policies/, and every permission those policies grant is used by a call here or is listed in
`NOT_EXERCISED` with the AWS documentation's reason.

Each principal signs with its own keys on a local endpoint of its own, which attributes every call
(`LocalAWS.calls()`): the deploy step, `deploy --check`, the Dagster process and the Glue job run
(its script's calls and what the Glue service does as the job's role: fetch the script, write logs).
The endpoint enforces no IAM; `tests/iam_policy.py` evaluates the recorded calls.
"""

from __future__ import annotations

import contextlib
import copy
import shutil
from collections.abc import Iterator
from typing import Any

import boto3
import dagster as dg
import pytest
import yaml
from botocore.exceptions import ClientError

from glue_pipes_local_aws import LocalAWS
from glue_pipes_project.aws import AwsClients
from glue_pipes_project.components.glue_jobs import glue_job_asset
from glue_pipes_project.defs.glue.glue_pipes_asset import glue_pipes_asset
from glue_pipes_project.deploy.manifest import load_manifest
from glue_pipes_project.deploy.plan import deploy_project
from glue_pipes_project.infra import POLICIES_DIR
from glue_pipes_project.resources import GluePipesClientResource
from glue_pipes_project.settings import Settings
from tests.conftest import MINUTE_SECONDS
from tests.helpers import shared_instance
from tests.iam_policy import Grant, Request, grants, is_allowed, load_policy, matching_grants
from tests.test_end_to_end import ROOT, glue_pipes_s3_asset

# raw_orders, the orders pipeline's first job: plain Python, so it runs here (the Spark ones do not).
raw_orders = glue_job_asset(load_manifest(ROOT / "glue_jobs" / "jobs.yaml").jobs["raw_orders"])

# One worker runs the whole module: its session-scoped set-up is costly, once is enough.
pytestmark = pytest.mark.xdist_group("least_privilege")

ACCOUNT_ID = "123456789012"  # moto's and the Glue emulation's account
BUCKET = "least-privilege"
S3_PREFIX = "lp"
JOB_PREFIX = "lp-"
CATALOG_PREFIX = "lp_"  # the stack's CatalogDatabasePrefix: JOB_PREFIX as deploy names databases
ROLE_NAME = "glue-pipes-glue-job-role"

# Which policy each principal of the endpoint stands for (infra/README.md says who gets which).
POLICY_OF = {
    "deploy": "deploy-policy.json",
    "deploy-check": "deploy-check-policy.json",
    "runtime": "runtime-policy.json",
    "glue-job": "glue-job-policy.json",
}

# Grants no call here makes, each with why the code needs it anyway. Keyed by (policy, Sid, action).
# Both are made by tests/test_pipes_glue.py's termination tests, which run under the admin key.
NOT_EXERCISED: dict[tuple[str, str, str], str] = {
    ("runtime-policy.json", "RunJobs", "glue:BatchStopJobRun"): (
        "a terminated Dagster run stops its Glue run (pipes/client.py _stop; BatchStopJobRun, Glue API reference)"
    ),
    ("runtime-policy.json", "RunJobs", "glue:GetJobRuns"): (
        "terminated while StartJobRun was in flight: the run it may have started is found among the job's runs"
        " (pipes/client.py _active_run_of) and stopped"
    ),
}
# Grants only the orders pipeline's Spark jobs use (orders_curated, orders_daily_summary: a JVM start
# each, too costly for this module). tests/test_orders_pipeline.py checks its runs' calls against
# glue-job-policy.json and that they use each of these.
SPARK_ONLY: dict[tuple[str, str, str], str] = {
    ("glue-job-policy.json", sid, action): f"the Spark jobs of the orders pipeline: {why}"
    for sid, action, why in (
        ("ListPipelineData", "s3:ListBucket", "reading a day's raw files, purging a partition before rewriting it"),
        ("ReadWritePipelineData", "s3:GetObject", "create_dynamic_frame reads raw JSON and curated Parquet"),
        ("ReadWritePipelineData", "s3:DeleteObject", "purge_s3_path clears a partition a rerun replaces"),
        ("PipelineTables", "glue:GetTable", "the sink and from_catalog read the table"),
        ("PipelineTables", "glue:CreateTable", "the sink creates the table on its first write"),
        ("PipelineTables", "glue:UpdateTable", "the sink (enableUpdateCatalog) updates the table's schema"),
        ("PipelineTables", "glue:GetPartition", "orders_curated reads the previous day's partition"),
        ("PipelineTables", "glue:GetPartitions", "from_catalog's push_down_predicate selects partitions"),
        ("PipelineTables", "glue:BatchCreatePartition", "the sink registers the day's partition"),
    )
}
NOT_EXERCISED.update(SPARK_ONLY)


def policy(principal: str) -> dict[str, Any]:
    return load_policy(
        POLICIES_DIR / POLICY_OF[principal],
        {
            "<ACCOUNT_ID>": ACCOUNT_ID,
            "<REGION>": "us-east-1",
            "<BUCKET>": BUCKET,
            "<S3_PREFIX>": S3_PREFIX,
            "<JOB_NAME_PREFIX>": JOB_PREFIX,
            "<CATALOG_DATABASE_PREFIX>": CATALOG_PREFIX,
            "<GLUE_JOB_ROLE_NAME>": ROLE_NAME,
        },
    )


POLICIES = {principal: policy(principal) for principal in POLICY_OF}

Call = tuple[str, str, Request]  # (principal, operation, one authorization it needs)


def attributed(calls: list[dict[str, Any]]) -> list[Call]:
    return [
        (call["principal"], call["operation"], Request.from_dict(authorization))
        for call in calls
        for authorization in call["authorizations"]
    ]


def denied(calls: list[Call], policies: dict[str, dict[str, Any]]) -> list[str]:
    """Each call its principal's policy does not allow; calls by principals without a policy too."""
    return sorted(
        {
            f"{principal} {operation}: {request.action} on {request.resource} {dict(request.context) or ''}".rstrip()
            for principal, operation, request in calls
            if principal not in policies or not is_allowed(policies[principal], request)
        }
    )


def unused(calls: list[Call], policies: dict[str, dict[str, Any]]) -> list[str]:
    """Each grant no call uses and `NOT_EXERCISED` does not explain."""
    used: set[tuple[str, Grant]] = {
        (principal, grant)
        for principal, _, request in calls
        if principal in policies
        for grant in matching_grants(policies[principal], request)
    }
    return sorted(
        f"{POLICY_OF[principal]} {grant.sid}: {grant.action} on {grant.resource}"
        for principal, document in policies.items()
        for grant in grants(document)
        if (principal, grant) not in used and (POLICY_OF[principal], grant.sid, grant.action) not in NOT_EXERCISED
    )


@contextlib.contextmanager
def signing_as(aws: LocalAWS, principal: str) -> Iterator[None]:
    """The default credential chain (what the project uses in aws mode) yields `principal`'s keys."""
    with pytest.MonkeyPatch.context() as patch:
        for key, value in aws.principals[principal].environment().items():
            patch.setenv(key, value)
        yield


@pytest.fixture(scope="session")  # lives on the worker: a module fixture is rebuilt when xdist interleaves modules
def endpoint() -> Iterator[LocalAWS]:
    with LocalAWS(minute_seconds=MINUTE_SECONDS) as aws:
        yield aws


@pytest.fixture(scope="session")  # lives on the worker: a module fixture is rebuilt when xdist interleaves modules
def recorded(endpoint: LocalAWS, tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """The calls of deploys (create, update, prune), `deploy --check`, both assets materialized
    (CloudWatch and S3 message readers, each with the run-time deploy check) and raw_orders for a day."""
    aws = endpoint
    aws.client("s3").create_bucket(Bucket=BUCKET)  # the stack's bucket, made by the admin
    settings = Settings.from_env(
        {
            "GLUE_PIPES_MODE": "aws",
            "GLUE_PIPES_ENDPOINT_URL": aws.endpoint_url,
            "GLUE_PIPES_REGION": "us-east-1",
            "GLUE_PIPES_BUCKET": BUCKET,
            "GLUE_PIPES_S3_PREFIX": S3_PREFIX,
            "GLUE_PIPES_JOB_PREFIX": JOB_PREFIX,
            "GLUE_PIPES_ROLE_ARN": f"arn:aws:iam::{ACCOUNT_ID}:role/{ROLE_NAME}",
        }
    )
    # A redeploy that changes one job and drops the other (updates, verifies artifacts, prunes), then
    # the repository's manifest again (recreates it).
    changed = tmp_path_factory.mktemp("manifest") / "glue_jobs"
    shutil.copytree(ROOT / "glue_jobs", changed)
    manifest = yaml.safe_load((changed / "jobs.yaml").read_text())
    del manifest["jobs"]["glue_pipes_s3_asset"]
    manifest["jobs"]["glue_pipes_asset"]["timeout_minutes"] += 1
    (changed / "jobs.yaml").write_text(yaml.safe_dump(manifest))
    aws.reset_requests()
    with signing_as(aws, "deploy"):
        for manifest_path in (settings.manifest_path, str(changed / "jobs.yaml"), settings.manifest_path):
            deployed = settings.model_copy(update={"manifest_path": manifest_path})
            assert deploy_project(deployed, AwsClients.connect(deployed), prune=True).has_changes
    with signing_as(aws, "deploy-check"):
        assert not deploy_project(settings, AwsClients.connect(settings), dry_run=True).has_changes
    with signing_as(aws, "runtime"):
        for asset, key, reader in (
            (glue_pipes_asset, "glue_pipes_client", "cloudwatch"),
            (glue_pipes_s3_asset, "glue_pipes_s3_client", "s3"),
        ):
            resource = GluePipesClientResource(settings=settings, message_reader=reader)
            result = dg.materialize([asset], resources={key: resource}, instance=shared_instance())
            assert result.success
        resource = GluePipesClientResource(settings=settings)
        result = dg.materialize(
            [raw_orders],
            partition_key="2026-11-01",
            resources={"glue_pipes_client": resource},
            instance=shared_instance(),
        )
        assert result.success
    return aws.calls()


def test_every_call_is_allowed_by_its_principals_policy(recorded):
    calls = attributed(recorded)
    # Each step signed with its principal's keys only: nothing fell back to the endpoint's admin key.
    assert {principal for principal, _, _ in calls} == set(POLICY_OF)
    assert denied(calls, POLICIES) == []


def test_every_granted_permission_is_used_or_explained(recorded):
    assert unused(attributed(recorded), POLICIES) == []


def test_not_exercised_lists_only_grants_that_exist_and_go_unused(recorded):
    calls = attributed(recorded)
    granted = {(POLICY_OF[p], g.sid, g.action) for p, document in POLICIES.items() for g in grants(document)}
    used = {
        (POLICY_OF[principal], grant.sid, grant.action)
        for principal, _, request in calls
        for grant in matching_grants(POLICIES[principal], request)
    }
    assert set(NOT_EXERCISED) <= granted - used


def _without(principal: str, sid: str, action: str) -> dict[str, dict[str, Any]]:
    mutated = copy.deepcopy(POLICIES)
    for statement in mutated[principal]["Statement"]:
        if statement.get("Sid") == sid:
            actions = [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
            statement["Action"] = [a for a in actions if a != action]
    return mutated


EXERCISED_GRANTS = sorted(
    {
        (principal, grant.sid, grant.action)
        for principal, document in POLICIES.items()
        for grant in grants(document)
        if (POLICY_OF[principal], grant.sid, grant.action) not in NOT_EXERCISED
    }
)


@pytest.mark.parametrize(("principal", "sid", "action"), EXERCISED_GRANTS)
def test_removing_a_granted_action_fails_the_check(recorded, principal, sid, action):
    failures = denied(attributed(recorded), _without(principal, sid, action))
    assert failures and all(f.startswith(f"{principal} ") and action in f for f in failures), failures


# A call the code does not make today, by the principal that would make it: each must fail the check.
NEW_CALLS = {
    "runtime reads a job definition": ("runtime", "glue", "get_job", {"JobName": f"{JOB_PREFIX}glue_pipes_asset"}),
    "the Glue job rewrites a script": (
        "glue-job",
        "s3",
        "put_object",
        {"Bucket": BUCKET, "Key": f"{S3_PREFIX}/prod/artifacts/x/glue_pipes_asset.py", "Body": b""},
    ),
    "deploy deletes an artifact": (
        "deploy",
        "s3",
        "delete_object",
        {"Bucket": BUCKET, "Key": f"{S3_PREFIX}/prod/artifacts/x/orders.py"},
    ),
    "runtime lists log streams": (
        "runtime",
        "logs",
        "describe_log_streams",
        {"logGroupName": "/aws-glue/jobs/output"},
    ),
}


@pytest.mark.parametrize("new_call", sorted(NEW_CALLS))
def test_a_new_call_without_a_policy_change_fails_the_check(endpoint, recorded, new_call):
    principal, service, method, arguments = NEW_CALLS[new_call]
    endpoint.reset_requests()
    with contextlib.suppress(ClientError):  # whether it succeeds on the endpoint does not matter
        getattr(endpoint.client(service, principal=principal), method)(**arguments)
    extra = attributed(endpoint.calls())
    assert extra and {p for p, _, _ in extra} == {principal}
    assert denied(attributed(recorded), POLICIES) == []
    assert denied(attributed(recorded) + extra, POLICIES) != []


def test_each_principal_signs_with_its_own_secret_only(endpoint):
    deploy, runtime = endpoint.principals["deploy"], endpoint.principals["runtime"]
    forged = boto3.client(
        "s3",
        endpoint_url=endpoint.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=deploy.access_key_id,
        aws_secret_access_key=runtime.secret_access_key,
    )
    with pytest.raises(ClientError, match="SignatureDoesNotMatch"):
        forged.list_buckets()
    endpoint.client("s3", principal="runtime").list_buckets()

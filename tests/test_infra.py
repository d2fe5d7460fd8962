"""infra/: the policies rendered from the template, the properties moto ignores, and the stack on the
local endpoint driving the whole "point it at AWS" path: create the stack, print its settings,
deploy, materialize in GLUE_PIPES_MODE=aws."""

import json
import uuid

import dagster as dg
import pytest

from glue_pipes_project import cli
from glue_pipes_project.deploy.naming import Naming
from glue_pipes_project.infra import OUTPUT_SETTINGS, POLICIES_DIR, TEMPLATE, load_template, render_policies
from glue_pipes_project.resources import GluePipesClientResource
from glue_pipes_project.settings import Settings
from tests.helpers import shared_instance
from tests.test_end_to_end import glue_pipes_s3_asset


def test_committed_policies_are_a_fresh_render(tmp_path):
    render_policies(tmp_path)
    fresh = {path.name: path.read_text() for path in tmp_path.glob("*.json")}
    committed = {path.name: path.read_text() for path in POLICIES_DIR.glob("*.json")}
    assert committed == fresh, "infra/policies/ is stale: run `glue-pipes infra render-policies`"
    assert "<ACCOUNT_ID>" in fresh["runtime-policy.json"]


def test_each_output_fills_the_setting_its_description_names():
    outputs = load_template(TEMPLATE)["Outputs"]
    assert {key: output["Description"].split(" ", 1)[0] for key, output in outputs.items()} == OUTPUT_SETTINGS


# moto creates these resources but ignores the properties below (or the whole resource), so they are
# asserted here, on the template itself; the stack test covers what moto does create.
def test_the_catalog_database_prefix_is_the_job_prefix_as_deploy_names_databases():
    parameters = load_template()["Parameters"]
    naming = Naming(parameters["JobNamePrefix"]["Default"], "glue-pipes", "prod")
    assert naming.catalog_database == f"{parameters['CatalogDatabasePrefix']['Default']}prod"


def test_template_holds_what_moto_ignores():
    resources = load_template(TEMPLATE)["Resources"]
    bucket = resources["Bucket"]["Properties"]
    assert bucket["PublicAccessBlockConfiguration"] == dict.fromkeys(
        ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"), True
    )
    assert bucket["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    rules = {rule["Id"]: rule for rule in bucket["LifecycleConfiguration"]["Rules"]}
    # The Pipes prefix is the same for every environment (naming.py), so one rule expires them all.
    assert rules["expire-pipes-objects"]["Prefix"] == {"Fn::Sub": "${S3Prefix}/pipes/"}
    assert Naming("p-", "S", "branch", "b-1").pipes_prefix.startswith("S/pipes/")
    assert Naming("p-", "S", "branch", "b-1").pipes_messages_prefix.startswith("S/pipes/")
    assert "NoncurrentVersionExpiration" in rules["expire-noncurrent-versions"]
    assert "AbortIncompleteMultipartUpload" in rules["abort-incomplete-multipart-uploads"]
    assert not any("artifacts" in json.dumps(rule) for rule in rules.values())  # kept for rollbacks

    (tls_only,) = resources["BucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert tls_only["Effect"] == "Deny" and tls_only["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}

    glue_trust = resources["GlueJobRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
    assert glue_trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}

    attached = {
        role: resources[role]["Properties"]["ManagedPolicyArns"]
        for role in ("GlueJobRole", "CiCheckRole", "CiDeployRole")
    }
    assert attached == {
        "GlueJobRole": [{"Ref": "GlueJobPolicy"}],
        "CiCheckRole": [{"Ref": "DeployCheckPolicy"}],
        "CiDeployRole": [{"Ref": "DeployPolicy"}],
    }
    assert resources["GitHubOidcProvider"]["Condition"] == "CreateOidcProvider"
    for role, subject in (("CiCheckRole", ":pull_request"), ("CiDeployRole", ":ref:refs/heads/*")):
        (trust,) = resources[role]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        federated = trust["Principal"]["Federated"]["Fn::If"]
        assert federated == ["CreateOidcProvider", {"Ref": "GitHubOidcProvider"}, {"Ref": "GitHubOidcProviderArn"}]
        conditions = {key: value for block in trust["Condition"].values() for key, value in block.items()}
        assert conditions["token.actions.githubusercontent.com:aud"] == "sts.amazonaws.com"
        assert conditions["token.actions.githubusercontent.com:sub"]["Fn::Sub"].endswith(subject)

    (pass_role,) = [
        s
        for s in resources["DeployPolicy"]["Properties"]["PolicyDocument"]["Statement"]
        if s["Action"] == "iam:PassRole"
    ]
    assert pass_role["Resource"] == {"Fn::GetAtt": ["GlueJobRole", "Arn"]}
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "glue.amazonaws.com"}}


@pytest.fixture
def stack(local_aws):
    """The template deployed through the local endpoint's CloudFormation (moto)."""
    name = f"glue-pipes-{uuid.uuid4().hex[:8]}"
    cloudformation = local_aws.client("cloudformation")
    cloudformation.create_stack(
        StackName=name,
        TemplateBody=TEMPLATE.read_text(),
        Parameters=[
            {"ParameterKey": "BucketName", "ParameterValue": name},
            {"ParameterKey": "S3Prefix", "ParameterValue": "infra-e2e"},
            {"ParameterKey": "JobNamePrefix", "ParameterValue": f"{name}-"},
            {"ParameterKey": "GitHubRepository", "ParameterValue": "example/glue-pipes-project"},
        ],
        Capabilities=["CAPABILITY_IAM"],
    )
    cloudformation.get_waiter("stack_create_complete").wait(StackName=name, WaiterConfig={"Delay": 1})
    return name


# moto's known gaps, asserted on the template instead (test_template_holds_what_moto_ignores).
@pytest.mark.filterwarnings("ignore:Tried to parse AWS.+ not supported by moto:UserWarning")
def test_stack_outputs_deploy_and_materialize_in_aws_mode(local_aws, stack, monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)  # no .env from the checkout
    for key, value in local_aws.credentials.environment().items():
        monkeypatch.setenv(key, value)

    assert (
        cli.main(["infra", "env", "--stack", stack, "--region", "us-east-1", "--endpoint-url", local_aws.endpoint_url])
        == 0
    )
    lines = capsys.readouterr().out.splitlines()
    env = dict(line.split("=", 1) for line in lines)
    assert env["GLUE_PIPES_MODE"] == "aws"
    assert env["GLUE_PIPES_BUCKET"] == stack
    assert env["GLUE_PIPES_ROLE_ARN"].startswith("arn:aws:iam::123456789012:role/")
    assert env["GLUE_PIPES_S3_PREFIX"] == "infra-e2e"
    assert env["GLUE_PIPES_JOB_PREFIX"] == f"{stack}-"
    assert env["GLUE_PIPES_REGION"] == "us-east-1"
    assert {"GLUE_PIPES_CI_CHECK_ROLE_ARN", "GLUE_PIPES_CI_DEPLOY_ROLE_ARN", "GLUE_PIPES_RUNTIME_POLICY_ARN"} <= set(
        env
    )

    # What a user puts in .env: the printed lines, plus (here only) the endpoint standing in for AWS.
    (tmp_path / ".env").write_text("\n".join([*lines, f"GLUE_PIPES_ENDPOINT_URL={local_aws.endpoint_url}"]) + "\n")
    assert cli.main(["deploy"]) == 0
    assert "create" in capsys.readouterr().out

    settings = Settings.from_env({**env, "GLUE_PIPES_ENDPOINT_URL": local_aws.endpoint_url})
    assert settings.mode == "aws" and settings.environment == "prod"
    result = dg.materialize(
        [glue_pipes_s3_asset],
        resources={"glue_pipes_s3_client": GluePipesClientResource(settings=settings, message_reader="s3")},
        instance=shared_instance(),
    )
    assert result.success

    # The Glue job role writes only under the messages prefix; the context object is gone after the run.
    naming = Naming.from_settings(settings)
    keys = [o["Key"] for o in local_aws.client("s3").list_objects_v2(Bucket=stack).get("Contents", [])]
    pipes_keys = [key for key in keys if "/artifacts/" not in key]
    assert pipes_keys and all(key.startswith(naming.pipes_messages_prefix) for key in pipes_keys), pipes_keys
    assert all(key.startswith("infra-e2e/prod/artifacts/") for key in keys if key not in pipes_keys)

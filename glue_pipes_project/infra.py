"""``glue-pipes infra``: the AWS account set-up in infra/glue-pipes.yaml, as plain JSON and as settings.

``render-policies`` writes every IAM policy of the template to infra/policies/ with its parameters
replaced by placeholders (the one source stays the template); ``env --stack NAME`` prints a deployed
stack's outputs as ``.env`` lines (OUTPUT_SETTINGS).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

INFRA_DIR = Path(__file__).resolve().parent.parent / "infra"
TEMPLATE = INFRA_DIR / "glue-pipes.yaml"
POLICIES_DIR = INFRA_DIR / "policies"

# What each parameter, pseudo parameter or resource reference becomes in the plain JSON policies.
PLACEHOLDERS = {
    "AWS::Partition": "aws",
    "AWS::Region": "<REGION>",
    "AWS::AccountId": "<ACCOUNT_ID>",
    "Bucket": "<BUCKET>",
    "Bucket.Arn": "arn:aws:s3:::<BUCKET>",
    "S3Prefix": "<S3_PREFIX>",
    "JobNamePrefix": "<JOB_NAME_PREFIX>",
    "CatalogDatabasePrefix": "<CATALOG_DATABASE_PREFIX>",
    "GitHubRepository": "<OWNER>/<REPO>",
    "GitHubOidcProvider": "arn:aws:iam::<ACCOUNT_ID>:oidc-provider/token.actions.githubusercontent.com",
    "GitHubOidcProviderArn": "arn:aws:iam::<ACCOUNT_ID>:oidc-provider/token.actions.githubusercontent.com",
    "GlueJobRole.Arn": "arn:aws:iam::<ACCOUNT_ID>:role/<GLUE_JOB_ROLE_NAME>",
}
# Each template output and the setting it fills (its description there starts with the same name).
OUTPUT_SETTINGS = {
    "Bucket": "GLUE_PIPES_BUCKET",
    "GlueJobRoleArn": "GLUE_PIPES_ROLE_ARN",
    "S3Prefix": "GLUE_PIPES_S3_PREFIX",
    "JobNamePrefix": "GLUE_PIPES_JOB_PREFIX",
    "Region": "GLUE_PIPES_REGION",
    "CiCheckRoleArn": "GLUE_PIPES_CI_CHECK_ROLE_ARN",
    "CiDeployRoleArn": "GLUE_PIPES_CI_DEPLOY_ROLE_ARN",
    "RuntimePolicyArn": "GLUE_PIPES_RUNTIME_POLICY_ARN",
}
# Values of the right form for the placeholders a linter checks the form of (parliament: ARNs).
EXAMPLE_VALUES = {"<REGION>": "us-east-1", "<ACCOUNT_ID>": "123456789012"}
_SUB = re.compile(r"\$\{([^}]+)\}")


class _CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation's short tags (``!Sub x``) as their long form (``{"Fn::Sub": x}``)."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {"Ref" if suffix == "Ref" else f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _intrinsic)


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    return dict(yaml.load(path.read_text(), Loader=_CfnLoader))  # noqa: S506  # a SafeLoader subclass


def policy_documents(template: dict[str, Any]) -> dict[str, Any]:
    """``{file name: document}``: each managed policy, and each role's trust policy, placeholders in."""
    documents: dict[str, Any] = {}
    for name, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::IAM::ManagedPolicy":
            documents[f"{_kebab(name)}.json"] = _render(properties["PolicyDocument"])
        elif resource["Type"] == "AWS::IAM::Role":
            documents[f"{_kebab(name)}-trust.json"] = _render(properties["AssumeRolePolicyDocument"])
    return documents


def render_policies(directory: Path = POLICIES_DIR, template: Path = TEMPLATE, *, example: bool = False) -> list[Path]:
    """Write infra/policies/*.json afresh (stale files removed), returning the files written.

    ``example`` fills the placeholders of ``EXAMPLE_VALUES`` in, for linters that check an ARN's form.
    """
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.json"):
        stale.unlink()
    written = []
    for name, document in policy_documents(load_template(template)).items():
        path = directory / name
        text = json.dumps(document, indent=2) + "\n"
        for placeholder, value in EXAMPLE_VALUES.items() if example else ():
            text = text.replace(placeholder, value)
        path.write_text(text)
        written.append(path)
    return written


def stack_env(outputs: list[dict[str, str]]) -> list[str]:
    """``NAME=value`` for each stack output the template declares (OUTPUT_SETTINGS), in that order."""
    values = {output["OutputKey"]: output["OutputValue"] for output in outputs}
    missing = sorted(set(OUTPUT_SETTINGS) - set(values))
    if missing:
        raise ValueError(f"the stack has no output {', '.join(missing)}: is it from infra/glue-pipes.yaml?")
    return [f"{name}={values[key]}" for key, name in OUTPUT_SETTINGS.items()]


def _render(value: Any) -> Any:
    if isinstance(value, list):
        return [_render(item) for item in value]
    if not isinstance(value, dict):
        return value
    if "Ref" in value:
        return _placeholder(value["Ref"])
    if "Fn::GetAtt" in value:
        return _placeholder(".".join(value["Fn::GetAtt"]))
    if "Fn::Sub" in value:
        return _SUB.sub(lambda match: _placeholder(match[1]), value["Fn::Sub"])
    if "Fn::If" in value:
        # Both branches must render alike (e.g. a created or an existing OIDC provider's ARN).
        _, *branches = value["Fn::If"]
        rendered = {json.dumps(_render(branch)) for branch in branches}
        if len(rendered) != 1:
            raise ValueError(f"Fn::If branches render differently: {sorted(rendered)}")
        return json.loads(rendered.pop())
    return {key: _render(item) for key, item in value.items()}


def _placeholder(name: str) -> str:
    if name not in PLACEHOLDERS:
        raise ValueError(f"no placeholder for {name!r}: add it to glue_pipes_project/infra.py PLACEHOLDERS")
    return PLACEHOLDERS[name]


def _kebab(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", name).lower()


# -- the command line ------------------------------------------------------------------------------


def add_parser(commands: Any) -> None:
    """``glue-pipes infra ...``, added to the ``glue-pipes`` parser's subcommands."""
    infra = commands.add_parser("infra", help="the AWS set-up in infra/: render its policies, print a stack's settings")
    actions = infra.add_subparsers(dest="infra_command", required=True)
    render = actions.add_parser(
        "render-policies", help="write infra/policies/*.json from infra/glue-pipes.yaml (placeholders for parameters)"
    )
    render.add_argument("--output", type=Path, default=POLICIES_DIR, help="directory (default: infra/policies)")
    render.add_argument(
        "--example", action="store_true", help="fill <REGION> and <ACCOUNT_ID> with example values (for linters)"
    )
    render.set_defaults(handler=_render_command)
    env = actions.add_parser("env", help="print a deployed stack's outputs as .env lines (GLUE_PIPES_*=...)")
    env.add_argument("--stack", required=True, help="the CloudFormation stack's name or id")
    env.add_argument("--region", help="the stack's region (default: the AWS CLI's)")
    env.add_argument("--endpoint-url", help="a CloudFormation endpoint other than AWS's (e.g. the local one)")
    env.set_defaults(handler=_env_command)


def _render_command(args: argparse.Namespace) -> int:
    for path in render_policies(args.output, example=args.example):
        print(path)
    return 0


def _env_command(args: argparse.Namespace) -> int:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        # A session of its own: the credentials of the environment now, not those a default session cached.
        session = boto3.session.Session(region_name=args.region)
        client = session.client("cloudformation", endpoint_url=args.endpoint_url)
        (stack,) = client.describe_stacks(StackName=args.stack)["Stacks"]
    except (BotoCoreError, ClientError) as exc:
        print(f"glue-pipes: cannot read stack {args.stack!r}: {exc}", file=sys.stderr)
        return 1
    if not stack["StackStatus"].endswith("_COMPLETE") or "ROLLBACK" in stack["StackStatus"]:
        print(f"glue-pipes: stack {args.stack!r} is {stack['StackStatus']}", file=sys.stderr)
        return 1
    print("GLUE_PIPES_MODE=aws")
    try:
        lines = stack_env(stack.get("Outputs", []))
    except ValueError as exc:
        print(f"glue-pipes: stack {args.stack!r}: {exc}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0

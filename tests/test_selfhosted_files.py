"""deploy/self-hosted/'s files agree with each other and with the project.

Docker Compose, the images and Helm cannot run here (no Docker engine, no cluster): these checks
catch what would break them silently: a variable dagster.yaml reads that compose never sets, a
network or volume name that differs, Helm limits that drifted from dagster.yaml, a Dockerfile COPY
that its ignore file excludes, image versions that left uv.lock. tests/test_selfhosted.py loads the
instance configs and runs the topology for real.
"""

import re
import shlex
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SELF_HOSTED = ROOT / "deploy" / "self-hosted"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
MODULE = PYPROJECT["tool"]["dagster"]["module_name"]
LOCATION = PYPROJECT["tool"]["dagster"]["code_location_name"]


def load(relative: str) -> Any:
    return yaml.safe_load((SELF_HOSTED / relative).read_text())


def env_references(node: Any) -> Iterator[str]:
    """Every `{env: NAME}` in a dagster.yaml or workspace.yaml."""
    if isinstance(node, dict):
        if set(node) == {"env"}:
            yield node["env"]
        for value in node.values():
            yield from env_references(value)
    elif isinstance(node, list):
        for value in node:
            yield from env_references(value)


def dockerfile_instructions() -> list[str]:
    """The Dockerfile's instructions, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", (SELF_HOSTED / "Dockerfile").read_text())
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


@pytest.mark.parametrize("variant", ["dagster.yaml", "ecs/dagster.yaml"])
def test_instance_configs_hold_no_credentials(variant):
    postgres_db = load(variant)["storage"]["postgres"]["postgres_db"]
    assert postgres_db["scheme"] == "postgresql+psycopg2"
    for field in ("hostname", "port", "db_name", "username", "password"):
        assert set(postgres_db[field]) == {"env"}, f"{variant}: postgres_db.{field} must come from `env:`"


def test_compose_gives_every_dagster_process_what_the_instance_and_workspace_read():
    compose = load("docker-compose.yml")
    services = compose["services"]
    instance = load("dagster.yaml")
    launcher = instance["run_launcher"]["config"]
    dagster_env = services["daemon"]["environment"]
    assert services["webserver"]["environment"] == dagster_env
    assert services["user_code"]["environment"].items() >= dagster_env.items()

    # The image sets the workspace's address; compose sets everything dagster.yaml reads.
    image_env = dict(
        re.findall(r"(\w+)=(\S+)", next(line for line in dockerfile_instructions() if line.startswith("ENV ")))
    )
    workspace_env = set(env_references(load("workspace.yaml")))
    assert workspace_env <= set(image_env)
    assert set(env_references(instance)) <= set(dagster_env)
    # The daemon copies these into each run container: it must have every one.
    assert set(launcher["env_vars"]) <= set(dagster_env)

    user_code = services["user_code"]
    assert image_env["DAGSTER_CODE_SERVER_HOST"] == "user_code"
    assert user_code["entrypoint"] == [
        *("dagster", "api", "grpc", "-h", "0.0.0.0", "-p", image_env["DAGSTER_CODE_SERVER_PORT"]),
        *("-m", MODULE),
    ]
    assert image_env["DAGSTER_CODE_SERVER_PORT"] in user_code["healthcheck"]["test"]
    assert user_code["environment"]["DAGSTER_CURRENT_IMAGE"] == user_code["image"]
    # Run containers load the instance: Postgres storage and the Docker launcher, from the selfhosted group.
    assert user_code["build"]["args"] == {"EXTRA_GROUPS": "selfhosted"}
    selfhosted = {re.split(r"[=<>~]", spec)[0] for spec in PYPROJECT["dependency-groups"]["selfhosted"]}
    assert {"dagster-postgres", "dagster-docker"} <= selfhosted
    # The code location's image is the repository's production Dockerfile.
    assert (SELF_HOSTED / user_code["build"]["context"]).resolve() / user_code["build"]["dockerfile"] == (
        ROOT / "Dockerfile"
    )
    assert load("workspace.yaml")["load_from"][0]["grpc_server"]["location_name"] == LOCATION

    # Run containers join the compose network and mount the storage volume, by name.
    assert launcher["network"] == compose["networks"]["dagster"]["name"]
    (volume,) = launcher["container_kwargs"]["volumes"]
    assert volume == f"{compose['volumes']['storage']['name']}:{dagster_env['DAGSTER_STORAGE_DIR']}"
    for name in ("webserver", "daemon"):
        assert f"storage:{dagster_env['DAGSTER_STORAGE_DIR']}" in services[name]["volumes"]
        assert services[name]["depends_on"] == {
            "postgres": {"condition": "service_healthy"},
            "user_code": {"condition": "service_healthy"},
        }
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])


def test_webserver_image_copies_only_what_its_ignore_file_lets_in():
    allowed = {
        line[1:] for line in (SELF_HOSTED / "Dockerfile.dockerignore").read_text().splitlines() if line.startswith("!")
    }
    copied = set()
    for line in dockerfile_instructions():
        words = shlex.split(line)
        if words[0] == "COPY" and not any(word.startswith("--from=") for word in words):
            copied.update(word.replace("${INSTANCE_CONFIG}", "deploy/self-hosted/dagster.yaml") for word in words[1:-1])
    assert copied == allowed - {"deploy/self-hosted/ecs/dagster.yaml"}  # the ECS build's INSTANCE_CONFIG
    assert "--build-arg INSTANCE_CONFIG=deploy/self-hosted/ecs/dagster.yaml" in (SELF_HOSTED / "Dockerfile").read_text()


def test_webserver_image_installs_the_locked_versions(tmp_path):
    """Replays the image's constraints step with the Makefile's uv: everything requirements.txt names
    is pinned to uv.lock's version."""
    instructions = dockerfile_instructions()
    uv_version = re.search(r"^UV_VERSION := (\S+)$", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert uv_version is not None
    assert f"RUN pip install --no-cache-dir uv=={uv_version.group(1)}" in instructions
    export = shlex.split(next(line for line in instructions if line.startswith("RUN uv export")))[1:]
    for name in ("pyproject.toml", "uv.lock"):
        (tmp_path / name).write_bytes((ROOT / name).read_bytes())
    constraints = tmp_path / "constraints.txt"
    arguments = [str(ROOT / ".tools" / "bin" / "uv"), *export[1:]]
    arguments[arguments.index("/tmp/constraints.txt")] = str(constraints)
    subprocess.run(arguments, cwd=tmp_path, check=True, capture_output=True)

    pinned = dict(re.findall(r"^([\w.-]+)==([^\s;]+)", constraints.read_text(), re.MULTILINE))
    locked = {
        package["name"]: package.get("version") for package in tomllib.loads((ROOT / "uv.lock").read_text())["package"]
    }
    requirements = [
        line for line in (SELF_HOSTED / "requirements.txt").read_text().splitlines() if line and line[0] not in "#-"
    ]
    assert "-c /tmp/constraints.txt" in (SELF_HOSTED / "requirements.txt").read_text()
    assert requirements
    for name in requirements:
        assert pinned.get(name) == locked[name], f"{name} is not pinned to uv.lock's version"


def test_helm_values_match_the_instance_and_name_a_service_account_role():
    values = load("helm/values.yaml")
    instance = load("dagster.yaml")
    user_deployments = values["dagster-user-deployments"]
    (deployment,) = user_deployments["deployments"]
    assert deployment["dagsterApiGrpcArgs"] == ["-m", MODULE]
    assert deployment["includeConfigInLaunchedRuns"] == {"enabled": True}
    assert {"GLUE_PIPES_MODE", "GLUE_PIPES_BUCKET", "GLUE_PIPES_ROLE_ARN", "GLUE_PIPES_REGION"} == {
        variable["name"] for variable in deployment["env"]
    }
    # The code server's and the run pods' service account: IRSA's annotation, a placeholder role.
    account = user_deployments["serviceAccount"]
    assert account["create"] is True and account["name"]
    assert re.fullmatch(r"arn:aws:iam::<ACCOUNT_ID>:role/<\w+>", account["annotations"]["eks.amazonaws.com/role-arn"])

    # Postgres: psycopg2, and the password from a Secret the chart does not make.
    assert values["postgresql"]["postgresqlScheme"] == instance["storage"]["postgres"]["postgres_db"]["scheme"]
    assert "postgresqlPassword" not in values["postgresql"]
    assert values["generatePostgresqlPasswordSecret"] is False

    # The same queue, run monitoring and retention as dagster.yaml, in the chart's camelCase.
    queue = values["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]
    coordinator = instance["run_coordinator"]["config"]
    assert queue == {
        "maxConcurrentRuns": coordinator["max_concurrent_runs"],
        "tagConcurrencyLimits": coordinator["tag_concurrency_limits"],
    }
    monitoring = values["dagsterDaemon"]["runMonitoring"]
    assert {_snake(key): value for key, value in monitoring.items()} == instance["run_monitoring"]
    retention = {
        kind: {"purge_after_days": settings["purgeAfterDays"]}
        for kind, settings in values["retention"].items()
        if kind != "enabled"
    }
    assert retention == instance["retention"]


def _snake(camel: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", camel).lower()

"""The production artifacts as they are built: the wheel, the Hybrid image and the Serverless PEX's dependencies.

No Docker engine runs here, so the image is the Dockerfile's own steps replayed (its COPYs from the build
context .dockerignore leaves, its `uv sync` lines, its RUN checks), then served with its CMD and checked
with its HEALTHCHECK. None of the three holds the local endpoint, moto, pyspark or a dev tool; all hold
dagster-cloud. The source keeps the same boundary: `glue_pipes_project` reaches the endpoint only through
`aws.py`, and the endpoint's package knows nothing of `glue_pipes_project`.
"""

import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tomllib
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from docker.utils.build import exclude_paths
from filelock import FileLock
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from glue_pipes_project.aws import EMULATOR_MISSING
from glue_pipes_project.settings import Settings
from tests.dockerfile import Dockerfile
from tests.helpers import wait_until

# One worker runs the whole module: its session-scoped set-up is costly, once is enough.
pytestmark = pytest.mark.xdist_group("wheel")

ROOT = Path(__file__).resolve().parent.parent
UV = ROOT / ".tools" / "bin" / "uv"
DOCKERFILE = Dockerfile.read(ROOT / "Dockerfile")
EXAMPLES = ROOT / "deploy" / "dagster-plus"
EMULATOR = ROOT / "packages" / "glue-pipes-local-aws" / "glue_pipes_local_aws"
MOTO_IMPORT = re.compile(r"^\s*(?:import|from)\s+moto\b", re.MULTILINE)
# What no production artifact may hold: the local endpoint, what it runs on, and every dev tool.
NOT_IN_PRODUCTION = {"glue-pipes-local-aws", "moto", "pyspark"} | {
    canonicalize_name(Requirement(line).name)
    for line in tomllib.loads((ROOT / "pyproject.toml").read_text())["dependency-groups"]["dev"]
}
# AWS mode, with an endpoint nobody listens on: a load that made an AWS call would fail, never reach AWS.
AWS_MODE = {
    "GLUE_PIPES_MODE": "aws",
    "GLUE_PIPES_BUCKET": "example-glue-pipes-bucket",
    "GLUE_PIPES_ROLE_ARN": "arn:aws:iam::123456789012:role/example-glue-role",
    "GLUE_PIPES_REGION": "eu-west-1",
    "GLUE_PIPES_ENDPOINT_URL": "http://127.0.0.1:9",
    "AWS_ACCESS_KEY_ID": "not-a-key",
    "AWS_SECRET_ACCESS_KEY": "not-a-secret",
    "AWS_EC2_METADATA_DISABLED": "true",
}
# The image compiles all of site-packages at build. The replay compiles each module once, when a process
# first imports it (host_env drops PYTHONDONTWRITEBYTECODE): the same bytecode at run time, without the
# 10 s of compiling modules nothing imports.
NOT_REPLAYED_ENV = {"UV_COMPILE_BYTECODE"}


def host_env() -> dict[str, str]:
    """This process's environment minus whatever would steer the code location, uv or the venv, or bytecode caching.

    No DAGSTER_HOME either: the image sets none, so each Dagster CLI uses a temporary instance of its own
    (processes creating one SQLite instance side by side in a fresh DAGSTER_HOME can break it for the
    tests that use it next).
    """
    keep_cache = {"UV_CACHE_DIR": os.environ["UV_CACHE_DIR"]} if "UV_CACHE_DIR" in os.environ else {}
    prefixes = ("GLUE_PIPES_", "DAGSTER_CLOUD_", "AWS_", "UV_")
    dropped = ("VIRTUAL_ENV", "PYTHONPATH", "DAGSTER_HOME", "PYTHONDONTWRITEBYTECODE")
    return {k: v for k, v in os.environ.items() if not k.startswith(prefixes) and k not in dropped} | keep_cache


def uv(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None) -> str:
    """From the uv cache when it holds everything (offline, fast), else from the package index."""
    base = (env or host_env()) | {"UV_PYTHON_DOWNLOADS": "never"}
    for offline in (True, False):
        done = subprocess.run(
            [str(UV), *args],
            cwd=cwd,
            env=base | {"UV_OFFLINE": "1"} if offline else base,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode == 0:
            return done.stdout
    raise AssertionError(f"uv {' '.join(args)} failed:\n{done.stderr}")


def expanded(arguments: str, env: dict[str, str]) -> list[str]:
    """A RUN line's words after the shell's parameter expansion (``${EXTRA_GROUPS:+...}``), as in the build."""
    done = subprocess.run(
        ["bash", "-c", f"printf '%s\\0' {arguments}"], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.split("\0")[:-1]


@dataclass(frozen=True)
class Image:
    venv: str
    workdir: str  # the image's WORKDIR: holds nothing but the venv, outside the checkout
    env: dict[str, str]  # the runtime stage's environment (PATH leads to the venv)
    run_outputs: list[str]  # what the runtime stage's RUN checks printed

    @property
    def site_packages(self) -> Path:
        return Path(self.venv) / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"

    def distributions(self) -> dict[str, metadata.Distribution]:
        found = metadata.distributions(path=[str(self.site_packages)])
        return {canonicalize_name(dist.metadata["Name"]): dist for dist in found}


def build_image(out: Path) -> Image:
    """Replays the Dockerfile's builder and runtime stages, with `out/fs` standing in for the image's root."""
    context, fs = out / "context", out / "fs"
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()]
    for name in exclude_paths(str(ROOT), [p for p in patterns if p and not p.startswith("#")]):
        if (ROOT / name).is_file():
            (context / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, context / name)

    def inside(value: str, env: dict[str, str]) -> str:
        """An image path (or PATH-like list) mapped under fs; `$NAME` expanded."""
        parts = value.split(":")
        return ":".join(
            env.get(p[1:], "") if p.startswith("$") else str(fs) + p if p.startswith("/") else p for p in parts
        )

    run_outputs = []
    for stage in (DOCKERFILE.stage("builder"), DOCKERFILE.final):
        env = host_env()
        workdir = fs
        for keyword, arguments in stage.instructions:
            words = expanded(arguments, env) if keyword == "RUN" else shlex.split(arguments)
            if keyword == "ARG":  # the replay builds with every build argument's default
                name, _, default = arguments.partition("=")
                env[name] = shlex.split(default)[0] if default.strip() else ""
            elif keyword == "ENV":
                names_values = (word.partition("=")[::2] for word in words)
                env |= {name: inside(value, env) for name, value in names_values if name not in NOT_REPLAYED_ENV}
            elif keyword == "WORKDIR":
                workdir = Path(inside(arguments, env))
                workdir.mkdir(parents=True, exist_ok=True)
            elif keyword == "COPY":
                flags = [word for word in words if word.startswith("--")]
                *sources, dest = [word for word in words if not word.startswith("--")]
                if flags == ["--from=uv"]:
                    continue  # uv itself: .tools/bin/uv is the same version (tested below)
                if flags == ["--from=builder"]:
                    # Same path, same filesystem: the venv's scripts name their python by absolute path.
                    assert sources == [dest] and Path(inside(dest, env)).exists(), arguments
                    continue
                assert not flags, f"the replay knows no COPY {flags}"
                target = Path(inside(dest, env)) if dest.startswith("/") else workdir / dest
                for source in sources:
                    found = context / source
                    assert found.exists(), f"COPY {source}: not in the build context (.dockerignore?)"
                    if found.is_dir():
                        shutil.copytree(found, target, dirs_exist_ok=True)
                    else:
                        into = target / found.name if dest.endswith("/") or len(sources) > 1 else target
                        into.parent.mkdir(parents=True, exist_ok=True)
                        shutil.copy2(found, into)
            elif keyword == "RUN":
                while words[0].startswith("--"):
                    assert words.pop(0).startswith("--mount=type=cache,"), arguments  # a cache changes nothing built
                if words[0] == "uv":
                    # The interpreter running these tests stands in for the image's (same minor version: tested).
                    uv(*words[1:], cwd=workdir, env=env | {"UV_PYTHON": sys.executable})
                elif words[0] != "useradd":  # the image's user: root-only here, and installs nothing
                    executable = shutil.which(words[0], path=env["PATH"])
                    done = subprocess.run(
                        [str(executable), *words[1:]], cwd=workdir, env=env, capture_output=True, text=True, timeout=120
                    )
                    assert done.returncode == 0, f"RUN {arguments}: {done.stdout}{done.stderr}"
                    run_outputs.append(done.stdout)
            else:
                assert keyword in ("USER", "EXPOSE", "HEALTHCHECK", "CMD"), f"the replay does not know {keyword}"
        if stage.name == "builder":
            venv = env["UV_PROJECT_ENVIRONMENT"]
    return Image(venv=venv, workdir=str(workdir), env=env, run_outputs=run_outputs)


@pytest.fixture(scope="session")
def image(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Image:
    """Built once per test session; pytest-xdist's workers share it through their common temp directory."""
    if worker_id == "master":
        return build_image(tmp_path_factory.mktemp("image"))
    shared = tmp_path_factory.getbasetemp().parent
    with FileLock(shared / "image.lock"):
        built = shared / "image.json"
        if not built.is_file():
            built.write_text(json.dumps(build_image(shared / "image").__dict__))
        return Image(**json.loads(built.read_text()))


@pytest.fixture(scope="session")  # lives on the worker: a module fixture is rebuilt when xdist interleaves modules
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    uv("build", "--wheel", "--out-dir", str(out))
    (built,) = out.glob("glue_pipes_project-*.whl")
    return built


def test_the_wheel_holds_no_local_endpoint_and_needs_no_moto(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        sources = {name: archive.read(name).decode() for name in names if name.endswith(".py")}
        (metadata_text,) = (archive.read(name).decode() for name in names if name.endswith(".dist-info/METADATA"))
    assert "glue_pipes_project/definitions.py" in names and "glue_pipes_project/glue_jobs/jobs.yaml" in names
    assert [name for name in names if "local_aws" in name or "moto" in name] == []
    assert [name for name, text in sources.items() if MOTO_IMPORT.search(text)] == []
    requirements = [line for line in metadata_text.splitlines() if line.startswith("Requires-Dist:")]
    assert requirements and not [line for line in requirements if "moto" in line or "local-aws" in line]


def test_the_image_builds_with_the_uv_and_python_this_replay_uses() -> None:
    uv_version = subprocess.run([str(UV), "--version"], capture_output=True, text=True, check=True).stdout.split()[1]
    assert DOCKERFILE.stage("uv").image == f"ghcr.io/astral-sh/uv:{uv_version}"  # the uv that wrote uv.lock
    # The venv's python is a symlink to the builder's interpreter: the runtime stage must have the same one.
    assert DOCKERFILE.stage("builder").image == DOCKERFILE.final.image == "python:${PYTHON_TAG}"
    python = re.fullmatch(r"(\d+)\.(\d+)\.\d+-slim-\w+", DOCKERFILE.args["PYTHON_TAG"])
    assert python and (int(python[1]), int(python[2])) == sys.version_info[:2]


def test_the_image_holds_the_locked_production_set_and_the_project_as_a_wheel(image: Image) -> None:
    installed = image.distributions()
    project = installed.pop("glue-pipes-project")
    assert not json.loads(project.read_text("direct_url.json") or "{}").get("dir_info", {}).get("editable")
    bundled = image.site_packages / "glue_pipes_project" / "glue_jobs" / "jobs.yaml"
    assert bundled.read_bytes() == (ROOT / "glue_jobs" / "jobs.yaml").read_bytes()
    assert installed["dagster-cloud"].version == installed["dagster"].version
    assert image.run_outputs == [f"Dagster Cloud version: {installed['dagster-cloud'].version}\n"]
    assert NOT_IN_PRODUCTION & installed.keys() == set()

    # The lock's production export, with the image's last `uv sync` flags: exactly what the image holds.
    (*_, last_sync) = (run for run in DOCKERFILE.stage("builder").arguments("RUN") if " uv sync " in f" {run} ")
    words = expanded(last_sync, {"EXTRA_GROUPS": ""})
    flags = words[words.index("sync") + 1 :]
    # The self-hosted build argument adds its group, and only that.
    with_group = expanded(last_sync, {"EXTRA_GROUPS": "selfhosted"})
    assert [word for word in with_group if word not in words] == ["--group=selfhosted"]
    exported = uv("export", *flags, "--no-hashes", "--no-emit-project", "-q", env=host_env())
    requirements = [Requirement(line) for line in exported.splitlines() if line and not line.startswith(("#", " "))]
    locked = {canonicalize_name(r.name): str(r.specifier) for r in requirements if not r.marker or r.marker.evaluate()}
    assert locked == {name: f"=={dist.version}" for name, dist in installed.items()}


def test_the_serverless_pex_gets_dagster_cloud_and_nothing_local_or_dev(image: Image) -> None:
    from dagster_cloud_cli.core.pex_builder.deps import get_deps_requirements

    # dagster-cloud's own reader, as `dagster-cloud serverless deploy-python-executable` builds deps.pex:
    # [project].dependencies plus every optional-dependencies group, never uv.lock or dependency groups.
    local_packages, deps = get_deps_requirements(str(ROOT), Version("3.11"))
    requirements = {canonicalize_name(r.name): r for r in map(Requirement, deps.requirements_txt.splitlines())}
    assert local_packages.local_package_paths == []  # nothing under packages/ goes into the source pex
    assert requirements["dagster-cloud"].specifier == requirements["dagster"].specifier
    assert NOT_IN_PRODUCTION & requirements.keys() == set()
    # All of them in the image's locked production set, so what they pull in is production-only too.
    assert requirements.keys() <= image.distributions().keys()


def test_the_image_loads_in_aws_mode_without_moto_and_local_mode_says_what_is_missing(
    image: Image, tmp_path: Path
) -> None:
    where = "import importlib.util as u, glue_pipes_project; print(u.find_spec('moto'), glue_pipes_project.__file__)"
    commands = {  # each a few seconds of imports: run side by side, from a directory outside the checkout
        "where": (["python", "-c", where], image.env),
        "validate": (
            ["dagster", "definitions", "validate", "-m", "glue_pipes_project.definitions"],
            image.env | AWS_MODE,
        ),
        "deploy": (["glue-pipes", "deploy"], image.env),
        "local-aws": (["glue-pipes", "local-aws", "status"], image.env),
    }
    running = {
        name: subprocess.Popen(
            [str(shutil.which(argv[0], path=env["PATH"])), *argv[1:]],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, (argv, env) in commands.items()
    }
    done = {name: (*process.communicate(timeout=300), process.returncode) for name, process in running.items()}

    out, err, code = done["where"]
    assert code == 0, err
    moto, imported_from = out.split()
    assert moto == "None" and Path(imported_from).is_relative_to(image.site_packages)  # not the checkout's code
    out, err, code = done["validate"]
    assert code == 0, out + err
    assert "Validation successful for code location glue_pipes_project.definitions" in out + err
    # Local mode (the default here) without the endpoint: one line saying how to get it, no traceback.
    assert done["deploy"][1:] == (f"error: {EMULATOR_MISSING}\n", 1)
    assert done["local-aws"][1:] == (f"glue-pipes: {EMULATOR_MISSING}\n", 1)


RESOURCE_QUERY = """{ topLevelResourceDetailsOrError(resourceSelector: {repositoryLocationName: "image",
  repositoryName: "__repository__", resourceName: "glue_pipes_client"}) {
  ... on ResourceDetails { configuredValues { key value } } ... on Error { message } } }"""


def test_the_image_serves_the_code_location_with_jobs_yaml_from_the_installed_package(
    image: Image, tmp_path: Path
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    (exposed,) = DOCKERFILE.final.arguments("EXPOSE")

    def here(argv: list[str]) -> list[str]:  # the image's port → a free one; all interfaces → loopback
        argv = [port if word == exposed else "127.0.0.1" if word == "0.0.0.0" else word for word in argv]
        return [str(shutil.which(argv[0], path=image.env["PATH"])), *argv[1:]]

    log = tmp_path / "server.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            here(DOCKERFILE.final.exec_form("CMD")), cwd=image.workdir, env=image.env | AWS_MODE, stdout=out, stderr=out
        )
    running: dict[str, subprocess.Popen] = {}
    try:

        def listening() -> bool:
            assert server.poll() is None, f"the code server exited:\n{log.read_text()}"
            with socket.socket() as client:
                return client.connect_ex(("127.0.0.1", int(port))) == 0

        wait_until(listening, timeout=300, what="the code server to listen")
        # What the UI shows for the resource the Glue assets use, read through the server as the UI reads it;
        # side by side with the image's HEALTHCHECK (each is seconds of imports).
        workspace, home = tmp_path / "workspace.yaml", tmp_path / "dagster_home"
        home.mkdir()
        server_entry = {"host": "127.0.0.1", "port": int(port), "location_name": "image"}
        workspace.write_text(yaml.safe_dump({"load_from": [{"grpc_server": server_entry}]}))
        graphql = [str(Path(sys.executable).parent / "dagster-graphql"), "-w", str(workspace), "-t", RESOURCE_QUERY]
        checks = {
            "health": (here(DOCKERFILE.final.exec_form("HEALTHCHECK")), image.workdir, image.env),
            "query": (graphql, tmp_path, host_env() | {"DAGSTER_HOME": str(home)}),  # the CLI needs one
        }
        for name, (argv, cwd, env) in checks.items():
            running[name] = subprocess.Popen(
                argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
        done = {name: (*process.communicate(timeout=300), process.returncode) for name, process in running.items()}
        out, err, code = done["health"]
        assert code == 0, out + err + log.read_text()
        out, err, code = done["query"]
        assert code == 0, out + err
        details = json.loads(out.splitlines()[-1])["data"]["topLevelResourceDetailsOrError"]
        settings = json.loads({item["key"]: item["value"] for item in details["configuredValues"]}["settings"])
    finally:
        for process in (*running.values(), server):
            process.terminate()
            process.wait(timeout=30)
    assert (settings["mode"], settings["bucket"]) == ("aws", AWS_MODE["GLUE_PIPES_BUCKET"])
    assert Path(settings["manifest_path"]) == image.site_packages / "glue_pipes_project" / "glue_jobs" / "jobs.yaml"


def test_the_package_reaches_the_endpoint_only_through_aws_py_and_the_endpoint_never_imports_it() -> None:
    package = ROOT / "glue_pipes_project"
    bridges = sorted(
        str(path.relative_to(package)) for path in package.rglob("*.py") if EMULATOR.name in path.read_text()
    )
    assert bridges == ["aws.py"]
    assert [path.name for path in EMULATOR.rglob("*.py") if package.name in path.read_text()] == []


def filled(text: str) -> str:
    """An example with each <PLACEHOLDER> filled in as a user would: <BUCKET> → bucket, <ACCOUNT_ID> → account-id."""
    return re.sub(r"<([A-Z_]+)>", lambda match: match[1].lower().replace("_", "-"), text)


@pytest.mark.parametrize("platform", ["ecs", "k8s"])
def test_each_container_context_example_is_what_the_agent_accepts_and_sets_the_code_location_up(platform: str) -> None:
    # Imported here: the kubernetes client alone takes seconds, in every pytest-xdist worker.
    from dagster_aws.ecs.container_context import EcsContainerContext
    from dagster_k8s.container_context import K8sContainerContext

    text = (EXAMPLES / f"container_context.{platform}.yaml").read_text()
    config = yaml.safe_load(filled(text))
    # Parsed as the Dagster+ agent parses it: what the code server and the runs get.
    if platform == "ecs":
        ecs = EcsContainerContext.create_from_config(config)
        environments = [dict(variable.split("=", 1) for variable in ecs.env_vars)]
        roles = {ecs.task_role_arn}
    else:
        k8s = K8sContainerContext.create_from_config(config)
        pods = (k8s.server_k8s_config, k8s.run_k8s_config)
        environments = [{item["name"]: item["value"] for item in pod.container_config["env"]} for pod in pods]
        account = yaml.safe_load(filled((EXAMPLES / "service-account.yaml").read_text()))
        assert {pod.pod_spec_config["service_account_name"] for pod in pods} == {account["metadata"]["name"]}
        roles = {account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]}
    assert roles == {"arn:aws:iam::account-id:role/dagster-task-role"}  # an IAM role, no keys
    assert not re.search(r"\b\d{12}\b", text)  # placeholders, never an account id

    known = set(re.findall(r"GLUE_PIPES_[A-Z_]+", (ROOT / "glue_pipes_project" / "settings.py").read_text()))
    for environment in environments:
        assert set(environment) <= known
        full = Settings.from_env(environment | {"DAGSTER_CLOUD_DEPLOYMENT_NAME": "prod"})
        assert (full.mode, full.environment, full.bucket) == ("aws", "prod", "bucket")
        branch = {"DAGSTER_CLOUD_IS_BRANCH_DEPLOYMENT": "1", "DAGSTER_CLOUD_GIT_BRANCH": "feat/x"}
        assert Settings.from_env(environment | branch).environment == "branch"

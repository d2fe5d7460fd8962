"""The production wheel holds no local endpoint and loads in AWS mode where neither it nor moto is installed.

The source keeps the same boundary: `glue_pipes_project` reaches the endpoint only through `aws.py`,
and the endpoint's package knows nothing of `glue_pipes_project`.
"""

import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from glue_pipes_project.aws import EMULATOR_MISSING

# One worker runs the whole module: its module-scoped set-up is costly, once is enough.
pytestmark = pytest.mark.xdist_group("wheel")

ROOT = Path(__file__).resolve().parent.parent
UV = ROOT / ".tools" / "bin" / "uv"
EMULATOR = ROOT / "packages" / "glue-pipes-local-aws" / "glue_pipes_local_aws"
MOTO_IMPORT = re.compile(r"^\s*(?:import|from)\s+moto\b", re.MULTILINE)
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


def uv(*args: str) -> None:
    """From the uv cache when it holds everything (offline, fast), else from the package index."""
    for offline in (True, False):
        env = {k: v for k, v in os.environ.items() if k != "UV_OFFLINE"} | {"UV_PYTHON_DOWNLOADS": "never"}
        done = subprocess.run(
            [str(UV), *args],
            cwd=ROOT,
            env=env | {"UV_OFFLINE": "1"} if offline else env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode == 0:
            return
    raise AssertionError(f"uv {' '.join(args)} failed:\n{done.stderr}")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    uv("build", "--wheel", "--out-dir", str(out))
    (built,) = out.glob("glue_pipes_project-*.whl")
    return built


def test_the_wheel_holds_no_local_endpoint_and_needs_no_moto(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        sources = {name: archive.read(name).decode() for name in names if name.endswith(".py")}
        (metadata,) = (archive.read(name).decode() for name in names if name.endswith(".dist-info/METADATA"))
    assert "glue_pipes_project/definitions.py" in names and "glue_pipes_project/glue_jobs/jobs.yaml" in names
    assert [name for name in names if "local_aws" in name or "moto" in name] == []
    assert [name for name, text in sources.items() if MOTO_IMPORT.search(text)] == []
    requirements = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    assert requirements and not [line for line in requirements if "moto" in line or "local-aws" in line]


def test_the_installed_wheel_loads_in_aws_mode_without_moto_and_local_mode_says_what_is_missing(
    wheel: Path, tmp_path: Path
) -> None:
    venv = tmp_path / "venv"
    constraints = tmp_path / "constraints.txt"  # the locked versions: what the suite tests, and in the uv cache
    uv("export", "--frozen", "--no-dev", "--no-emit-workspace", "--no-hashes", "-q", "-o", str(constraints))
    uv("venv", "-q", str(venv), "--python", sys.executable)
    uv("pip", "install", "-q", "--python", str(venv / "bin" / "python"), "-c", str(constraints), str(wheel))

    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GLUE_PIPES_", "DAGSTER_CLOUD_", "AWS_")) and k not in ("VIRTUAL_ENV", "PYTHONPATH")
    }
    base = {**clean, "PATH": f"{venv / 'bin'}{os.pathsep}{clean['PATH']}"}
    where = "import importlib.util as u, glue_pipes_project; print(u.find_spec('moto'), glue_pipes_project.__file__)"
    commands = {  # each a few seconds of imports: run side by side, from a directory outside the checkout
        "where": (["python", "-c", where], base),
        "validate": (["dagster", "definitions", "validate", "-m", "glue_pipes_project.definitions"], base | AWS_MODE),
        "deploy": (["glue-pipes", "deploy"], base),
        "local-aws": (["glue-pipes", "local-aws", "status"], base),
    }
    running = {
        name: subprocess.Popen(
            [str(venv / "bin" / argv[0]), *argv[1:]],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, (argv, env) in commands.items()
    }
    done = {name: (*process.communicate(timeout=120), process.returncode) for name, process in running.items()}

    out, err, code = done["where"]
    assert code == 0, err
    moto, imported_from = out.split()
    assert moto == "None" and Path(imported_from).is_relative_to(venv)  # the wheel's code, not the checkout's
    out, err, code = done["validate"]
    assert code == 0, out + err
    assert "Validation successful for code location glue_pipes_project.definitions" in out + err
    # Local mode (the default here) without the endpoint: one line saying how to get it, no traceback.
    assert done["deploy"][1:] == (f"error: {EMULATOR_MISSING}\n", 1)
    assert done["local-aws"][1:] == (f"glue-pipes: {EMULATOR_MISSING}\n", 1)


def test_the_package_reaches_the_endpoint_only_through_aws_py_and_the_endpoint_never_imports_it() -> None:
    package = ROOT / "glue_pipes_project"
    bridges = sorted(
        str(path.relative_to(package)) for path in package.rglob("*.py") if EMULATOR.name in path.read_text()
    )
    assert bridges == ["aws.py"]
    assert [path.name for path in EMULATOR.rglob("*.py") if package.name in path.read_text()] == []

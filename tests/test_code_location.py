"""The code location loads the same way through every entry point a user or a deployment uses."""

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.dockerfile import Dockerfile

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def run(*command: str, cwd: Path = ROOT, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("GLUE_PIPES_", "DAGSTER_CLOUD_"))}
    return subprocess.run(
        command,
        cwd=cwd,
        env={**clean, "VIRTUAL_ENV": str(BIN.parent), **env},
        capture_output=True,
        text=True,
        timeout=180,
    )


@pytest.mark.parametrize(
    "command",
    [
        (str(BIN / "dg"), "check", "defs"),
        (str(BIN / "dagster"), "definitions", "validate"),
        (str(BIN / "dagster"), "definitions", "validate", "-w", "workspace.yaml"),
    ],
    ids=["dg-check-defs", "dagster-definitions-validate", "workspace-yaml"],
)
def test_code_location_loads(command):
    completed = run(*command)
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_aws_mode_without_required_settings_fails_the_load_naming_them():
    completed = run(str(BIN / "dagster"), "definitions", "validate", GLUE_PIPES_MODE="aws")
    assert completed.returncode != 0
    assert "GLUE_PIPES_MODE=aws needs these environment variables: GLUE_PIPES_BUCKET, GLUE_PIPES_ROLE_ARN" in (
        completed.stdout + completed.stderr
    )


def test_a_broken_manifest_fails_the_load_naming_file_job_and_field(tmp_path):
    jobs = tmp_path / "glue_jobs"
    shutil.copytree(ROOT / "glue_jobs", jobs)
    (jobs / "jobs.yaml").write_text("jobs:\n  nightly:\n    script: glue_pipes_asset.py\n    timeout_minutes: 99999\n")
    completed = run(str(BIN / "dagster"), "definitions", "validate", GLUE_PIPES_MANIFEST=str(jobs / "jobs.yaml"))
    assert completed.returncode != 0
    assert f"{jobs / 'jobs.yaml'}: job 'nightly', field 'timeout_minutes'" in completed.stdout + completed.stderr


def test_dg_scaffolds_a_new_asset_into_defs_and_lists_it(tmp_path):
    project = tmp_path / "project"
    shutil.copytree(ROOT, project, ignore=shutil.ignore_patterns(".venv", ".tools", ".git", ".dagster_home", "*cache*"))
    scaffold = run(str(BIN / "dg"), "scaffold", "defs", "dagster.asset", "extra.py", cwd=project)
    assert scaffold.returncode == 0, scaffold.stdout + scaffold.stderr
    assert (project / "glue_pipes_project" / "defs" / "extra.py").is_file()
    listed = run(str(BIN / "dg"), "list", "defs", "--json", cwd=project)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    keys = {asset["asset_key"] for asset in json.loads(listed.stdout[listed.stdout.index("{") :])["assets"]}
    assert keys == {
        "extra",
        "glue_pipes_asset",
        "glue_pipes_s3_asset",
        "raw_orders",
        "orders_curated",
        "orders_daily_summary",
    }


def test_dg_lists_the_projects_component_type():
    listed = run(str(BIN / "dg"), "list", "components", "--json")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    summaries = {i["key"]: i["summary"] for i in json.loads(listed.stdout[listed.stdout.index("{") :])["items"]}
    assert summaries["glue_pipes_project.components.glue_jobs.GlueJobsComponent"].startswith("Glue jobs from jobs.yaml")


CODE_VERSIONS = (
    "from glue_pipes_project.definitions import defs\n"
    "d = defs()\n"
    "keys = ('glue_pipes_asset', 'glue_pipes_s3_asset')\n"
    "print({k: d.get_assets_def(k).code_versions_by_key[dg.AssetKey(k)] for k in keys})"
)


def test_changing_a_scripts_bytes_changes_only_its_assets_code_version(tmp_path):
    jobs = tmp_path / "glue_jobs"
    shutil.copytree(ROOT / "glue_jobs", jobs)

    def code_versions() -> dict:
        completed = run(
            sys.executable, "-c", "import dagster as dg\n" + CODE_VERSIONS, GLUE_PIPES_MANIFEST=str(jobs / "jobs.yaml")
        )
        assert completed.returncode == 0, completed.stderr
        return ast.literal_eval(completed.stdout.strip().splitlines()[-1])

    before = code_versions()
    (jobs / "glue_pipes_s3_asset.py").write_bytes((jobs / "glue_pipes_s3_asset.py").read_bytes() + b"\n# changed\n")
    after = code_versions()
    assert after["glue_pipes_asset"] == before["glue_pipes_asset"]
    assert after["glue_pipes_s3_asset"] != before["glue_pipes_s3_asset"]


def test_a_hand_written_asset_naming_a_job_missing_from_jobs_yaml_fails_the_load(tmp_path):
    jobs = tmp_path / "glue_jobs"
    shutil.copytree(ROOT / "glue_jobs", jobs)
    manifest = (jobs / "jobs.yaml").read_text()
    (jobs / "jobs.yaml").write_text("jobs:\n" + manifest[manifest.index("  glue_pipes_s3_asset:") :])
    completed = run(str(BIN / "dagster"), "definitions", "validate", GLUE_PIPES_MANIFEST=str(jobs / "jobs.yaml"))
    assert completed.returncode != 0
    known = "glue_pipes_s3_asset, orders_curated, orders_daily_summary, raw_orders"
    assert f"{jobs / 'jobs.yaml'}: no job 'glue_pipes_asset' (jobs: {known})" in (completed.stdout + completed.stderr)


def test_every_declaration_of_the_code_location_names_the_same_location_and_module():
    import tomllib

    import yaml

    (location,) = yaml.safe_load((ROOT / "dagster_cloud.yaml").read_text())["locations"]
    workspace = yaml.safe_load((ROOT / "workspace.yaml").read_text())["load_from"][0]["python_module"]
    build = yaml.safe_load((ROOT / "build.yaml").read_text())
    serve = Dockerfile.read(ROOT / "Dockerfile").final.exec_form("CMD")
    tool = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]
    names = {
        location["location_name"],
        workspace["location_name"],
        tool["dg"]["project"]["code_location_name"],
        tool["dagster"]["code_location_name"],
    }
    modules = {
        location["code_source"]["module_name"],
        workspace["module_name"],
        tool["dg"]["project"]["code_location_target_module"],
        tool["dagster"]["module_name"],
        serve[serve.index("--module-name") + 1],
    }
    assert names == {"glue_pipes_project"}
    assert modules == {"glue_pipes_project.definitions"}
    # `dg plus deploy` (build.yaml) and `dagster-cloud ci` (dagster_cloud.yaml) build from the same context,
    # which holds the Dockerfile.
    contexts = {(ROOT / build["directory"]).resolve(), (ROOT / location["build"]["directory"]).resolve()}
    assert contexts == {ROOT}

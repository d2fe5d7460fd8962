"""Adding a Glue job is a script plus one jobs.yaml entry: GlueJobsComponent makes it an asset."""

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

from glue_pipes_project import cli
from glue_pipes_project.deploy.artifacts import job_code_versions
from glue_pipes_project.deploy.manifest import load_manifest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

SCRIPT = """\
import sys

import boto3
from dagster_pipes import PipesCliArgsParamsLoader, PipesS3ContextLoader, open_dagster_pipes

args = dict(zip(sys.argv[1::2], sys.argv[2::2]))
with open_dagster_pipes(
    context_loader=PipesS3ContextLoader(client=boto3.client("s3")), params_loader=PipesCliArgsParamsLoader()
) as pipes:
    pipes.log.info("region report for " + args["--region"])
    pipes.report_asset_materialization(metadata={"region": args["--region"], "job": args["--JOB_NAME"]})
"""

ENTRY = """
  region_report:
    description: Orders of one region.
    script: region_report.py
    asset:
      key: reports/region_report
      group: reports
      deps: [glue_pipes_asset]
      owners: ["team:data"]
      run_arguments:
        "--region": emea
"""


def tracked_copy(target: Path) -> Path:
    """The repository as a fresh clone has it: its tracked files (and new ones not yet committed)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():  # a file deleted in the working tree but not yet in the index is gone
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            (target / name).write_bytes(source.read_bytes())
    return target


def test_a_new_script_and_one_jobs_yaml_entry_become_an_asset_that_materializes(
    local_aws, tmp_path, monkeypatch, capsys
):
    project = tracked_copy(tmp_path / "project")
    (project / "glue_jobs" / "region_report.py").write_text(SCRIPT)
    with (project / "glue_jobs" / "jobs.yaml").open("a") as manifest:
        manifest.write(ENTRY)
    for key in list(os.environ):
        if key.startswith(("GLUE_PIPES_", "DAGSTER_CLOUD_")):
            monkeypatch.delenv(key)
    settings = {
        "GLUE_PIPES_ENDPOINT_URL": local_aws.endpoint_url,
        "GLUE_PIPES_JOB_PREFIX": "component-",
        "GLUE_PIPES_S3_PREFIX": "component",
    }
    for key, value in settings.items():
        monkeypatch.setenv(key, value)

    assert cli.main(["deploy", "--json", "--manifest", str(project / "glue_jobs" / "jobs.yaml")]) == 0
    created = {
        i["glue_job_name"] for i in json.loads(capsys.readouterr().out)["jobs"]["items"] if i["action"] == "create"
    }
    assert "component-region_report" in created

    home = tmp_path / "dagster_home"
    home.mkdir()
    materialize = subprocess.run(
        [
            str(BIN / "dagster"),
            *("asset", "materialize", "-m", "glue_pipes_project.definitions", "--select", "reports/region_report"),
            # One process: a step process would load the code location again (seconds each).
            *("--config-json", '{"execution": {"config": {"in_process": {}}}}'),
        ],
        cwd=project,  # the copied project is the one Dagster loads
        env={**os.environ, "VIRTUAL_ENV": str(BIN.parent), "DAGSTER_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert materialize.returncode == 0, materialize.stdout + materialize.stderr

    instance = dg.DagsterInstance.from_config(str(home))
    event = instance.get_latest_materialization_event(dg.AssetKey(["reports", "region_report"]))
    assert event is not None and event.asset_materialization is not None
    metadata = event.asset_materialization.metadata
    assert (metadata["region"].value, metadata["job"].value) == ("emea", "component-region_report")
    code_version = job_code_versions(load_manifest(project / "glue_jobs" / "jobs.yaml"))["region_report"]
    assert event.asset_materialization.tags["dagster/code_version"] == code_version
    messages = [entry.user_message for entry in instance.all_logs(event.run_id)]
    assert any("region report for emea" in message for message in messages), messages
    checks = [
        entry.get_dagster_event().asset_check_evaluation_data
        for entry in instance.all_logs(event.run_id)
        if entry.is_dagster_event and entry.get_dagster_event().event_type_value == "ASSET_CHECK_EVALUATION"
    ]
    assert [(c.check_name, c.passed) for c in checks] == [("deployed_job_matches_repository", True)]

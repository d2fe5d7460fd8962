"""Deploy 200 generated Glue jobs: our content-addressed planner beside the naive approach.

Naive = what a hand-written deploy script (or Airflow's GlueJobOperator) does: upload every file to a
fixed key and create-or-update every job, every time. Both run against the same local endpoint in
one process; the endpoint counts the API calls each one makes.

    .venv/bin/python benchmarks/deploy_benchmark.py [--jobs 200]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from glue_pipes_local_aws import LocalAWS
from glue_pipes_project.aws import AwsClients
from glue_pipes_project.deploy.artifacts import manifest_artifacts
from glue_pipes_project.deploy.job_definitions import job_definition
from glue_pipes_project.deploy.plan import deploy_project, load_project_manifest
from glue_pipes_project.settings import Settings

SCRIPT = "import sys\nprint('job {index}', sys.argv[1:])\n"


def generate(root: Path, jobs: int) -> Path:
    root.mkdir(parents=True)
    (root / "common.py").write_text("VALUE = 1\n")
    lines = ["jobs:"]
    for index in range(jobs):
        (root / f"job_{index:03d}.py").write_text(SCRIPT.format(index=index))
        lines += [
            f"  job_{index:03d}:",
            f"    script: job_{index:03d}.py",
            "    worker_type: G.1X",
            "    number_of_workers: 2",
            "    extra_py_files: [common.py]",
            "    default_arguments: {'--env': bench}",
        ]
    manifest = root / "jobs.yaml"
    manifest.write_text("\n".join(lines) + "\n")
    return manifest


def naive_deploy(settings: Settings, clients: AwsClients) -> None:
    manifest = load_project_manifest(settings)
    for path, artifact in manifest_artifacts(manifest).items():
        clients.s3.put_object(Bucket=settings.bucket, Key=f"naive/scripts/{path.name}", Body=artifact.data)
    existing = set()
    for page in clients.glue.get_paginator("get_jobs").paginate():
        existing |= {job["Name"] for job in page["Jobs"]}
    for job in manifest.jobs.values():
        name = f"naive-{job.name}"
        definition = job_definition(
            job,
            role_arn=settings.role_arn,
            script_uri=f"s3://{settings.bucket}/naive/scripts/{job.script_path.name}",
            extra_py_uris=[f"s3://{settings.bucket}/naive/scripts/{p.name}" for p in job.extra_py_paths],
            environment={},
        )
        if name in existing:
            clients.glue.update_job(JobName=name, JobUpdate=definition)
        else:
            clients.glue.create_job(Name=name, **definition)


def measure(aws: LocalAWS, action) -> tuple[float, int, dict[str, int]]:
    aws.reset_requests()
    started = time.perf_counter()
    action()
    seconds = time.perf_counter() - started
    calls = {op: n for op, n in sorted(aws.requests().items()) if n}
    return seconds, sum(calls.values()), calls


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=200)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, LocalAWS() as aws:
        manifest = generate(Path(tmp) / "glue_jobs", args.jobs)
        env = {"GLUE_PIPES_ENDPOINT_URL": aws.endpoint_url, "GLUE_PIPES_MANIFEST": str(manifest)}
        settings = Settings.from_env(env)
        clients = AwsClients.connect(settings)
        ours = lambda: deploy_project(settings, clients)  # noqa: E731
        naive = lambda: naive_deploy(settings, clients)  # noqa: E731
        script = manifest.parent / "job_007.py"

        rows = []
        for label, mutate in (
            ("first deploy", None),
            ("no-op deploy", None),
            ("one script changed", lambda: script.write_text(script.read_text() + "# edit\n")),
        ):
            if mutate:
                mutate()
            rows.append((label, measure(aws, ours), measure(aws, naive)))

        # The no-op deploy as a user runs it: the whole CLI process, imports included.
        started = time.perf_counter()
        completed = subprocess.run(
            [str(Path(sys.executable).parent / "glue-pipes"), "deploy", "--json"],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
        )
        cli_seconds = time.perf_counter() - started
        assert completed.returncode == 0, completed.stderr

    print(f"{args.jobs} jobs, local endpoint; ours vs naive (upload everything, update every job)\n")
    print(f"{'scenario':<20} {'ours s':>8} {'naive s':>8} {'time ratio':>10} {'ours calls':>10} {'naive calls':>11}")
    for label, (our_s, our_n, _), (naive_s, naive_n, _) in rows:
        print(f"{label:<20} {our_s:>8.2f} {naive_s:>8.2f} {naive_s / our_s:>9.1f}x {our_n:>10} {naive_n:>11}")
    print()
    for label, (_, _, our_calls), (_, _, naive_calls) in rows:
        print(f"{label}: ours {our_calls}")
        print(f"{'':>{len(label)}}  naive {naive_calls}")
    print(f"\nno-op `glue-pipes deploy` CLI, whole process: {cli_seconds:.2f} s")


if __name__ == "__main__":
    main()

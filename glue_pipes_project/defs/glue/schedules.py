"""``<group>_job`` and ``<group>_schedule``: each group's partitioned Glue assets as one asset job, and
a schedule that runs it every day for the last complete partition (yesterday's, for daily ones).

Built from jobs.yaml, so a partitioned group (``orders``) gets its schedule without Python; jobs.yaml
holds one partitions block per group for this. Like any Dagster schedule it starts stopped: turn it on
in the UI (Automation). A backfill of the job runs one Glue run per partition (the default backfill
policy), and the Glue client waits for a free slot when the job is at its MaxConcurrentRuns.
"""

import dagster as dg

from glue_pipes_project.deploy.manifest import Job
from glue_pipes_project.deploy.plan import load_project_manifest
from glue_pipes_project.settings import Settings


@dg.definitions
def schedules() -> dg.Definitions:
    groups: dict[str, list[Job]] = {}
    for job in load_project_manifest(Settings.from_env()).jobs.values():
        if job.spec.asset.partitions:
            groups.setdefault(job.spec.asset.group or "default", []).append(job)
    definitions = []
    for group, jobs in groups.items():
        asset_job = dg.define_asset_job(
            f"{group}_job",
            selection=dg.AssetSelection.assets(*(job.asset_key for job in jobs)),
            description=f"The partitioned Glue assets of group {group!r}, one partition per run.",
        )
        schedule = dg.build_schedule_from_partitioned_job(asset_job, name=f"{group}_schedule")
        definitions.append(dg.Definitions(jobs=[asset_job], schedules=[schedule]))
    return dg.Definitions.merge(*definitions)

"""How a deploy plan and its progress read on a terminal."""

from __future__ import annotations

from typing import TextIO

from glue_pipes_project.deploy.plan import Plan

_ACTION_ORDER = {"upload": 0, "create": 0, "update": 1, "delete": 2, "unchanged": 3}


def format_plan(plan: Plan, *, location: str) -> str:
    lines = [f"Plan for {location}:"]
    if plan.create_bucket:
        lines.append(f"  bucket     create s3://{plan.bucket}")
    if plan.database:
        lines.append(f"  database   {'create' if plan.create_database else 'unchanged'} {plan.database}")
    lines.append("  files")
    for change in sorted(plan.files, key=lambda f: (_ACTION_ORDER["upload" if f.upload else "unchanged"], f.label)):
        action = "upload" if change.upload else "unchanged"
        detail = f"  -> {change.key} ({_size(change.size)})" if change.upload else ""
        if change.tampered:
            detail += f"  replaces the object there, which {change.tampered}"
        lines.append(f"    {action:<10} {change.label}{detail}")
    lines.append("  jobs")
    for job in sorted(plan.jobs, key=lambda j: (_ACTION_ORDER[j.action], j.name)):
        detail = f"  ({', '.join(job.fields)})" if job.fields else ""
        lines.append(f"    {job.action:<10} {job.name}{detail}")
    return "\n".join(lines)


def format_summary(plan: Plan, *, applied: bool, seconds: float) -> str:
    counts = plan.to_dict()
    files, jobs = counts["files"], counts["jobs"]
    verb = "Deployed" if applied else "Would deploy"
    upload_word = "uploaded" if applied else "to upload"
    return (
        f"{verb}: files {files['uploaded']} {upload_word}, {files['unchanged']} unchanged; "
        f"jobs {jobs['created']} created, {jobs['updated']} updated, {jobs['deleted']} deleted, "
        f"{jobs['unchanged']} unchanged ({seconds:.1f} s)"
    )


class ProgressPrinter:
    """Prints one line per finished upload or job change, so long deploys show they are moving."""

    def __init__(self, stream: TextIO):
        self.stream = stream

    def __call__(self, kind: str, item: str, done: int, total: int) -> None:
        print(f"  [{done}/{total}] {kind} {item}", file=self.stream, flush=True)


def _size(size: int) -> str:
    return f"{size} B" if size < 1024 else f"{size / 1024:.1f} KiB"

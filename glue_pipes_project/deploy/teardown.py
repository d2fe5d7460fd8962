"""Tear one environment down: its managed Glue jobs, everything under its S3 prefixes (artifacts, Pipes
objects, pipeline data) and its Glue database, nothing else.

``plan`` only reads (the jobs prune would consider, the database, then the prefixes' objects, or their
versions when the bucket is versioned); ``apply`` deletes exactly what the plan lists, jobs first so
nothing can start a run that writes under the prefix, then the database, then lists the prefixes again:
whatever is still there, or could not be deleted, is reported and fails the command. The production
environment is never torn down.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from glue_pipes_project.aws import AwsClients
from glue_pipes_project.deploy.naming import Naming
from glue_pipes_project.deploy.plan import ProgressCallback, managed_jobs

if TYPE_CHECKING:
    from mypy_boto3_s3.type_defs import ObjectIdentifierTypeDef

S3_DELETE_BATCH = 1000  # DeleteObjects takes at most 1000 keys per request
_LISTED_REMAINING = 20  # objects named one by one in a failure; the rest are counted


class TeardownRefused(ValueError):
    """Bad input: this environment is not one teardown may delete."""


class TeardownError(RuntimeError):
    """Some deletes failed or something appeared meanwhile; says what remains."""

    def __init__(
        self,
        environment: str,
        jobs: list[str],
        objects: list[str] | None,
        failures: list[str],
        database: str | None = None,
    ):
        """``objects`` is None when the prefix could not be listed again: what remains there is unknown.
        ``database``: the Glue database, when deleting it failed."""
        counted = "an unknown number of S3 objects" if objects is None else f"{len(objects)} S3 object(s)"
        lines = [f"teardown of environment {environment} is incomplete: {len(jobs)} Glue job(s) and {counted} remain"]
        objects = objects or []
        lines += [f"  remains: Glue job {job}" for job in jobs]
        lines += [f"  remains: Glue database {database}"] if database else []
        lines += [f"  remains: {item}" for item in objects[:_LISTED_REMAINING]]
        if len(objects) > _LISTED_REMAINING:
            lines.append(f"  remains: ... and {len(objects) - _LISTED_REMAINING} more object(s)")
        lines += [f"  failed: {failure}" for failure in failures]
        lines.append("Run the same teardown again once the cause is fixed: it deletes only what remains.")
        super().__init__("\n".join(lines))


def refuse_prod(naming: Naming) -> None:
    """Prod's jobs serve the production deployment: a teardown there is an outage, never a cleanup.

    Settings fall back to prod in AWS mode when GLUE_PIPES_ENV is unset, so a CI step that lost its
    environment variables would otherwise delete production.
    """
    if naming.environment == "prod":
        raise TeardownRefused(
            "refusing to tear down the prod environment: it deletes every job the production deployment "
            "runs. Remove a prod job from jobs.yaml and run `glue-pipes deploy --prune` instead"
        )


@dataclass(frozen=True)
class TeardownPlan:
    environment: str  # local or branch
    branch: str | None
    bucket: str
    prefixes: tuple[str, ...]  # each ends with "/": branch-a/ never covers branch-ab/
    jobs: tuple[str, ...]
    database: str | None  # None: the environment has none
    objects: tuple[ObjectIdentifierTypeDef, ...]  # with VersionId when the bucket keeps versions
    versioned: bool

    @property
    def keys(self) -> int:
        return len({obj["Key"] for obj in self.objects})

    @property
    def is_empty(self) -> bool:
        return not (self.jobs or self.database or self.objects)

    def to_dict(self) -> dict[str, Any]:
        return {
            "environment": self.environment,
            "branch": self.branch,
            "bucket": self.bucket,
            "prefixes": list(self.prefixes),
            "jobs": {"deleted": len(self.jobs), "items": list(self.jobs)},
            "database": self.database,
            "objects": {"deleted": len(self.objects), "keys": self.keys, "versioned": self.versioned},
        }


class Teardown:
    """Plans and applies the teardown of one environment (never prod) with the given clients."""

    def __init__(self, clients: AwsClients, naming: Naming, *, bucket: str):
        refuse_prod(naming)
        self.clients = clients
        self.naming = naming
        self.bucket = bucket
        # Its artifacts, its Pipes objects (kept apart so one lifecycle rule can expire them all) and its
        # pipeline data (kept apart so the Glue job role's grant covers data only).
        self.prefixes = (f"{naming.root_prefix}/", f"{naming.pipes_root}/", naming.data_prefix)

    def plan(self) -> TeardownPlan:
        versioned = self._versioned()
        return TeardownPlan(
            environment=self.naming.environment,
            branch=self.naming.branch,
            bucket=self.bucket,
            prefixes=self.prefixes,
            jobs=tuple(managed_jobs(self.clients, self.naming)),
            database=self._database(),
            objects=tuple(self._objects(versioned)),
            versioned=versioned,
        )

    def apply(self, plan: TeardownPlan, progress: ProgressCallback | None = None) -> None:
        report = progress or (lambda *_: None)
        failures: list[str] = []
        failed_jobs: list[str] = []
        deleted = 0  # progress counts what is gone: after a failure it stays short of the total
        for name in plan.jobs:
            try:
                self.clients.glue.delete_job(JobName=name)
            except (ClientError, BotoCoreError) as exc:
                failures.append(f"glue:DeleteJob {name}: {_describe(exc)}")
                failed_jobs.append(name)
                continue
            deleted += 1
            report("delete", name, deleted, len(plan.jobs))
        failed_database = None
        if plan.database:
            try:
                # Glue deletes the database's tables and partitions with it.
                self.clients.glue.delete_database(Name=plan.database)
                report("delete", f"Glue database {plan.database}", 1, 1)
            except self.clients.glue.exceptions.EntityNotFoundException:
                pass  # gone meanwhile: what the teardown wants
            except (ClientError, BotoCoreError) as exc:
                failures.append(f"glue:DeleteDatabase {plan.database}: {_describe(exc)}")
                failed_database = plan.database
        deleted = 0
        for start in range(0, len(plan.objects), S3_DELETE_BATCH):
            batch = list(plan.objects[start : start + S3_DELETE_BATCH])
            try:
                response = self.clients.s3.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})
            except (ClientError, BotoCoreError) as exc:
                failures.append(f"s3:DeleteObjects of {len(batch)} object(s) from {batch[0]['Key']}: {_describe(exc)}")
                continue
            # A 200 answer can still refuse some keys (object lock, permissions): each is listed in Errors.
            errors = response.get("Errors", [])
            failures += [
                f"s3:DeleteObjects {_name(error)}: {error.get('Code')}: {error.get('Message')}" for error in errors
            ]
            deleted += len(batch) - len(errors)
            report("deleted", f"objects under {self._where()}", deleted, len(plan.objects))
        # Listed again rather than trusted: a run still writing under the prefix adds objects meanwhile.
        remaining: list[str] | None
        try:
            remaining = [_name(obj) for obj in self._objects(self._versioned())]
        except (ClientError, BotoCoreError) as exc:
            failures.append(f"listing {self._where()} again: {_describe(exc)}")
            remaining = None
        if failures or remaining:
            raise TeardownError(self.naming.environment_id, failed_jobs, remaining, failures, failed_database)

    # -- reads ---------------------------------------------------------------------------------

    def _database(self) -> str | None:
        glue = self.clients.glue
        try:
            return glue.get_database(Name=self.naming.catalog_database)["Database"]["Name"]
        except glue.exceptions.EntityNotFoundException:
            return None

    def _versioned(self) -> bool:
        """Whether the bucket has ever kept versions: suspended versioning still keeps the old ones."""
        try:
            return "Status" in self.clients.s3.get_bucket_versioning(Bucket=self.bucket)
        except self.clients.s3.exceptions.NoSuchBucket:
            return False  # nothing to delete; listing answers the same

    def _objects(self, versioned: bool) -> Iterator[ObjectIdentifierTypeDef]:
        s3 = self.clients.s3
        try:
            for prefix in self.prefixes:
                if versioned:
                    for page in s3.get_paginator("list_object_versions").paginate(Bucket=self.bucket, Prefix=prefix):
                        for entry in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
                            yield {"Key": entry["Key"], "VersionId": entry["VersionId"]}
                else:
                    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
                        for obj in page.get("Contents", []):
                            yield {"Key": obj["Key"]}
        except s3.exceptions.NoSuchBucket:
            return

    def _where(self) -> str:
        return " and ".join(f"s3://{self.bucket}/{prefix}" for prefix in self.prefixes)


def _name(obj: Any) -> str:
    version = obj.get("VersionId")
    return f"{obj.get('Key')} (version {version})" if version else str(obj.get("Key"))


def _describe(exc: ClientError | BotoCoreError) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code')}: {error.get('Message')}"
    return str(exc)


def format_teardown_plan(plan: TeardownPlan, *, location: str) -> str:
    lines = [f"Teardown plan for {location}:", "  jobs"]
    lines += [f"    delete     {job}" for job in plan.jobs] or ["    (none managed by this environment)"]
    database = f"    delete     {plan.database} (its tables and partitions)" if plan.database else "    (none)"
    lines += ["  database", database]
    lines.append("  objects")
    where = " and ".join(f"s3://{plan.bucket}/{prefix}" for prefix in plan.prefixes)
    if not plan.objects:
        lines.append(f"    (none under {where})")
    elif plan.versioned:
        lines.append(
            f"    delete     {len(plan.objects)} object versions and delete markers of {plan.keys} keys under {where}"
        )
    else:
        lines.append(f"    delete     {len(plan.objects)} objects under {where}")
    return "\n".join(lines)


def format_teardown_summary(plan: TeardownPlan, *, applied: bool, seconds: float) -> str:
    verb, deleted = ("Tore down", "deleted") if applied else ("Would tear down", "to delete")
    database = f"database {plan.database} {deleted}; " if plan.database else ""
    objects = f"S3 objects {len(plan.objects)} {deleted}"
    return f"{verb}: jobs {len(plan.jobs)} {deleted}; {database}{objects} ({seconds:.1f} s)"

"""Plan and apply a deploy: artifacts to S3 (content-addressed), Glue jobs created/updated/pruned.

``plan`` only reads (one listing of the artifact prefix, a HeadObject per existing artifact to check
its content, BatchGetJobs in batches); ``apply`` makes exactly the changes the plan lists. The same
code deploys to the local endpoint and to AWS.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Collection, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, cast

from botocore.exceptions import ClientError

from glue_pipes_project.aws import AwsClients
from glue_pipes_project.deploy.artifact_integrity import ArtifactVerifier, deployed_artifact_keys, s3_checksum
from glue_pipes_project.deploy.artifacts import Artifact, manifest_artifacts, pipes_artifact, pipes_requires_python
from glue_pipes_project.deploy.job_definitions import changed_fields, environment_arguments, job_definition
from glue_pipes_project.deploy.manifest import Manifest, ManifestError, load_manifest
from glue_pipes_project.deploy.naming import ENVIRONMENT_TAG, MANAGED_TAG, MANAGED_VALUE, Naming
from glue_pipes_project.glue_facts import MAX_JOB_NAME
from glue_pipes_project.settings import Settings

BATCH_GET_JOBS_LIMIT = 25
PARALLEL_CALLS = 8

if TYPE_CHECKING:  # job definitions are built from jobs.yaml as plain dicts; Glue's stubs type the call
    from mypy_boto3_glue.type_defs import JobUpdateTypeDef

JobAction = Literal["create", "update", "unchanged", "delete"]
_SUMMARY_KEYS: tuple[tuple[str, JobAction], ...] = (
    ("created", "create"),
    ("updated", "update"),
    ("unchanged", "unchanged"),
    ("deleted", "delete"),
)


class DeployError(RuntimeError):
    pass


@dataclass(frozen=True)
class FileChange:
    label: str
    key: str
    size: int
    upload: bool
    artifact: Artifact = field(repr=False, compare=False)
    tampered: str | None = None  # why the object under this key no longer holds the artifact

    def to_dict(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            "file": self.label,
            "key": self.key,
            "size": self.size,
            "action": "upload" if self.upload else "unchanged",
        }
        if self.tampered:
            item["tampered"] = self.tampered
        return item


@dataclass(frozen=True)
class JobChange:
    name: str
    logical_name: str | None
    action: JobAction
    fields: tuple[str, ...] = ()
    definition: dict[str, Any] | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            "job": self.logical_name or self.name,
            "glue_job_name": self.name,
            "action": self.action,
        }
        if self.fields:
            item["changed_fields"] = list(self.fields)
        return item


@dataclass(frozen=True)
class Plan:
    bucket: str
    create_bucket: bool
    files: tuple[FileChange, ...]
    jobs: tuple[JobChange, ...]
    database: str | None = None  # the environment's Glue database; None: not planned (one job's drift)
    create_database: bool = False

    @property
    def uploads(self) -> list[FileChange]:
        return [f for f in self.files if f.upload]

    @property
    def tampered(self) -> list[FileChange]:
        return [f for f in self.files if f.tampered]

    def jobs_by(self, action: JobAction) -> list[JobChange]:
        return [j for j in self.jobs if j.action == action]

    @property
    def has_changes(self) -> bool:
        return (
            self.create_bucket
            or self.create_database
            or bool(self.uploads)
            or any(j.action != "unchanged" for j in self.jobs)
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "bucket": self.bucket,
            "database": {"name": self.database, "action": "create" if self.create_database else "unchanged"},
            "files": {
                "uploaded": len(self.uploads),
                "unchanged": len(self.files) - len(self.uploads),
                "tampered": len(self.tampered),
                "items": [f.to_dict() for f in self.files],
            },
            "jobs": {
                **{key: len(self.jobs_by(action)) for key, action in _SUMMARY_KEYS},
                "items": [j.to_dict() for j in self.jobs],
            },
        }


ProgressCallback = Callable[[str, str, int, int], None]  # (kind, item, done, total)


class Deployer:
    """Plans and applies one environment's deploy with the given clients."""

    def __init__(self, clients: AwsClients, naming: Naming, *, bucket: str, role_arn: str):
        self.clients = clients
        self.naming = naming
        self.bucket = bucket
        self.role_arn = role_arn

    def plan(
        self, manifest: Manifest, *, prune: bool = False, create_bucket: bool = False, database: bool = True
    ) -> Plan:
        """``database=False`` leaves the environment's Glue database out (it is no part of one job's drift)."""
        self._check_names(manifest)
        artifacts = manifest_artifacts(manifest)
        pipes = pipes_artifact()
        keys = {path: self.naming.artifact_key(a.sha256, a.filename) for path, a in artifacts.items()}
        pipes_key = self.naming.artifact_key(pipes.sha256, pipes.filename)

        bucket_missing, existing_keys = self._existing_artifact_keys()
        if bucket_missing and not create_bucket:
            raise DeployError(
                f"S3 bucket {self.bucket!r} does not exist or is not accessible with these credentials "
                "(set GLUE_PIPES_BUCKET to a bucket you can write to)"
            )
        wanted = [(keys[path], a) for path, a in artifacts.items()] + [(pipes_key, pipes)]
        # An existing key is only as good as its content: a replaced object is uploaded again.
        tampered = {
            t.key: t.problem
            for t in ArtifactVerifier(self.clients.s3, self.bucket).tampered(k for k, _ in wanted if k in existing_keys)
        }
        files = [
            FileChange(a.label, key, len(a.data), key not in existing_keys or key in tampered, a, tampered.get(key))
            for key, a in wanted
        ]

        environment = environment_arguments(self.naming, self.bucket)
        desired = {
            self.naming.job_name(job.name): (
                job.name,
                job_definition(
                    job,
                    role_arn=self.role_arn,
                    script_uri=self._uri(keys[job.script_path]),
                    extra_py_uris=[self._uri(pipes_key)] + [self._uri(keys[p]) for p in job.extra_py_paths],
                    environment=environment,
                ),
            )
            for job in manifest.jobs.values()
        }
        existing = self._existing_jobs(list(desired))
        jobs: list[JobChange] = []
        for name, (logical, definition) in desired.items():
            if name not in existing:
                jobs.append(JobChange(name, logical, "create", (), definition))
            else:
                fields = tuple(changed_fields(definition, existing[name]))
                jobs.append(JobChange(name, logical, "update" if fields else "unchanged", fields, definition))
        if prune:
            gone = managed_jobs(self.clients, self.naming, keep=set(desired))
            jobs += [JobChange(name, None, "delete") for name in gone]
        if not database:
            return Plan(self.bucket, bucket_missing, tuple(files), tuple(jobs))
        name = self.naming.catalog_database
        return Plan(self.bucket, bucket_missing, tuple(files), tuple(jobs), name, self._missing(name))

    def apply(self, plan: Plan, progress: ProgressCallback | None = None) -> None:
        report = progress or (lambda *_: None)
        if plan.create_bucket:
            self._create_bucket()
        if plan.create_database and plan.database:
            self._create_database(plan.database)
        uploads = plan.uploads
        for done, change in enumerate(self._parallel(self._upload, uploads), start=1):
            report("upload", change.label, done, len(uploads))
        job_changes = [j for j in plan.jobs if j.action != "unchanged"]
        for done, change in enumerate(self._parallel(self._apply_job, job_changes), start=1):
            report(change.action, change.name, done, len(job_changes))

    def _check_names(self, manifest: Manifest) -> None:
        """Glue's 255-character limit applies to the deployed name, prefix and branch included."""
        problems = [
            f"{manifest.path}: job {job!r}, field 'name': deployed as {len(name)} characters ({name[:40]}...); "
            f"Glue allows {MAX_JOB_NAME}: shorten the job name or GLUE_PIPES_JOB_PREFIX"
            for job, name in ((job, self.naming.job_name(job)) for job in manifest.jobs)
            if len(name) > MAX_JOB_NAME
        ]
        if problems:
            raise ManifestError(problems)

    # -- reads ---------------------------------------------------------------------------------

    def _existing_artifact_keys(self) -> tuple[bool, set[str]]:
        paginator = self.clients.s3.get_paginator("list_objects_v2")
        keys: set[str] = set()
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.naming.artifacts_prefix):
                keys.update(obj["Key"] for obj in page.get("Contents", []))
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("NoSuchBucket", "404", "403", "AccessDenied"):
                return True, set()
            raise
        return False, keys

    def _missing(self, database: str) -> bool:
        glue = self.clients.glue
        try:
            glue.get_database(Name=database)
        except glue.exceptions.EntityNotFoundException:
            return True
        return False

    def _existing_jobs(self, names: list[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(names), BATCH_GET_JOBS_LIMIT):
            response = self.clients.glue.batch_get_jobs(JobNames=names[start : start + BATCH_GET_JOBS_LIMIT])
            found.update({job["Name"]: cast(dict[str, Any], job) for job in response.get("Jobs", [])})
        return found

    # -- writes --------------------------------------------------------------------------------

    def _create_bucket(self) -> None:
        params: dict[str, Any] = {"Bucket": self.bucket}
        if self.clients.region != "us-east-1":
            params["CreateBucketConfiguration"] = {"LocationConstraint": self.clients.region}
        # Another deploy may have created it first.
        with contextlib.suppress(self.clients.s3.exceptions.BucketAlreadyOwnedByYou):
            self.clients.s3.create_bucket(**params)

    def _create_database(self, name: str) -> None:
        description = f"glue-pipes environment {self.naming.environment_id}: the tables its Glue jobs write"
        # Another deploy may have created it first.
        with contextlib.suppress(self.clients.glue.exceptions.AlreadyExistsException):
            self.clients.glue.create_database(DatabaseInput={"Name": name, "Description": description})

    def _upload(self, change: FileChange) -> FileChange:
        self.clients.s3.put_object(
            Bucket=self.bucket,
            Key=change.key,
            Body=change.artifact.data,
            # S3 checks the body against this and keeps it, so --check and runs can verify the content.
            ChecksumAlgorithm="SHA256",
            ChecksumSHA256=s3_checksum(change.artifact.sha256),
        )
        return change

    def _apply_job(self, change: JobChange) -> JobChange:
        glue = self.clients.glue
        if change.action == "create":
            assert change.definition is not None  # the planner sets it for every create and update
            try:
                glue.create_job(Name=change.name, Tags=self.naming.tags(), **change.definition)
            except glue.exceptions.AlreadyExistsException:
                # A concurrent deploy created it between plan and apply: converge instead of failing.
                glue.update_job(JobName=change.name, JobUpdate=cast("JobUpdateTypeDef", change.definition))
        elif change.action == "update":
            glue.update_job(JobName=change.name, JobUpdate=cast("JobUpdateTypeDef", change.definition))
        elif change.action == "delete":
            glue.delete_job(JobName=change.name)
        return change

    def _parallel(self, fn: Callable[[Any], Any], items: list[Any]) -> Iterator[Any]:
        """Yield each item as its call completes, so progress is reported as it happens."""
        if not items:
            return
        with ThreadPoolExecutor(max_workers=min(PARALLEL_CALLS, len(items))) as pool:
            for future in as_completed([pool.submit(fn, item) for item in items]):
                yield future.result()

    def _uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"


def managed_jobs(clients: AwsClients, naming: Naming, *, keep: Collection[str] = ()) -> list[str]:
    """This environment's Glue jobs, except those in ``keep``: the only jobs prune and teardown delete.

    A job counts only if its name is under the environment's prefix and it carries both tags of ours.
    """
    candidates = [
        name
        for page in clients.glue.get_paginator("get_jobs").paginate()
        for name in (job["Name"] for job in page.get("Jobs", []))
        if name not in keep and naming.owns_job_name(name)
    ]
    if not candidates:
        return []
    account = clients.sts.get_caller_identity()["Account"]
    managed = []
    for name in sorted(candidates):
        arn = f"arn:aws:glue:{clients.region}:{account}:job/{name}"
        tags = clients.glue.get_tags(ResourceArn=arn).get("Tags", {})
        if tags.get(MANAGED_TAG) == MANAGED_VALUE and tags.get(ENVIRONMENT_TAG) == naming.environment_id:
            managed.append(name)
    return managed


def load_project_manifest(settings: Settings) -> Manifest:
    """The manifest the settings point at, checked against the dagster-pipes this process ships."""
    return load_manifest(settings.manifest_path, pipes_requires_python=pipes_requires_python())


def verify_deployed_artifacts(settings: Settings, clients: AwsClients, manifest: Manifest) -> None:
    """Refuse to run what was changed in S3 after deploy: the scripts and files the deployed jobs point at."""
    naming = Naming.from_settings(settings)
    keys = deployed_artifact_keys(clients.glue, settings.bucket, [naming.job_name(job) for job in manifest.jobs])
    tampered = ArtifactVerifier(clients.s3, settings.bucket).tampered(keys)
    if tampered:
        found = "; ".join(f"s3://{settings.bucket}/{t.key} (Glue job {keys[t.key]!r}) {t.problem}" for t in tampered)
        raise DeployError(
            f"not running artifacts changed after deploy: {found}. Run `glue-pipes deploy` to restore them"
        )


DEPLOY_FIX = "run `glue-pipes deploy` (`make deploy`) or the deploy_glue_jobs job in Dagster"


@dataclass(frozen=True)
class JobDrift:
    """How one deployed Glue job differs from what the repository would deploy for it; nothing: in sync."""

    job: str
    glue_job_name: str
    missing: bool  # no Glue job of that name
    changed_fields: tuple[str, ...]  # fields of the job definition Glue has differently (Command: the script)
    files: tuple[FileChange, ...]  # the job's files deploy would upload: not in S3, or changed there

    @property
    def in_sync(self) -> bool:
        return not (self.missing or self.changed_fields or self.files)

    def describe(self) -> str:
        """One line: what differs, or that nothing does."""
        if self.in_sync:
            return f"Glue job {self.glue_job_name!r} is what the repository deploys for job {self.job!r}"
        found = []
        if self.missing:
            found.append(f"Glue job {self.glue_job_name!r} does not exist")
        if self.changed_fields:
            found.append(f"Glue job {self.glue_job_name!r} differs in {', '.join(self.changed_fields)}")
        found += [
            f"{f.label} was changed in S3 after deploy ({f.tampered})" if f.tampered else f"this {f.label} is not in S3"
            for f in self.files
        ]
        return f"job {self.job!r} is not deployed as the repository has it: " + "; ".join(found)

    def to_metadata(self) -> dict[str, Any]:
        return {
            "glue_job_name": self.glue_job_name,
            "job_missing": self.missing,
            "changed_fields": list(self.changed_fields),
            "files_not_deployed": [f.label for f in self.files],
        }


def job_drift(settings: Settings, clients: AwsClients, manifest: Manifest, job: str) -> JobDrift:
    """Read-only: the deploy plan of one job, as what differs between Glue and the repository."""
    plan = deployer_for(settings, clients).plan(manifest.only(job), create_bucket=True, database=False)
    (change,) = plan.jobs
    return JobDrift(job, change.name, change.action == "create", change.fields, tuple(plan.uploads))


def deployer_for(settings: Settings, clients: AwsClients) -> Deployer:
    return Deployer(clients, Naming.from_settings(settings), bucket=settings.bucket, role_arn=settings.role_arn)


def deploy_project(
    settings: Settings,
    clients: AwsClients,
    *,
    manifest: Manifest | None = None,
    prune: bool = False,
    dry_run: bool = False,
    on_plan: Callable[[Plan], None] | None = None,
    progress: ProgressCallback | None = None,
) -> Plan:
    """Validate, plan and (unless ``dry_run``) apply; the local endpoint's bucket is created on demand."""
    manifest = manifest or load_project_manifest(settings)
    deployer = deployer_for(settings, clients)
    plan = deployer.plan(manifest, prune=prune, create_bucket=settings.is_local)
    if on_plan:
        on_plan(plan)
    if not dry_run and plan.has_changes:
        deployer.apply(plan, progress)
    return plan

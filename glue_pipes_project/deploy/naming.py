"""Where each environment's Glue jobs and S3 objects live, so environments never touch each other.

Deploy and the Dagster resources both resolve names here: a logical job name from jobs.yaml becomes
the deployed Glue job name, and every S3 key sits under the environment's own prefix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from glue_pipes_project.settings import Settings

MANAGED_TAG = "glue-pipes:managed-by"
MANAGED_VALUE = "glue-pipes-project"
ENVIRONMENT_TAG = "glue-pipes:environment"


@dataclass(frozen=True)
class Naming:
    job_name_prefix: str
    s3_prefix: str
    environment: str
    branch: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Naming:
        return cls(
            job_name_prefix=settings.job_name_prefix,
            s3_prefix=settings.s3_prefix,
            environment=settings.environment,
            branch=settings.branch,
        )

    @property
    def environment_id(self) -> str:
        """``prod``, ``local`` or ``branch-<settings.branch_id>``: the value of the environment tag."""
        return f"branch-{self.branch}" if self.branch else self.environment

    @property
    def _job_prefix(self) -> str:
        return f"{self.job_name_prefix}{self.branch}--" if self.branch else self.job_name_prefix

    def job_name(self, logical_name: str) -> str:
        return f"{self._job_prefix}{logical_name}"

    def owns_job_name(self, job_name: str) -> bool:
        """Whether a deployed name could belong to this environment (tags still decide)."""
        return job_name.startswith(self._job_prefix)

    @property
    def root_prefix(self) -> str:
        return f"{self.s3_prefix}/{self.environment_id}" if self.s3_prefix else self.environment_id

    @property
    def artifacts_prefix(self) -> str:
        return f"{self.root_prefix}/artifacts/"

    def artifact_key(self, sha256: str, filename: str) -> str:
        return f"{self.artifacts_prefix}{sha256}/{filename}"

    @property
    def pipes_root(self) -> str:
        # Every environment's short-lived Pipes objects under one fixed prefix, ``{s3_prefix}/pipes/``,
        # because an S3 lifecycle rule's prefix takes no wildcard (infra/glue-pipes.yaml expires it).
        return f"{self.s3_prefix}/pipes/{self.environment_id}" if self.s3_prefix else f"pipes/{self.environment_id}"

    @property
    def pipes_prefix(self) -> str:
        """Where the Pipes context injector writes per-run context objects (the Glue job role reads them)."""
        return f"{self.pipes_root}/context/"

    @property
    def pipes_messages_prefix(self) -> str:
        """Where Glue scripts write Pipes message chunks (the only place the Glue job role may write)."""
        return f"{self.pipes_root}/messages/"

    @property
    def data_prefix(self) -> str:
        """Where the environment's pipeline data lives (``--data_location``), under one fixed prefix,
        ``{s3_prefix}/data/``, so the Glue job role's grant covers data and nothing else."""
        root = f"{self.s3_prefix}/data" if self.s3_prefix else "data"
        return f"{root}/{self.environment_id}/"

    @property
    def catalog_database(self) -> str:
        """The environment's Glue database (``--catalog_database``): the job prefix and environment id in
        the lowercase letters, digits and '_' that Athena and Spark SQL accept. Injective per prefix:
        environment ids hold no '_' (branch ids are ``[a-z0-9-]``), so mapping each other character to '_'
        merges none of them."""
        return re.sub(r"[^a-z0-9_]", "_", f"{self.job_name_prefix}{self.environment_id}".lower())

    def tags(self) -> dict[str, str]:
        return {MANAGED_TAG: MANAGED_VALUE, ENVIRONMENT_TAG: self.environment_id}

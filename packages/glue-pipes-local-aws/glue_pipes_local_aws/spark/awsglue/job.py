"""`Job`: init/commit around a run, with job bookmarks (see _bookmarks.py)."""

import sys
from collections.abc import Mapping
from typing import Any

from ._bookmarks import DISABLE, Bookmarks
from .context import GlueContext


class Job:
    # Glue's reserved job arguments; the official getResolvedOptions reads them from here.
    @classmethod
    def continuation_options(cls) -> list[str]:
        return ["--continuation-option", "continuation-enabled", "continuation-readonly", "continuation-ignore"]

    @classmethod
    def job_bookmark_options(cls) -> list[str]:
        return ["--job-bookmark-option", "job-bookmark-enable", "job-bookmark-pause", "job-bookmark-disable"]

    @classmethod
    def job_bookmark_range_options(cls) -> list[str]:
        return ["--job-bookmark-from", "--job-bookmark-to"]

    @classmethod
    def id_params(cls) -> list[str]:
        return ["--JOB_NAME", "--JOB_ID", "--JOB_RUN_ID", "--SECURITY_CONFIGURATION"]

    @classmethod
    def encryption_type_options(cls) -> list[str]:
        return ["--encryption-type", "sse-s3"]

    @classmethod
    def data_lineage_options(cls) -> list[str]:
        return ["--enable-data-lineage"]

    def __init__(self, glue_context: GlueContext) -> None:
        self._glue_context = glue_context
        self._job_name: str | None = None

    def init(self, job_name: str, args: Mapping[str, Any] | None = None) -> None:
        """Start bookmarking the context's reads, with the run's --job-bookmark-option (default disable)."""
        option = (args or {}).get("job_bookmark_option") or _argv_value("--job-bookmark-option") or DISABLE
        self._job_name = job_name
        self._glue_context._bookmarks = Bookmarks.load(option)

    def isInitialized(self) -> bool:  # noqa: N802 (Glue's name)
        return self._job_name is not None

    def commit(self) -> None:
        bookmarks = self._glue_context._bookmarks
        if self._job_name is None or bookmarks is None:
            raise RuntimeError("Job.commit() before Job.init(job_name, args)")
        bookmarks.commit()


def _argv_value(name: str) -> str | None:
    argv = sys.argv
    return next((argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg == name), None)

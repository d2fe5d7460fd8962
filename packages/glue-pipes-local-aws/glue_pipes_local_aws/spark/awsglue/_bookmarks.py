"""Job bookmarks: which S3 files each `transformation_ctx` has read in committed runs.

State in and out is the local runtime's JSON (GLUE_PIPES_BOOKMARK_IN / _OUT), shaped
`{"<transformation_ctx>": {"files": {"s3://bucket/key": "<etag>"}}}`. A file counts as read when
its key and ETag are both in the state, so a rewritten object is read again.
"""

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._s3 import S3File

ENABLE, PAUSE, DISABLE = "job-bookmark-enable", "job-bookmark-pause", "job-bookmark-disable"


class Bookmarks:
    def __init__(self, option: str, state: dict[str, Any]) -> None:
        if option not in (ENABLE, PAUSE, DISABLE):
            raise ValueError(f"--job-bookmark-option must be one of {ENABLE}, {PAUSE}, {DISABLE}; got {option!r}")
        self.option = option
        self._state = state
        self._read: dict[str, dict[str, str]] = {}

    @classmethod
    def load(cls, option: str) -> "Bookmarks":
        path = os.environ.get("GLUE_PIPES_BOOKMARK_IN")
        state = json.loads(Path(path).read_text()) if path and Path(path).exists() else {}
        return cls(option, state)

    def unread(self, transformation_ctx: str, files: Sequence[S3File]) -> list[S3File]:
        """The files this read processes; under `enable` they are recorded for commit()."""
        if self.option == DISABLE or not transformation_ctx:
            return list(files)
        done = self._state.get(transformation_ctx, {}).get("files", {})
        new = [file for file in files if done.get(file.url) != file.etag]
        if self.option == ENABLE:
            self._read.setdefault(transformation_ctx, {}).update({file.url: file.etag for file in new})
        return new

    def commit(self) -> None:
        """Write the new state for the runtime, which keeps it if the run succeeds; only `enable` records."""
        path = os.environ.get("GLUE_PIPES_BOOKMARK_OUT")
        if self.option != ENABLE or not path:
            return
        state = {ctx: {**entry, "files": dict(entry.get("files", {}))} for ctx, entry in self._state.items()}
        for ctx, files in self._read.items():
            state.setdefault(ctx, {"files": {}})["files"].update(files)
        Path(path).write_text(json.dumps(state, indent=1, sort_keys=True))

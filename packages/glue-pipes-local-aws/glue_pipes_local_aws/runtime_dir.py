"""The user-private directory for the endpoint's credentials, state files and work folders.

Everything in it is a secret or steers the endpoint, so it must be ours alone: created mode 0700,
refused if it is a symlink, someone else's, or open to the group or others; files in it are opened
without following symlinks.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

_PRIVATE_FILE_MODE = 0o600


class UnsafeRuntimeDirError(RuntimeError):
    pass


def runtime_dir() -> Path:
    """`$XDG_RUNTIME_DIR/glue-pipes` where the session has one, else `<temp dir>/glue-pipes-<uid>`."""
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    path = Path(xdg) / "glue-pipes" if xdg else Path(tempfile.gettempdir()) / f"glue-pipes-{os.getuid()}"
    with contextlib.suppress(FileExistsError):  # mkdir never follows a symlink planted at `path`
        path.mkdir(mode=0o700)
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise UnsafeRuntimeDirError(
            f"{path} must be a directory (not a symlink) owned by you with mode 0700; "
            "someone else may control it: remove it and try again"
        )
    return path


def open_private(path: Path, flags: int) -> int:
    """os.open for a file in the runtime directory: never through a symlink, mode 0600 when created."""
    return os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, _PRIVATE_FILE_MODE)


def write_private(path: Path, data: bytes) -> None:
    """Replace `path` atomically with a new 0600 file holding `data` (readers never see half of it)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}")
    descriptor = open_private(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
        os.replace(temporary, path)  # replaces a symlink at `path` itself, never its target
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def read_private(path: Path) -> bytes | None:
    """The content of `path`, or None if it does not exist."""
    try:
        descriptor = open_private(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    with os.fdopen(descriptor, "rb") as file:
        return file.read()

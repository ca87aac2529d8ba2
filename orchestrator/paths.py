"""Where a workspace is and the folders orchestrate keeps there: the standard library only,
so that what needs no settings (`status` while a daemon runs) loads fast."""

from __future__ import annotations

import errno
import os
from pathlib import Path

from .errors import StateError, WorkspaceNotFound

CONFIG_NAME = "orchestrate.yaml"
# The folder that holds the `orchestrator` package: a source checkout's root, or site-packages.
PACKAGE_HOME = Path(__file__).resolve().parent.parent


def find_root(start: Path) -> Path:
    """The folder holding orchestrate.yaml, searched upwards like git; or `start` with queues/."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / CONFIG_NAME).is_file():
            return folder
    if (start / "queues").is_dir():
        return start
    raise WorkspaceNotFound(start)


def refuse_link(path: Path) -> Path:
    """`path`, unless it is a symbolic link (to a folder, a file or nothing): one planted
    there would have the state's files written, and chmod-ed, wherever it points."""
    if path.is_symlink():
        raise StateError(is_a_link(path))
    return path


def is_a_link(path: Path) -> str:
    try:
        target = f" (to {os.readlink(path)})"
    except OSError:
        target = ""
    return (
        f"{path} is a symbolic link{target}: remove it (`rm {path}`); "
        "orchestrate keeps its state in a real folder, and follows no link there"
    )


def private_dir(path: Path) -> Path:
    """Create `path` (and parents) readable by the user alone. A symbolic link at `path`
    is refused, never followed (see refuse_link)."""
    refuse_link(path)
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
    except FileExistsError:  # a file, or a link that came since the check
        if path.is_symlink():
            raise StateError(is_a_link(path)) from None
        raise StateError(
            f"{path} is not a folder: move it away; orchestrate keeps its state in a folder "
            "of that name"
        ) from None
    try:  # chmod the folder made or found, not what a link put there since points at
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR) and path.is_symlink():
            raise StateError(is_a_link(path)) from None
        raise
    try:
        os.fchmod(fd, 0o700)
    finally:
        os.close(fd)
    return path

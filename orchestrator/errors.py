"""One exception root; each class builds its own message.

The CLI catches :class:`OrchestrateError` once, prints it and exits 1.
"""

from __future__ import annotations

import errno
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input file, located as precisely as we can."""

    file: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class OrchestrateError(Exception):
    """Root of every error the CLI reports to the user."""


class ConfigError(OrchestrateError):
    """orchestrate.yaml or a queue file is invalid."""

    def __init__(
        self,
        problems: list[Problem],
        valid: Sequence[object] = (),
        invalid_ids: Iterable[str] = (),
    ) -> None:
        self.problems = problems
        # A queue file's tasks that are valid despite its problems (config.Task objects),
        # and the ids of those that are not: what `check` still cross-checks.
        self.valid = tuple(valid)
        self.invalid_ids = frozenset(invalid_ids)
        super().__init__("\n".join(str(p) for p in problems))

    def __reduce__(self) -> tuple[type[ConfigError], tuple[object, ...]]:
        # pickled whole (a queue read in a child)
        return ConfigError, (self.problems, self.valid, self.invalid_ids)


class WorkspaceNotFound(OrchestrateError):
    def __init__(self, start: Path) -> None:
        super().__init__(
            f"no orchestrate.yaml and no queues/ folder in {start} or its parents; "
            "run `orchestrate init` here, or name the workspace with `orchestrate -C DIR ...`"
        )


class TmuxError(OrchestrateError):
    """A tmux command failed in a way the daemon cannot work around."""


class StateError(OrchestrateError):
    """The state database or the lock is unusable."""


class AlreadyRunning(StateError):
    def __init__(self, lock: Path, pid: int | None) -> None:
        who = f"pid {pid}" if pid else "another process"
        super().__init__(
            f"a daemon already runs for this workspace ({who} holds {lock}); "
            "stop it with `orchestrate stop` or follow it with `orchestrate status`"
        )


_DISK_REMEDIES = {
    errno.ENOSPC: "the disk is full: free some space",
    errno.EDQUOT: "the disk quota is used up: free some space",
    errno.EROFS: "the file system is read-only: make it writable",
    errno.EACCES: "permission denied: make it writable",
    errno.EPERM: "not permitted: make it writable",
    errno.ENOENT: "it is missing",
}


def disk_problem(exc: OSError, path: Path, doing: str = "write") -> str:
    """`cannot write PATH: WHY: what to do`, for an OSError of the state folder's files."""
    where = exc.filename or path
    remedy = _DISK_REMEDIES.get(exc.errno or 0, exc.strerror or str(exc))
    return f"cannot {doing} {where}: {remedy}"

"""Keeping `.orchestrate/` the daemon's own while it runs.

The folder may vanish under a running daemon (`rm -rf`, `git clean -fdX`: init puts it in
.gitignore) or be replaced by another. The daemon's database connection goes on working on
the files it opened, so a vanished folder is restored from it with sqlite's backup API
(everything committed, the WAL included): nothing recorded is lost and the run goes on. A
database in its place that is not the one the daemon opened is another state: the daemon
keeps its own beside it and stops, so that two states never drive the same agents.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from ..errors import OrchestrateError, StateError
from ..paths import private_dir
from .store import Store

OK, RESTORED, REPLACED, TROUBLE = "ok", "restored", "replaced", "trouble"
LOG_NAME = "daemon.log"  # where a detached daemon's output goes (launch.detach)

_Id = tuple[int, int] | None


@dataclass(frozen=True)
class Check:
    kind: str  # OK | RESTORED | REPLACED | TROUBLE
    message: str = ""
    kept: Path | None = None  # REPLACED: where the daemon's own state is to be kept


def _identity(path: Path) -> _Id:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_dev, st.st_ino)


class StateGuard:
    """Watches the database `store` opened; restores it when it vanishes (see the module)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.db = store.path
        self.folder = store.path.parent
        self.opened = _identity(self.db)
        self.replaced = False  # said once; the daemon stops

    def check(self) -> Check:
        if self.replaced:
            return Check(OK)
        found = _identity(self.db)
        if found is not None and found == self.opened:
            return Check(OK)
        carried: list[tuple[str, str]] = []
        if found is not None:
            try:
                carried = self._stray_commands()
            except _Replaced as exc:
                self.replaced = True
                return self._replaced(str(exc))
            except (sqlite3.Error, StateError) as exc:
                return Check(
                    TROUBLE,
                    f"{self.db} is not the database this daemon opened and cannot be read "
                    f"({exc}); the daemon goes on with the state it holds open: remove "
                    f"{self.db} and it restores its own within a second",
                )
        try:
            self._restore(carried)
        except (OSError, sqlite3.Error, StateError) as exc:
            return Check(
                TROUBLE,
                f"{self.db} is gone and cannot be restored: {exc}; the daemon goes on with the "
                f"state it holds open and tries again every second: make {self.folder} "
                "writable (or free some space)",
            )
        what = "deleted or moved" if found is None else "replaced by a command's new database"
        return Check(
            RESTORED,
            f"{self.db} was {what} while the daemon ran: restored from the database it holds "
            "open, nothing recorded is lost"
            + (f"; {len(carried)} queued command(s) carried over" if carried else "")
            + " (the validation logs that were in the folder are gone)",
        )

    def _stray_commands(self) -> list[tuple[str, str]]:
        """A database in place of ours that no daemon ever ran on was made by a command (it
        queued itself) while the folder was gone: its commands are carried over. Any other
        is a different state."""
        try:
            other = Store(self.db, readonly=True)
        except StateError:
            if not self.db.exists():  # gone again since we looked: nothing to carry
                return []
            raise
        try:
            if other.get_meta("started") is not None or other.tasks():
                raise _Replaced("a database some daemon ran on")
            return [(c, t) for _, c, t in other.pending_commands()]
        finally:
            other.close()

    def _restore(self, carried: list[tuple[str, str]]) -> None:
        private_dir(self.folder)
        copy = self.folder / f".state.db.restoring-{os.getpid()}"
        self._copy_to(copy)
        # Names left at the path belong to no database we keep (the old files are still
        # open here, under no name); a new connection must not pick them up.
        for suffix in ("-wal", "-shm"):
            self.db.with_name(self.db.name + suffix).unlink(missing_ok=True)
        os.replace(copy, self.db)
        try:
            fresh = Store(self.db)
        except BaseException:
            self.db.unlink(missing_ok=True)
            raise
        old, self.store.db = self.store.db, fresh.db  # the daemon's Store object is kept:
        old.close()  # others hold it. sqlite sees the old file moved: it touches no path
        self.opened = _identity(self.db)
        _reopen_log(self.folder / LOG_NAME)
        if carried:
            with self.store.transaction():
                for command, target in carried:
                    self.store.add_command(command, target)

    def _copy_to(self, path: Path) -> None:
        path.unlink(missing_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
        target = sqlite3.connect(path)
        try:
            self.store.db.raw.backup(target)
        finally:
            target.close()

    def _replaced(self, what: str) -> Check:
        kept = self.folder / f"state-kept-{os.getpid()}.db"
        db = self.db
        return Check(
            REPLACED,
            f"{db} is not the database this daemon opened ({what}): .orchestrate/ was replaced "
            "while it ran. The daemon stops, so that two states never drive the same agents; "
            f"everything it recorded is kept in {kept}. To go on with it: "
            f"`rm -f {db} {db}-wal {db}-shm && mv {kept} {db}`, then `orchestrate start`; "
            "to go on with the state now in place instead: `orchestrate start`",
            kept,
        )

    def keep(self, path: Path, message: str) -> None:
        """Copy the daemon's own state (the database it holds open) to `path`, and say so
        in the folder's daemon.log (a detached daemon's own log went with the old folder)."""
        try:
            private_dir(path.parent)
            self._copy_to(path)
            fd = os.open(self.folder / LOG_NAME, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                os.write(fd, f"orchestrate: {message}\n".encode())
            finally:
                os.close(fd)
        except (OSError, sqlite3.Error) as exc:
            raise StateError(f"cannot keep the daemon's own state in {path}: {exc}") from exc


def _reopen_log(log: Path) -> None:
    """A detached daemon writes to `.orchestrate/daemon.log`; when that went with the folder,
    its output goes to the new one (Linux: /proc/self/fd names a deleted file)."""
    for fd in (1, 2):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") != f"{log} (deleted)":
                continue
            new = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        except OSError:  # no /proc, or no such fd: nothing to follow
            continue
        os.dup2(new, fd)
        os.close(new)


class StateReplaced(OrchestrateError):
    """The daemon's state folder was replaced by another state: the daemon stops."""


class _Replaced(Exception):
    """The database at the path is another state (the message says what it is)."""

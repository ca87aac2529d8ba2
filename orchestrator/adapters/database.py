"""The state database's SQLite connection: opened safely (its folder private, the file 0600,
never through a symbolic link; a read-only folder read as it stands), and every failure of a
statement a StateError that names the file and says what to do, never a traceback."""

from __future__ import annotations

import errno
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import StateError, disk_problem
from ..paths import is_a_link, private_dir

# What to do about each kind of failure, by SQLite's error name (sqlite3 gives it since 3.11).
_REMEDIES = {
    "SQLITE_FULL": "the disk is full: free some space; the daemon holds its work and goes on "
    "by itself once it can write",
    "SQLITE_READONLY": "it cannot be written: make it and its folder writable again "
    "(a read-only file or file system)",
    "SQLITE_CANTOPEN": "it cannot be opened: check that its folder exists and is writable",
    "SQLITE_IOERR": "the disk failed to read or write it (full, read-only or gone?): check the "
    "disk; the daemon holds its work and tries again",
    "SQLITE_CORRUPT": "it is corrupt: move it aside (`mv {path} {path}.corrupt`) and start "
    "again; the tasks reported on the board are then marked done from it, the others queued",
    "SQLITE_NOTADB": "it is not a database: move it aside (`mv {path} {path}.corrupt`) and "
    "start again; the tasks reported on the board are then marked done from it, the others "
    "queued",
}
_REMEDIES["SQLITE_PERM"] = _REMEDIES["SQLITE_READONLY"]
_REMEDIES["SQLITE_AUTH"] = _REMEDIES["SQLITE_READONLY"]


def state_error(exc: BaseException, path: Path) -> StateError:
    """A failure of the state database as a person needs it: the file, what went wrong,
    what to do. Never a traceback."""
    if isinstance(exc, sqlite3.Error):
        name = getattr(exc, "sqlite_errorname", "") or ""
        base = "_".join(name.split("_")[:2])  # SQLITE_IOERR_WRITE -> SQLITE_IOERR
        remedy = _REMEDIES.get(base, "see the message; the daemon tries again at its next step")
        return StateError(f"state database {path}: {exc}: {remedy.format(path=path)}")
    if isinstance(exc, OSError):
        return StateError(f"state database {path}: {disk_problem(exc, path)}")
    return StateError(f"state database {path}: {exc}")


class Rows:
    """A statement's result, fetched whole inside the guard (a lazy cursor could fail later)."""

    def __init__(self, rows: list[Any], lastrowid: int | None) -> None:
        self.rows = rows
        self.lastrowid = lastrowid

    def fetchall(self) -> list[Any]:
        return self.rows

    def fetchone(self) -> Any:
        return self.rows[0] if self.rows else None

    def __iter__(self) -> Iterator[Any]:
        return iter(self.rows)


class Guarded:
    """The SQLite connection, every error of which becomes a StateError naming the file."""

    def __init__(self, db: sqlite3.Connection, path: Path) -> None:
        self.raw = db
        self.path = path

    def execute(self, sql: str, args: Any = ()) -> Rows:
        try:
            cursor = self.raw.execute(sql, args)
            return Rows(cursor.fetchall(), cursor.lastrowid)
        except sqlite3.Error as exc:
            raise state_error(exc, self.path) from exc

    def executescript(self, sql: str) -> None:
        try:
            self.raw.executescript(sql)
        except sqlite3.Error as exc:
            raise state_error(exc, self.path) from exc

    def close(self) -> None:
        self.raw.close()


def connect(path: Path, readonly: bool) -> sqlite3.Connection:
    if readonly:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None, timeout=10)
        try:
            db.execute("SELECT 1 FROM sqlite_master LIMIT 1")
        except sqlite3.OperationalError:
            # A read-only folder: WAL readers need a writable -shm beside the file. Nothing
            # can write there either, so the file is read as it stands.
            db.close()
            db = sqlite3.connect(
                f"file:{path}?immutable=1", uri=True, isolation_level=None, timeout=10
            )
    else:
        private_dir(path.parent)
        try:
            fd = os.open(path, os.O_CREAT | os.O_RDWR | os.O_NOFOLLOW, 0o600)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise StateError(is_a_link(path)) from None
            raise
        os.close(fd)
        db = sqlite3.connect(path, isolation_level=None, timeout=30)
    db.row_factory = sqlite3.Row
    return db

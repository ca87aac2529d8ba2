"""What the state database holds: its tables and how a database of an older version of them
is brought up to date (`migrate`), the stages of a delivery, and how a task and its state are
written in a row and read back."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from ..config.settings import Task
from ..core.state import TaskState
from ..errors import StateError
from .database import Guarded

SCHEMA_VERSION = 3

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tasks (
    id TEXT PRIMARY KEY,
    ord INTEGER NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    agent TEXT,
    since REAL,
    reason TEXT NOT NULL DEFAULT '',
    spec TEXT NOT NULL,
    updated REAL NOT NULL,
    extra TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS attempts (
    task TEXT NOT NULL,
    n INTEGER NOT NULL,
    kind TEXT NOT NULL DEFAULT 'prompt',  -- prompt | fields (the follow-up for missing fields)
    agent TEXT NOT NULL,
    stage TEXT NOT NULL,          -- sending | pasted | sent
    created REAL NOT NULL,
    sent REAL,
    PRIMARY KEY (task, n, kind)
);
CREATE TABLE IF NOT EXISTS commands (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    command TEXT NOT NULL,
    target TEXT NOT NULL,
    done INTEGER NOT NULL DEFAULT 0,
    ok INTEGER,
    answer TEXT
);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    kind TEXT NOT NULL,
    task TEXT,
    agent TEXT,
    message TEXT NOT NULL,
    data TEXT
);
CREATE INDEX IF NOT EXISTS events_task ON events (task);
CREATE TABLE IF NOT EXISTS board_seen (
    digest TEXT PRIMARY KEY,
    count INTEGER NOT NULL,
    ref TEXT  -- the task the block reports on (Block.key); NULL if counted by schema 2
);
CREATE TABLE IF NOT EXISTS orphans (ref TEXT PRIMARY KEY, status TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS agents (
    name TEXT PRIMARY KEY,
    paused INTEGER NOT NULL DEFAULT 0,
    pane TEXT
);
"""


def migrate(db: Guarded, path: Path) -> None:
    """Bring a database of an older schema up to date, keeping its contents."""
    has_meta = db.execute(
        "SELECT name FROM sqlite_master WHERE type='table' AND name='meta'"
    ).fetchone()
    if not has_meta:
        return
    row = db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
    version = int(row[0]) if row else SCHEMA_VERSION
    if version == 1:
        db.executescript(
            """
            BEGIN;
            ALTER TABLE tasks ADD COLUMN extra TEXT NOT NULL DEFAULT '{}';
            ALTER TABLE attempts RENAME TO attempts_v1;
            CREATE TABLE attempts (
                task TEXT NOT NULL, n INTEGER NOT NULL,
                kind TEXT NOT NULL DEFAULT 'prompt', agent TEXT NOT NULL,
                stage TEXT NOT NULL, created REAL NOT NULL, sent REAL,
                PRIMARY KEY (task, n, kind)
            );
            INSERT INTO attempts (task, n, agent, stage, created, sent)
                SELECT task, n, agent, stage, created, sent FROM attempts_v1;
            DROP TABLE attempts_v1;
            UPDATE meta SET value = '2' WHERE key = 'schema';
            COMMIT;
            """
        )
        version = 2
    if version == 2:  # the task of each counted block: an edit is told from a new report
        seen = db.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name='board_seen'"
        ).fetchone()
        alter = "ALTER TABLE board_seen ADD COLUMN ref TEXT;" if seen else ""
        db.executescript(
            f"BEGIN; {alter} UPDATE meta SET value = '3' WHERE key = 'schema'; COMMIT;"
        )
    elif version > SCHEMA_VERSION:
        raise StateError(
            f"{path} was written by a newer orchestrate (schema {version}); upgrade orchestrate"
        )


SENDING, PASTED, SENT = "sending", "pasted", "sent"
PROMPT, FIELDS = "prompt", "fields"

# TaskState fields kept in the `extra` JSON column, with how to read them back.
EXTRA: dict[str, Any] = {
    "feedback": str,
    "pinned": lambda v: v,
    "fields": lambda v: tuple((str(n), str(x)) for n, x in v),
    "followup": bool,
    "asking": bool,
    "blocked_by": lambda v: v,
    "budget_from": int,
    "flags": frozenset,
    "last_report": lambda v: v,
    "validation": str,
    "log": str,
    "urgent": bool,
    "withdrawn": bool,
}
DEFAULTS = {f.name: f.default for f in fields(TaskState) if f.name in EXTRA}


@dataclass(frozen=True)
class Attempt:
    task: str
    n: int
    kind: str
    agent: str
    stage: str
    created: float
    sent: float | None


@dataclass(frozen=True)
class Event:
    seq: int
    ts: float
    kind: str
    task: str | None
    agent: str | None
    message: str
    data: dict[str, Any] | None


def task_to_json(task: Task) -> str:
    return json.dumps(
        {
            "id": task.id,
            "title": task.title,
            "agent": task.agent,
            "priority": task.priority,
            "phase": task.phase,
            "after": list(task.after),
            "estimate": task.estimate,
            "uses": list(task.uses),
            "prompt": task.prompt,
            "report": list(task.report),
            "validate": list(task.validate),
            "retries": task.retries,
            "file": str(task.file),
            "line": task.line,
            "timeout": task.timeout,
        },
        ensure_ascii=False,
    )


@functools.lru_cache(maxsize=256)
def _path(text: str) -> Path:
    """One Path per queue file, however many tasks it holds (making one costs microseconds)."""
    return Path(text)


def task_from_json(text: str) -> Task:
    d = json.loads(text)
    return Task(
        id=d["id"],
        title=d["title"],
        agent=d["agent"],
        priority=d["priority"],
        phase=d["phase"],
        after=tuple(d["after"]),
        estimate=d["estimate"],
        uses=tuple(d["uses"]),
        prompt=d["prompt"],
        report=tuple(d["report"]),
        validate=tuple(d["validate"]),
        retries=d["retries"],
        file=_path(d["file"]),
        line=d["line"],
        timeout=d.get("timeout", 600.0),
    )

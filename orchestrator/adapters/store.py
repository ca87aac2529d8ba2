"""State in `.orchestrate/state.db` (SQLite, WAL): tasks, attempts, the journal, the reader.

With schema.py (its tables, their migrations, and how a task is written in a row), the only
module that speaks SQL. Its queries are grouped by what the tables hold, one class each (the
daemon's state, the journal, the board reader's memory, the operator's commands), and Store,
made of them all, is the one object its users hold. Every change the daemon makes goes
through one transaction (`with store.transaction():`), so that the effects of a board read
and the reader's new position are committed together, and a dispatch is on disk before its
keys are sent.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from ..board import ReaderState
from ..core.state import TaskState
from ..errors import StateError
from ..paths import refuse_link
from .database import Guarded, connect, state_error
from .schema import (
    DEFAULTS,
    EXTRA,
    PROMPT,
    SCHEMA,
    SCHEMA_VERSION,
    SENT,
    Attempt,
    Event,
    migrate,
    task_from_json,
    task_to_json,
)


class Tables:
    """What the query classes below share: the connection. (statedir.py gives a running
    daemon's Store a new one after restoring its database: read it at each query.)"""

    db: Guarded


class StateTables(Tables):
    """The daemon's state in rows, what a start resumes from: the tasks, the attempts to
    deliver their prompts, the agents (paused, their panes) and the reports on tasks that no
    queue holds (orphans)."""

    # ----------------------------------------------------------------- tasks

    def save_task(self, t: TaskState) -> None:
        self.db.execute(
            "INSERT INTO tasks (id, ord, status, attempts, agent, since, reason, spec, updated,"
            " extra) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
            "ord=excluded.ord, status=excluded.status, attempts=excluded.attempts, "
            "agent=excluded.agent, since=excluded.since, reason=excluded.reason, "
            "spec=excluded.spec, updated=excluded.updated, extra=excluded.extra",
            (
                t.id,
                t.order,
                t.status,
                t.attempts,
                t.agent,
                t.since,
                t.reason,
                task_to_json(t.task),
                time.time(),
                json.dumps(
                    {  # a field at its default is left out (most are: reading stays cheap)
                        name: sorted(value) if isinstance(value, frozenset) else value
                        for name in EXTRA
                        if (value := getattr(t, name)) != DEFAULTS[name]
                    },
                    ensure_ascii=False,
                ),
            ),
        )

    def tasks(self) -> list[TaskState]:
        rows = self.db.execute("SELECT * FROM tasks ORDER BY ord, id").fetchall()
        return [
            TaskState(
                task=task_from_json(r["spec"]),
                order=r["ord"],
                status=r["status"],
                attempts=r["attempts"],
                agent=r["agent"],
                since=r["since"],
                reason=r["reason"],
                **(
                    {
                        name: EXTRA[name](value)
                        for name, value in json.loads(r["extra"]).items()
                        if name in EXTRA
                    }
                    if r["extra"] not in (None, "{}")
                    else {}
                ),
            )
            for r in rows
        ]

    # ----------------------------------------------------------------- attempts

    def record_attempt(
        self, task: str, n: int, agent: str, stage: str, now: float, kind: str = PROMPT
    ) -> None:
        self.db.execute(
            "INSERT INTO attempts (task, n, kind, agent, stage, created) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (task, n, kind) DO UPDATE SET agent=excluded.agent, stage=excluded.stage",
            (task, n, kind, agent, stage, now),
        )

    def set_stage(self, task: str, n: int, stage: str, now: float, kind: str = PROMPT) -> None:
        self.db.execute(
            "UPDATE attempts SET stage = ?, sent = CASE WHEN ? = 'sent' THEN ? ELSE sent END "
            "WHERE task = ? AND n = ? AND kind = ?",
            (stage, stage, now, task, n, kind),
        )

    def attempts(self, task: str | None = None) -> list[Attempt]:
        query = "SELECT * FROM attempts"
        args: tuple[Any, ...] = ()
        if task is not None:
            query += " WHERE task = ?"
            args = (task,)
        rows = self.db.execute(query + " ORDER BY created, task, n", args).fetchall()
        return [
            Attempt(r["task"], r["n"], r["kind"], r["agent"], r["stage"], r["created"], r["sent"])
            for r in rows
        ]

    def unfinished_attempts(self) -> list[Attempt]:
        return [a for a in self.attempts() if a.stage != SENT]

    # ----------------------------------------------------------------- agents

    def paused_agents(self) -> set[str]:
        rows = self.db.execute("SELECT name FROM agents WHERE paused = 1").fetchall()
        return {r["name"] for r in rows}

    def set_paused(self, agent: str, paused: bool) -> None:
        self.db.execute(
            "INSERT INTO agents (name, paused) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET paused = excluded.paused",
            (agent, int(paused)),
        )

    def set_pane(self, agent: str, pane: str) -> None:
        self.db.execute(
            "INSERT INTO agents (name, pane) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET pane = excluded.pane",
            (agent, pane),
        )

    def panes(self) -> dict[str, str]:
        rows = self.db.execute("SELECT name, pane FROM agents WHERE pane IS NOT NULL").fetchall()
        return {r["name"]: r["pane"] for r in rows}

    # ----------------------------------------------------------------- orphans

    def remember_orphan(self, ref: str, status: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO orphans VALUES (?, ?)", (ref, status))

    def orphans(self) -> dict[str, str]:
        rows = self.db.execute("SELECT ref, status FROM orphans").fetchall()
        return {r["ref"]: r["status"] for r in rows}


class EventTable(Tables):
    """The journal: what happened, in order (`seq`), with the task and agent it concerns."""

    def journal(
        self,
        kind: str,
        message: str,
        task: str | None = None,
        agent: str | None = None,
        data: dict[str, Any] | None = None,
        ts: float | None = None,
    ) -> None:
        self.db.execute(
            "INSERT INTO events (ts, kind, task, agent, message, data) VALUES (?, ?, ?, ?, ?, ?)",
            (
                time.time() if ts is None else ts,
                kind,
                task,
                agent,
                message,
                json.dumps(data, ensure_ascii=False) if data is not None else None,
            ),
        )

    def events(
        self, after: int = 0, task: str | None = None, limit: int = -1, agent: str | None = None
    ) -> list[Event]:
        query = "SELECT * FROM events WHERE seq > ?"
        args: list[Any] = [after]
        if task is not None:
            query += " AND task = ?"
            args.append(task)
        if agent is not None:
            query += " AND agent = ?"
            args.append(agent)
        query += " ORDER BY seq"
        if limit >= 0:
            query = f"SELECT * FROM ({query.replace('ORDER BY seq', 'ORDER BY seq DESC')}"
            query += f" LIMIT {int(limit)}) ORDER BY seq"
        rows = self.db.execute(query, args).fetchall()
        return [
            Event(
                r["seq"],
                r["ts"],
                r["kind"],
                r["task"],
                r["agent"],
                r["message"],
                json.loads(r["data"]) if r["data"] else None,
            )
            for r in rows
        ]


class ReaderTables(Tables):
    """The board reader's memory: where it stopped reading (`meta` 'reader') and the report
    blocks it has counted, how many times each and the task it reports on (board_seen)."""

    def reader_state(self) -> ReaderState:
        row = self.db.execute("SELECT value FROM meta WHERE key = 'reader'").fetchone()
        if row is None:
            return ReaderState()
        d = json.loads(row["value"])
        return ReaderState(
            offset=d["offset"],
            tail=d["tail"],
            fence=d["fence"],
            line=d["line"],
            fence_line=d.get("fence_line", 0),
            last=d.get("last", ""),
        )

    def save_reader(
        self,
        state: ReaderState,
        digests: Iterable[str],
        refs: Mapping[str, str] | None = None,
        forgotten: Iterable[str] = (),
    ) -> None:
        """The reader's position and the blocks it counted: one more count for each of
        `digests` (`refs` names a digest's task), one less for each of `forgotten`."""
        value = json.dumps(
            {
                "offset": state.offset,
                "tail": state.tail,
                "fence": state.fence,
                "line": state.line,
                "fence_line": state.fence_line,
                "last": state.last,
            }
        )
        self.db.execute("INSERT OR REPLACE INTO meta VALUES ('reader', ?)", (value,))
        refs = refs or {}
        counts = Counter(digests)
        for digest, count in counts.items():
            self.db.execute(
                "INSERT INTO board_seen VALUES (?, ?, ?) ON CONFLICT (digest) DO UPDATE SET "
                "count = count + excluded.count, ref = coalesce(excluded.ref, ref)",
                (digest, count, refs.get(digest)),
            )
        for digest in refs.keys() - counts.keys():  # learnt for a block counted before
            self.db.execute(
                "UPDATE board_seen SET ref = ? WHERE digest = ?", (refs[digest], digest)
            )
        for digest, count in Counter(forgotten).items():
            self.db.execute(
                "UPDATE board_seen SET count = count - ? WHERE digest = ?", (count, digest)
            )
        if forgotten:
            self.db.execute("DELETE FROM board_seen WHERE count <= 0")

    def seen(self) -> Counter[str]:
        rows = self.db.execute("SELECT digest, count FROM board_seen").fetchall()
        return Counter({r["digest"]: r["count"] for r in rows})

    def seen_refs(self) -> dict[str, str]:
        """The task (`Block.key`) of each counted block, where it was recorded."""
        rows = self.db.execute("SELECT digest, ref FROM board_seen WHERE ref IS NOT NULL")
        return {r["digest"]: r["ref"] for r in rows}


class CommandTable(Tables):
    """Operator commands: queued by the command line, answered by the daemon."""

    def add_command(self, command: str, target: str) -> int:
        cursor = self.db.execute(
            "INSERT INTO commands (ts, command, target) VALUES (?, ?, ?)",
            (time.time(), command, target),
        )
        return int(cursor.lastrowid or 0)

    def pending_commands(self) -> list[tuple[int, str, str]]:
        rows = self.db.execute(
            "SELECT seq, command, target FROM commands WHERE done = 0 ORDER BY seq"
        ).fetchall()
        return [(r["seq"], r["command"], r["target"]) for r in rows]

    def answer_command(self, seq: int, ok: bool, answer: str) -> None:
        self.db.execute(
            "UPDATE commands SET done = 1, ok = ?, answer = ? WHERE seq = ?",
            (int(ok), answer, seq),
        )

    def command_answer(self, seq: int) -> tuple[bool, str] | None:
        row = self.db.execute(
            "SELECT ok, answer FROM commands WHERE seq = ? AND done = 1", (seq,)
        ).fetchone()
        return None if row is None else (bool(row["ok"]), str(row["answer"]))


class Store(StateTables, EventTable, ReaderTables, CommandTable):
    """The one object its users hold: the connection (opened, its schema brought up to
    date), its transactions and the `meta` table; the queries of the other tables are those
    of the classes it is made of."""

    def __init__(self, path: Path, readonly: bool = False) -> None:
        self.path = path
        self._depth = 0
        refuse_link(path.parent)  # the state folder, then the database in it
        refuse_link(path)
        if readonly and not path.exists():
            raise StateError(f"no state yet at {path}: start the daemon once")
        try:
            self.db = Guarded(connect(path, readonly), path)
        except (sqlite3.Error, OSError) as exc:
            raise state_error(exc, path) from exc
        if not readonly:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            migrate(self.db, path)
            self.db.executescript(SCHEMA)
            self.db.execute(
                "INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),)
            )

    def created(self) -> bool:
        """Has a daemon created every table yet? (`status` at a first start may come first.)
        The schema's tables are created in order; `agents` is the last."""
        found = self.db.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name='agents'"
        ).fetchone()
        return found is not None

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Nestable: only the outermost block commits. A failure anywhere, the COMMIT's own
        (a full disk) included, rolls the whole transaction back and raises StateError."""
        if self._depth == 0:
            self.db.execute("BEGIN IMMEDIATE")
        self._depth += 1
        try:
            yield
            if self._depth == 1:
                self.db.execute("COMMIT")
        except BaseException:
            if self._depth == 1 and self.db.raw.in_transaction:
                # The first error is the one to tell; SQLite rolls back by itself on some.
                with suppress(StateError):
                    self.db.execute("ROLLBACK")
            raise
        finally:
            self._depth -= 1

    # ----------------------------------------------------------------- meta

    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row["value"])

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

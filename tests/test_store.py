"""The state store: round trips, the journal, and migrating an older database."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from orchestrator.adapters.schema import FIELDS, PASTED, SCHEMA_VERSION, SENDING, SENT
from orchestrator.adapters.store import Store
from orchestrator.board import ReaderState
from orchestrator.core.state import TaskState

from .test_scheduler import task


def test_task_state_round_trip(tmp_path: Path) -> None:
    store = Store(tmp_path / "s" / "state.db")
    state = TaskState(
        task("T", validate=("make check",), report=("Tests",), timeout=42.0),
        3,
        status="validating",
        attempts=2,
        agent="a",
        since=12.5,
        reason="r",
        feedback="fix it",
        pinned="a",
        fields=(("Tests", "3"),),
        followup=True,
        asking=True,
        blocked_by=None,
        budget_from=1,
        flags=frozenset({"overdue"}),
        last_report=13.0,
        validation="1/1 passed",
        log="/x.log",
    )
    plain = TaskState(task("U"), 4)  # every extra field at its default: stored as {}
    zero = TaskState(task("V"), 5, last_report=0.0, urgent=True)  # false, yet not the default
    with store.transaction():
        for each in (state, plain, zero):
            store.save_task(each)
    assert store.tasks() == [state, plain, zero]
    assert [r[0] for r in store.db.execute("SELECT extra FROM tasks ORDER BY ord")][1] == "{}"
    assert oct((tmp_path / "s").stat().st_mode & 0o777) == "0o700"
    assert oct((tmp_path / "s" / "state.db").stat().st_mode & 0o777) == "0o600"


def test_attempt_stages_per_kind(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db")
    with store.transaction():
        store.record_attempt("T", 1, "a", SENDING, 1.0)
        store.record_attempt("T", 1, "a", SENDING, 2.0, FIELDS)
        store.set_stage("T", 1, SENT, 3.0)
        store.set_stage("T", 1, PASTED, 4.0, FIELDS)
    (unfinished,) = store.unfinished_attempts()
    assert (unfinished.kind, unfinished.stage) == (FIELDS, PASTED)


def test_reader_state_and_seen_counts(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db")
    with store.transaction():
        store.save_reader(ReaderState(10, "abc", "```", 3), ["d1", "d1", "d2"])
        store.save_reader(ReaderState(20, "def", "", 5), ["d1"])
    assert store.reader_state() == ReaderState(20, "def", "", 5)
    assert store.seen() == {"d1": 3, "d2": 1}


def test_commands_are_answered_once(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db")
    with store.transaction():
        seq = store.add_command("retry", "T")
    assert store.pending_commands() == [(seq, "retry", "T")]
    assert store.command_answer(seq) is None
    with store.transaction():
        store.answer_command(seq, True, "done")
    assert store.pending_commands() == []
    assert store.command_answer(seq) == (True, "done")


def test_a_version_1_database_is_migrated_in_place(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    db = sqlite3.connect(path)
    db.executescript(
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        INSERT INTO meta VALUES ('schema', '1');
        CREATE TABLE tasks (id TEXT PRIMARY KEY, ord INTEGER NOT NULL, status TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0, agent TEXT, since REAL,
            reason TEXT NOT NULL DEFAULT '', spec TEXT NOT NULL, updated REAL NOT NULL);
        CREATE TABLE attempts (task TEXT NOT NULL, n INTEGER NOT NULL, agent TEXT NOT NULL,
            stage TEXT NOT NULL, created REAL NOT NULL, sent REAL, PRIMARY KEY (task, n));
        INSERT INTO attempts VALUES ('T', 1, 'a', 'pasted', 1.0, NULL);
        """
    )
    from orchestrator.adapters.schema import task_to_json

    db.execute(
        "INSERT INTO tasks VALUES ('T', 0, 'dispatched', 1, 'a', 1.0, '', ?, 1.0)",
        (task_to_json(task("T")),),
    )
    db.commit()
    db.close()
    store = Store(path)
    (t,) = store.tasks()
    assert (t.id, t.status, t.attempts, t.feedback) == ("T", "dispatched", 1, "")
    (attempt,) = store.unfinished_attempts()
    assert (attempt.kind, attempt.stage) == ("prompt", "pasted")
    assert store.get_meta("schema") == str(SCHEMA_VERSION)

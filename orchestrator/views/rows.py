"""What a person sees, as data: the rows of tasks and agents, the snapshot that holds them, and
its JSON (`status --json`, and the copy the running daemon publishes for `status`).

Free of the settings and of every third-party library, so that `status` while a daemon runs
loads in milliseconds (quick.py).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..core.taskstate import ACTIVE
from ..text import duration, printable, printable_data

if TYPE_CHECKING:
    from ..adapters.schema import Event

STATUS_ICONS = {
    "queued": "⏳",
    "dispatched": "🔄",
    "validating": "🔎",
    "done": "✅",
    "failed": "❌",
    "blocked": "⛔",
    "cancelled": "🚫",
}


@dataclass(frozen=True)
class TaskRow:
    id: str
    title: str
    agent: str
    priority: str
    status: str
    attempts: int
    since: float | None
    estimate: float | None
    overdue: bool
    reason: str
    file: str
    validation: str = ""
    log: str = ""
    flags: tuple[str, ...] = ()
    blocked_by: str | None = None
    why: str = ""  # why it is where it is, in a few words (why.reasons)


@dataclass(frozen=True)
class AgentRow:
    name: str
    state: str
    task: str | None
    window: str
    since: float | None = None  # when its current task was dispatched


@dataclass(frozen=True)
class Snapshot:
    session: str
    workspace: str
    now: float
    tasks: tuple[TaskRow, ...]
    agents: tuple[AgentRow, ...]
    running: bool = True
    started: float | None = None  # when the daemon started
    board: str = ""
    # What is wrong now and stays wrong until fixed ("FILE:LINE: message" for a queue file):
    # the running daemon's word, or (none running) what the files say.
    problems: tuple[str, ...] = ()
    eta: float | None = None  # seconds until the queue should be done (why.queue_eta)

    def totals(self) -> dict[str, int]:
        counts = {s: 0 for s in ("done", "running", "queued", "failed", "blocked", "cancelled")}
        for t in self.tasks:
            key = "running" if t.status in ACTIVE else t.status
            counts[key] = counts.get(key, 0) + 1
        return {"total": len(self.tasks), **counts}


def eta(row: TaskRow, now: float) -> str:
    """Elapsed against the estimate while running; the estimate while queued."""
    if row.status in ACTIVE and row.since is not None:
        spent = duration(now - row.since)
        text = f"{spent}/{duration(row.estimate)}" if row.estimate else spent
        return text + (" OVERDUE" if row.overdue else "")
    if row.status == "queued":
        return duration(row.estimate)
    return "-"


def queue_left(snap: Snapshot) -> str:
    """`~12m` until the queue should be done, `done` when it is, `-` when nothing tells."""
    totals = snap.totals()
    if totals["done"] + totals["cancelled"] == totals["total"]:
        return "done"
    return "-" if snap.eta is None else f"~{duration(snap.eta)}"


def status_json(snap: Snapshot) -> dict[str, Any]:
    """`status --json`: its texts without control characters (JSON would escape them, and
    `jq -r` print them raw)."""
    shown: dict[str, Any] = printable_data(_status_data(snap))
    return shown


def _status_data(snap: Snapshot) -> dict[str, Any]:
    return {
        "session": snap.session,
        "workspace": snap.workspace,
        "daemon": "running" if snap.running else "stopped",
        "tasks": [
            {
                "id": t.id,
                "title": t.title,
                "agent": t.agent,
                "priority": t.priority,
                "status": t.status,
                "attempts": t.attempts,
                "overdue": t.overdue,
                "since": t.since,
                "estimate": t.estimate,
                "reason": t.reason,
                "file": t.file,
                "validation": t.validation,
                "log": t.log,
                "flags": list(t.flags),
                "blocked_by": t.blocked_by,
                "why": t.why,
            }
            for t in snap.tasks
        ],
        "agents": [
            {"name": a.name, "state": a.state, "task": a.task, "window": a.window, "since": a.since}
            for a in snap.agents
        ],
        "totals": snap.totals(),
        "problems": list(snap.problems),
        "eta": snap.eta,
    }


def json_text(obj: dict[str, Any]) -> str:
    """`obj` as JSON, indented, with each element of its lists on a line of its own: readable,
    greppable, and encoded by json's C encoder (`indent=` falls back to its Python one, which
    takes ten times as long on thousands of tasks)."""

    def one(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False)

    def member(value: Any) -> str:
        if isinstance(value, list) and value:
            return "[\n" + ",\n".join(f"    {one(v)}" for v in value) + "\n  ]"
        return one(value)

    return "{\n" + ",\n".join(f"  {one(k)}: {member(v)}" for k, v in obj.items()) + "\n}"


def snapshot_from_status(
    data: dict[str, Any], now: float, started: float | None, board: str
) -> Snapshot:
    """The snapshot a running daemon's `status --json` data stands for (what that data does
    not hold comes as arguments). Raises KeyError, TypeError or ValueError on data of another
    shape."""
    tasks = tuple(_task_row(row) for row in data["tasks"])
    return Snapshot(
        session=data["session"],
        workspace=data["workspace"],
        now=now,
        tasks=tasks,
        agents=tuple(AgentRow(**row) for row in data["agents"]),
        running=data["daemon"] == "running",
        started=started,
        board=board,
        problems=tuple(data["problems"]),
        eta=data["eta"],
    )


def _task_row(row: dict[str, Any]) -> TaskRow:
    """A row of `status --json`, read back (field by field: at 10,000 tasks, unpacking each
    row's dict into the constructor costs twice as much)."""
    r = row
    if len(r) != len(TASK_FIELDS):
        raise ValueError("a task row of another shape")
    return TaskRow(
        r["id"], r["title"], r["agent"], r["priority"], r["status"], r["attempts"], r["since"],
        r["estimate"], r["overdue"], r["reason"], r["file"], r["validation"], r["log"],
        tuple(r["flags"]), r["blocked_by"], r["why"],
    )  # fmt: skip


TASK_FIELDS = frozenset(TaskRow.__dataclass_fields__)


def journal_line(e: Event, as_json: bool = False) -> str:
    """One event of the journal as `logs` prints it: a line for people, or a JSON object.
    Rows an older orchestrate wrote hold board text as it came: cleaned here."""
    if as_json:
        record = {
            "seq": e.seq,
            "ts": e.ts,
            "kind": e.kind,
            "task": e.task,
            "agent": e.agent,
            "message": e.message,
            "data": e.data,
        }
        return json.dumps(printable_data(record), ensure_ascii=False)
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(e.ts))
    return f"{stamp} {e.kind:<14} {printable(e.message)}"

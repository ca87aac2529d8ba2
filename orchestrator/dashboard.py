"""One presenter for all output: the status snapshot as markdown, JSON, a rich table, log lines.

The only module that imports rich.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from .state import ACTIVE, State, TaskState

STATUS_ICONS = {
    "queued": "⏳",
    "dispatched": "🔄",
    "validating": "🔎",
    "done": "✅",
    "failed": "❌",
    "blocked": "⛔",
    "cancelled": "🚫",
}
STATUS_STYLES = {
    "queued": "dim",
    "dispatched": "yellow",
    "validating": "cyan",
    "done": "green",
    "failed": "red",
    "blocked": "magenta",
    "cancelled": "dim",
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

    @property
    def check(self) -> str:
        """The last validation in a few words: what the operator looks at first."""
        if not self.validation:
            return "-"
        return ("✅ " if self.status == "done" else "❌ ") + self.validation


@dataclass(frozen=True)
class AgentRow:
    name: str
    state: str
    task: str | None
    window: str


@dataclass(frozen=True)
class Snapshot:
    session: str
    workspace: str
    now: float
    tasks: tuple[TaskRow, ...]
    agents: tuple[AgentRow, ...]
    running: bool = True

    def totals(self) -> dict[str, int]:
        counts = {s: 0 for s in ("done", "running", "queued", "failed", "blocked", "cancelled")}
        for t in self.tasks:
            key = "running" if t.status in ACTIVE else t.status
            counts[key] = counts.get(key, 0) + 1
        return {"total": len(self.tasks), **counts}


def task_row(t: TaskState, now: float) -> TaskRow:
    return TaskRow(
        id=t.id,
        title=t.task.title,
        agent=t.agent if t.agent and t.task.agent == "any" else t.task.agent,
        priority=t.task.priority,
        status=t.status,
        attempts=t.attempts,
        since=t.since,
        estimate=t.task.estimate,
        overdue=t.overdue(now),
        reason=t.reason,
        file=f"{t.task.file.name}:{t.task.line}",
        validation=t.validation,
        log=t.log,
        flags=tuple(sorted(t.flags | ({"overdue"} if t.overdue(now) else set()))),
        blocked_by=t.blocked_by,
    )


def agent_label(state: State, name: str, detail: str) -> str:
    agent = state.agent(name)
    if agent is None:
        return "unknown"
    if agent.paused:
        return "paused"
    if not agent.present:
        return "gone"
    if not agent.ready:
        return detail or "starting"
    return "busy" if agent.task else "idle"


def snapshot(
    state: State,
    session: str,
    workspace: Path,
    now: float,
    windows: dict[str, str],
    details: dict[str, str],
    running: bool = True,
) -> Snapshot:
    tasks = sorted(state.tasks.values(), key=lambda t: t.order)
    return Snapshot(
        session=session,
        workspace=str(workspace),
        now=now,
        tasks=tuple(task_row(t, now) for t in tasks),
        agents=tuple(
            AgentRow(
                a.name,
                agent_label(state, a.name, details.get(a.name, "")),
                a.task,
                windows.get(a.name, "?"),
            )
            for a in state.agents
        ),
        running=running,
    )


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def eta(row: TaskRow, now: float) -> str:
    """Elapsed against the estimate while running; the estimate while queued."""
    if row.status in ACTIVE and row.since is not None:
        spent = duration(now - row.since)
        text = f"{spent}/{duration(row.estimate)}" if row.estimate else spent
        return text + (" OVERDUE" if row.overdue else "")
    if row.status == "queued":
        return duration(row.estimate)
    return "-"


# --------------------------------------------------------------------------- renderers


def status_markdown(snap: Snapshot) -> str:
    """ORCHESTRATOR_STATUS.md: the seeds' dashboard, kept by the daemon."""
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(snap.now))
    lines = [
        "# Orchestrator status",
        "",
        f"**Session**: {snap.session}  ",
        f"**Updated**: {stamp}  ",
        f"**Daemon**: {'running' if snap.running else 'stopped'}",
        "",
        "| ID | Task | Agent | Status | Attempts | Check | ETA |",
        "|----|------|-------|--------|----------|-------|-----|",
    ]
    for t in snap.tasks:
        icon = STATUS_ICONS.get(t.status, "")
        title = t.title.replace("|", "\\|")
        status = f"{icon} {t.status.upper()}" + "".join(f" ⚠️ {f.upper()}" for f in t.flags)
        if t.blocked_by:
            status += f" (by {t.blocked_by})"
        check = t.check.replace("|", "\\|")
        lines.append(
            f"| {t.id} | {title} | {t.agent} | {status} | {t.attempts} | {check} "
            f"| {eta(t, snap.now)} |"
        )
    totals = snap.totals()
    lines += [
        "",
        f"**Total**: {totals['total']}  ",
        f"**Done**: {totals['done']}  ",
        f"**Running**: {totals['running']}  ",
        f"**Queued**: {totals['queued']}  ",
        f"**Failed**: {totals['failed']}  ",
        f"**Blocked**: {totals['blocked']}",
        "",
        "| Agent | Window | State | Task |",
        "|-------|--------|-------|------|",
    ]
    for a in snap.agents:
        lines.append(f"| {a.name} | {a.window} | {a.state} | {a.task or '-'} |")
    logs = [t for t in snap.tasks if t.log]
    if logs:
        lines += ["", "**Validation logs**:", ""]
        lines += [f"- {t.id} (attempt {t.attempts}): `{t.log}`" for t in logs]
    return "\n".join(lines) + "\n"


def status_json(snap: Snapshot) -> dict[str, Any]:
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
            }
            for t in snap.tasks
        ],
        "agents": [
            {"name": a.name, "state": a.state, "task": a.task, "window": a.window}
            for a in snap.agents
        ],
        "totals": snap.totals(),
    }


def status_table(snap: Snapshot) -> Table:
    table = Table(title=f"{snap.session} · {snap.workspace}", expand=True)
    # In a narrow pane the ids, statuses and numbers keep their width; titles give way.
    id_width = max((len(t.id) for t in snap.tasks), default=2)
    table.add_column("ID", no_wrap=True, min_width=id_width)
    table.add_column("Task", overflow="ellipsis", no_wrap=True, ratio=3, min_width=8)
    table.add_column("Agent", overflow="ellipsis", no_wrap=True, max_width=12)
    table.add_column("Status", min_width=10, max_width=12)  # flags wrap below the status
    table.add_column("Try", no_wrap=True, justify="right", min_width=3)
    table.add_column("Check", overflow="ellipsis", no_wrap=True, ratio=2, max_width=28)
    table.add_column("ETA", no_wrap=True, min_width=5)
    for t in snap.tasks:
        style = STATUS_STYLES.get(t.status, "")
        status = Text(t.status + "".join(f" {f}" for f in t.flags), style=style)
        table.add_row(t.id, t.title, t.agent, status, str(t.attempts), t.check, eta(t, snap.now))
    totals = snap.totals()
    table.caption = "  ".join(f"{k} {v}" for k, v in totals.items() if v or k == "total")
    return table


def agents_table(snap: Snapshot) -> Table:
    table = Table(box=None, show_header=False, pad_edge=False)
    for a in snap.agents:
        table.add_row(f"[bold]{a.name}[/]", a.window, a.state, a.task or "")
    return table


def write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


# --------------------------------------------------------------------------- views


class View(Protocol):
    def event(self, kind: str, message: str, task: str | None, agent: str | None) -> None: ...

    def update(self, snap: Snapshot) -> None: ...

    def close(self) -> None: ...


class PlainView:
    """One line per event, for logs and pipes."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stdout

    def event(self, kind: str, message: str, task: str | None, agent: str | None) -> None:
        stamp = time.strftime("%H:%M:%S")
        self.stream.write(f"{stamp} {kind:<14} {message}\n")
        self.stream.flush()

    def update(self, snap: Snapshot) -> None:
        pass

    def close(self) -> None:
        pass


class LiveView:
    """The dashboard in a terminal, redrawn when something changes."""

    def __init__(self, console: Console | None = None, keep: int = 8) -> None:
        self.console = console or Console()
        self.recent: list[str] = []
        self.keep = keep
        self.snap: Snapshot | None = None
        self.live = Live(console=self.console, auto_refresh=False, transient=False)
        self.live.start()

    def event(self, kind: str, message: str, task: str | None, agent: str | None) -> None:
        self.recent = [*self.recent, f"{time.strftime('%H:%M:%S')} {message}"][-self.keep :]
        self._draw()

    def update(self, snap: Snapshot) -> None:
        self.snap = snap
        self._draw()

    def _draw(self) -> None:
        parts: list[Any] = []
        if self.snap is not None:
            parts += [status_table(self.snap), agents_table(self.snap)]
        parts += [Text(line, style="dim") for line in self.recent]
        self.live.update(Group(*parts), refresh=True)

    def close(self) -> None:
        self.live.stop()


def print_status(snap: Snapshot, stream: IO[str] | None = None) -> None:
    console = Console(file=stream or sys.stdout)
    console.print(status_table(snap))
    console.print(agents_table(snap))


def plain_lines(rows: Iterable[Sequence[str]]) -> str:
    return "\n".join("  ".join(r) for r in rows)

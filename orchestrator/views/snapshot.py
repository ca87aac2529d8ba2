"""The snapshot of the state (tasks and agents, for people), made from the state or read from
the store, and ORCHESTRATOR_STATUS.md. No rich here."""

from __future__ import annotations

import json
import os
import secrets
import time
from contextlib import suppress
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.state import ACTIVE, AgentState, State, TaskState, frozen_tasks
from ..core.why import queue_eta, reasons
from ..text import printable
from .rows import STATUS_ICONS, AgentRow, Snapshot, TaskRow, eta, queue_left

if TYPE_CHECKING:
    from ..config.settings import Settings


def task_row(t: TaskState, now: float, why: str = "") -> TaskRow:
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
        why=why,
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
    started: float | None = None,
    board: str = "",
    problems: tuple[str, ...] = (),
) -> Snapshot:
    tasks = sorted(state.tasks.values(), key=lambda t: t.order)
    why = reasons(state, now)

    def since(task: str | None) -> float | None:
        held = state.tasks.get(task) if task else None
        return held.since if held else None

    return Snapshot(
        session=session,
        workspace=str(workspace),
        now=now,
        tasks=tuple(task_row(t, now, why.get(t.id, "")) for t in tasks),
        agents=tuple(
            AgentRow(
                a.name,
                agent_label(state, a.name, details.get(a.name, "")),
                a.task,
                windows.get(a.name, "?"),
                since(a.task),
            )
            for a in state.agents
        ),
        running=running,
        started=started,
        board=board,
        problems=problems,
        eta=queue_eta(state, now),
    )


def status_markdown(snap: Snapshot) -> str:
    """ORCHESTRATOR_STATUS.md: the seeds' dashboard, kept by the daemon. Its texts (titles,
    checks, windows...) without control characters, each alone (a sequence cut off at the
    end of one would take the next cell with it)."""
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(snap.now))
    lines = [
        "# Orchestrator status",
        "",
        f"**Session**: {printable(snap.session)}  ",
        f"**Updated**: {stamp}  ",
        f"**Daemon**: {'running' if snap.running else 'stopped'}  ",
        f"**Queue ETA**: {queue_left(snap)}",
        "",
        "| ID | Task | Agent | Status | Attempts | Why | ETA |",
        "|----|------|-------|--------|----------|-----|-----|",
    ]
    for t in snap.tasks:
        icon = STATUS_ICONS.get(t.status, "")
        title = printable(t.title).replace("|", "\\|")
        status = f"{icon} {t.status.upper()}" + "".join(f" ⚠️ {f.upper()}" for f in t.flags)
        if t.blocked_by:
            status += f" (by {t.blocked_by})"
        check = printable(t.why).replace("|", "\\|")
        lines.append(
            f"| {t.id} | {title} | {printable(t.agent)} | {status} | {t.attempts} | {check} "
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
        cells = (printable(a.name), printable(a.window), printable(a.state), a.task or "-")
        lines.append("| " + " | ".join(cells) + " |")
    if snap.problems:
        lines += ["", "**Problems** (until fixed):", ""]
        lines += [f"- {printable(p)}" for p in snap.problems]
    logs = [t for t in snap.tasks if t.log]
    if logs:
        lines += ["", "**Validation logs**:", ""]
        lines += [f"- {t.id} (attempt {t.attempts}): `{printable(t.log)}`" for t in logs]
    return "\n".join(lines) + "\n"


def write_atomically(path: Path, text: str, mode: int = 0o666) -> None:
    """Write `path` whole: a new temporary file beside it, then a rename over it. The
    temporary name is new each time and made with O_EXCL, so that nothing planted at it (a
    link to a file of the user's) is written through; a link at `path` itself is replaced
    by the file, its target left alone. The file gets `mode` as the umask leaves it."""
    while True:
        tmp = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
            break
        except FileExistsError:  # planted, or left by a crash: another name
            continue
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        with suppress(OSError):
            tmp.unlink()
        raise


@dataclass(frozen=True)
class Stored:
    """What the store (or, before a first run, the queue files) says, read-only."""

    settings: Settings
    state: State
    running: bool  # a daemon holds the workspace's lock
    started: float | None
    agents: dict[str, dict[str, Any]]  # the daemon's last word on each agent, by name
    commands: tuple[tuple[str, str], ...] = ()  # operator's commands waiting for the daemon
    problems: tuple[str, ...] = ()  # the running daemon's, or those of the queue files


def read_stored(root: Path, queues: bool = False) -> Stored:
    """The state as the daemon last stored it (paused agents and waiting commands included),
    with the tasks of the queue files that the store does not hold yet added, queued, when
    no daemon runs (a running one has read them) or with `queues`."""
    from ..adapters.lock import holder
    from ..adapters.store import Store
    from ..config import queueset
    from ..config import settings as config

    settings = config.load_settings(root)
    db = settings.state_dir / "state.db"
    running = holder(settings.state_dir / "daemon.lock") is not None
    started = None
    paused: set[str] = set()
    commands: tuple[tuple[str, str], ...] = ()
    tasks: list[TaskState] = []
    agents_meta = []
    problems: tuple[str, ...] = ()
    store = Store(db, readonly=True) if db.exists() else None
    if store is not None and not store.created():  # a first start is creating it
        store.close()
        store = None
    if store is not None:
        try:
            tasks = store.tasks()
            agents_meta = json.loads(store.get_meta("agents") or "[]")
            if running:
                problems = tuple(json.loads(store.get_meta(PROBLEMS_KEY) or "[]"))
            started = float(store.get_meta("started") or 0) or None
            paused = store.paused_agents()
            commands = tuple((c, t) for _, c, t in store.pending_commands())
        finally:
            store.close()
    if queues or not running or not tasks:
        known = {t.id for t in tasks}
        merged = queueset.merge_queues(settings, queueset.read_all(settings), {})
        if not running:
            problems = tuple(str(p) for p in merged.problems)
        fresh = [t for t in merged.tasks if t.id not in known]
        tasks += [TaskState(t, len(tasks) + i) for i, t in enumerate(fresh)]
    names = [a.name for a in config.agents_for(settings, [t.task for t in tasks])]
    names += [e["name"] for e in agents_meta if e["name"] not in names]
    held = {t.agent: t.id for t in tasks if t.status in ACTIVE}
    state = State(
        tasks=frozen_tasks({t.id: t for t in tasks}),
        agents=tuple(AgentState(n, task=held.get(n), paused=n in paused) for n in names),
    )
    by_name = {e["name"]: e for e in agents_meta}
    return Stored(settings, state, running, started, by_name, commands, problems)


PROBLEMS_KEY = "problems"  # store meta: the running daemon's problems, as JSON


def read_snapshot(root: Path, now: float) -> Snapshot:
    """The stored state, for `status` and `watch`. Agents' states are the daemon's last word
    ("daemon stopped" when none runs), not recomputed."""
    stored = read_stored(root)
    by_name = stored.agents
    names = [a.name for a in stored.state.agents]
    windows = {n: by_name.get(n, {}).get("window", "?") for n in names}
    snap = snapshot(
        stored.state,
        stored.settings.session,
        root,
        now,
        windows,
        {},
        stored.running,
        stored.started if stored.running else None,
        str(stored.settings.board),
    )
    agents = tuple(
        replace(
            a,
            state=by_name.get(a.name, {}).get("state", "unknown")
            if stored.running
            else "daemon stopped",
        )
        for a in snap.agents
    )
    return replace(snap, agents=agents, problems=stored.problems)

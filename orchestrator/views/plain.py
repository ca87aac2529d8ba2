"""The status as plain text (into a pipe or a file, and thousands of tasks on a terminal):
lines to grep, none wrapped; no rich here, so that `status` loads fast."""

from __future__ import annotations

from collections.abc import Sequence

from ..text import duration, printable
from .rows import Snapshot, eta, queue_left


def header_parts(snap: Snapshot) -> tuple[str, str]:
    """After the name: the session, uptime and ETA, workspace; then the board ("" if none)."""
    started = snap.started if snap.running else None
    up = f"up {duration(snap.now - started)}" if started else "daemon stopped"
    left = queue_left(snap)
    if started and left not in ("done", "-"):
        up += f" · ETA {left}"
    where = printable(f" · {snap.session} · {up} · {snap.workspace}")
    return where, printable(f" · board {snap.board}") if snap.board else ""


def totals_line(snap: Snapshot) -> str:
    totals = snap.totals()
    words = [f"{totals['done']}/{totals['total']} done"]
    words += [f"{totals[k]} {k}" for k in ("running", "queued", "failed", "blocked") if totals[k]]
    return " · ".join(words)


def problems_lines(snap: Snapshot) -> list[str]:
    if not snap.problems:
        return []
    return ["problems (until fixed):", *(f"  {printable(p)}" for p in snap.problems)]


def plain_tasks(snap: Snapshot, width: int | None) -> str:
    """Every task on one plain line each: what `status` prints for thousands of tasks, where
    a rich table would take seconds, or into a pipe. The title takes what the width leaves
    (all of it with no width)."""
    now = snap.now
    rows = [
        (t.id, printable(t.agent), t.priority[:4],
         t.status + "".join(f" ⚠ {f}" for f in t.flags) if t.flags else t.status,
         str(t.attempts), eta(t, now), printable(t.title))
        for t in snap.tasks
    ]  # fmt: skip
    return _aligned(("ID", "Agent", "Pri", "Status", "Try", "ETA", "Task"), rows, width)


def _aligned(head: tuple[str, ...], rows: Sequence[tuple[str, ...]], width: int | None) -> str:
    """Columns padded to their widest cell; the last one cut to what `width` leaves."""
    last = len(head) - 1
    every = [head, *rows]
    widths = [max(map(len, column)) for column in list(zip(*every, strict=True))[:last]]
    room = max(width - sum(widths) - 2 * last, 10) if width else None
    line = "  ".join(f"{{:<{w}}}" for w in widths) + "  {}"  # one format call a row
    return "\n".join(line.format(*r[:last], r[last][:room]).rstrip() for r in every)


def plain_status(snap: Snapshot) -> str:
    """`status` into a pipe or a file: plain lines, none wrapped or cut, to grep."""
    agents = [
        (printable(a.name), printable(a.window), printable(a.state), a.task or "-",
         duration(snap.now - a.since) if a.task and a.since else "")
        for a in snap.agents
    ]  # fmt: skip
    parts = ["orchestrate" + "".join(header_parts(snap)), totals_line(snap), ""]
    if agents:
        parts += [_aligned(("Agent", "Window", "State", "Task", "For"), agents, None), ""]
    parts += [plain_tasks(snap, None), *problems_lines(snap)]
    return "\n".join(parts) + "\n"

"""The dashboard in a terminal: the only module that imports rich.

One screen for `start` and `watch`: a header (session, workspace, uptime, board), a progress
bar with the totals, one line per agent (state, task, time on it), the task table, and the
last events. It fits the terminal: in a narrow pane titles give way, and when the tasks do
not fit, the ones that matter now come first and the rest are counted on one line.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from typing import IO, Any, Protocol

from rich.console import Console, Group
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from ..text import duration, printable
from .plain import header_parts, plain_status, plain_tasks, problems_lines, totals_line
from .rows import Snapshot, TaskRow, eta

STATUS_STYLES = {
    "queued": "dim",
    "dispatched": "yellow",
    "validating": "cyan",
    "done": "green",
    "failed": "red",
    "blocked": "magenta",
    "cancelled": "dim",
}
STATE_STYLES = {
    "busy": "yellow",
    "idle": "green",
    "waiting-for-input": "bold red",
    "rate-limited": "magenta",
    "gone": "red",
    "paused": "dim",
}
# When the tasks do not fit: what a person needs to see first.
IMPORTANCE = {"dispatched": 0, "validating": 0, "failed": 1, "blocked": 1, "queued": 2}
EVENTS_SHOWN = 6  # at least, when there are that many; a taller terminal shows more
EVENTS_KEPT = 200


def header(snap: Snapshot) -> Text:
    where, board = header_parts(snap)
    text = Text()
    text.append("orchestrate", style="bold")
    text.append(where)
    if board:
        text.append(board, style="dim")
    text.no_wrap = True
    text.overflow = "ellipsis"
    return text


def progress(snap: Snapshot) -> Table:
    totals = snap.totals()
    settled = totals["done"] + totals["cancelled"]
    grid = Table.grid(expand=True, padding=(0, 1))
    grid.add_column(ratio=1)
    grid.add_column(no_wrap=True)
    grid.add_row(ProgressBar(total=max(totals["total"], 1), completed=settled), totals_line(snap))
    return grid


def agents_table(snap: Snapshot) -> Table:
    table = Table(box=None, show_header=False, pad_edge=False, expand=True)
    table.add_column("agent", no_wrap=True, style="bold")
    table.add_column("window", no_wrap=True, style="dim", max_width=16, overflow="ellipsis")
    table.add_column("state", no_wrap=True)
    table.add_column("task", no_wrap=True, ratio=1, overflow="ellipsis")
    table.add_column("for", no_wrap=True, justify="right")
    for a in snap.agents:
        spent = duration(snap.now - a.since) if a.task and a.since else ""
        state = Text(printable(a.state), style=STATE_STYLES.get(a.state, ""))
        table.add_row(printable(a.name), printable(a.window), state, a.task or "-", spent)
    return table


def visible_tasks(tasks: Sequence[TaskRow], room: int) -> tuple[list[TaskRow], str]:
    """The rows that fit in `room` lines, and a line counting the others ('' if none).
    All fit: file order. Else the running, then the failed and blocked, then the queued in
    order, then the rest; the shown rows keep file order among themselves."""
    if len(tasks) <= room:
        return list(tasks), ""
    room = max(room - 1, 1)
    ranked = sorted(range(len(tasks)), key=lambda i: (IMPORTANCE.get(tasks[i].status, 3), i))
    keep = sorted(ranked[:room])
    hidden: dict[str, int] = {}
    for i in ranked[room:]:
        hidden[tasks[i].status] = hidden.get(tasks[i].status, 0) + 1
    more = ", ".join(f"{n} {status}" for status, n in sorted(hidden.items()))
    return [tasks[i] for i in keep], f"… and {len(ranked) - room} more: {more}"


def status_table(snap: Snapshot, room: int | None = None, width: int = 200) -> Table:
    """The tasks, one line each, with why each is where it is. Below 100 columns the priority
    gives way and the why comes first in the task's column; id, status, attempts and ETA keep
    their width."""
    rows, more = visible_tasks(snap.tasks, room if room is not None else len(snap.tasks))
    wide = width >= 100
    table = Table(expand=True, show_edge=False, pad_edge=False)
    id_width = max((len(t.id) for t in rows), default=2)
    statuses = [_status(t, wide) for t in rows]
    table.add_column("ID", no_wrap=True, min_width=id_width)
    # Wide, the title has a share and the why the rest; narrow, they share one column.
    table.add_column(
        "Task", overflow="ellipsis", no_wrap=True, ratio=2 if wide else 1, min_width=12
    )
    table.add_column("Agent", overflow="ellipsis", no_wrap=True, max_width=12 if wide else 10)
    if wide:  # narrow, the priority gives way to the why
        table.add_column("Pri", no_wrap=True, max_width=8, overflow="crop")
    table.add_column("Status", no_wrap=True, min_width=max((len(x) for x in statuses), default=6))
    table.add_column("Try", no_wrap=True, justify="right", min_width=3)
    if wide:
        table.add_column("Why", overflow="ellipsis", no_wrap=True, ratio=3)
    table.add_column("ETA", no_wrap=True, min_width=6)
    for t, shown in zip(rows, statuses, strict=True):
        # Narrow, why a task that is not done is where it is comes first: the id names it.
        title = printable(t.title)
        if not wide and t.why and t.status != "done":
            title = f"{printable(t.why)} · {title}"
        cells: list[Any] = [t.id, title, printable(t.agent), *([t.priority] if wide else [])]
        cells += [Text(shown, style=STATUS_STYLES.get(t.status, "")), str(t.attempts)]
        cells += [printable(t.why)] if wide else []
        table.add_row(*cells, eta(t, snap.now))
    if more:  # one line, as many as `visible_tasks` counted
        table.caption = Text(more, no_wrap=True, overflow="ellipsis")
    return table


def _status(t: TaskRow, wide: bool) -> str:
    """A flagged task's status shows ⚠, and where there is room every flag; never cut (narrow,
    the flags are in the why that follows the title)."""
    if not t.flags:
        return t.status
    return f"⚠ {t.status} {'+'.join(t.flags)}" if wide else f"⚠ {t.status}"


def render(snap: Snapshot, events: Sequence[str], width: int, height: int) -> Group:
    """The whole dashboard, for a terminal of `width` x `height`: the tasks take the lines
    they need (up to what is left after EVENTS_SHOWN events, at least 3 but one left for
    the newest event), the newest events the rest. It never runs past the bottom (where
    the newest event would be cut) unless the terminal cannot hold even that."""
    problems = problems_lines(snap)
    fixed = 2 + len(problems) + len(snap.agents) + 2  # header, bar, agents, the table's head
    left = height - fixed
    room = max(left - min(EVENTS_SHOWN, len(events)), min(3, left - bool(events)), 1)
    rows = min(len(snap.tasks), room)  # with the line counting the hidden ones
    count = max(min(left - rows, len(events)), 0)
    shown = list(events)[len(events) - count :]
    parts: list[Any] = [header(snap), progress(snap)]
    parts += [Text(line, style="red", no_wrap=True, overflow="ellipsis") for line in problems]
    parts.append(agents_table(snap))
    parts.append(status_table(snap, room=room, width=width))
    parts += [Text(line, style="dim", no_wrap=True, overflow="ellipsis") for line in shown]
    return Group(*parts)


# --------------------------------------------------------------------------- views


class View(Protocol):
    def event(
        self, kind: str, message: str, task: str | None, agent: str | None, ts: float | None = None
    ) -> None: ...

    def update(self, snap: Snapshot) -> None: ...

    def close(self) -> None: ...


class PlainView:
    """One line per event, for logs and pipes."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stdout

    def event(
        self, kind: str, message: str, task: str | None, agent: str | None, ts: float | None = None
    ) -> None:
        stamp = time.strftime("%H:%M:%S", time.localtime(ts))
        self.stream.write(f"{stamp} {kind:<14} {printable(message)}\n")  # `watch`: old rows are raw
        self.stream.flush()

    def update(self, snap: Snapshot) -> None:
        pass

    def close(self) -> None:
        pass


class LiveView:
    """The dashboard in a terminal. It is redrawn when the snapshot or the events change
    (the clock moves the elapsed times once a second), never in a loop of its own."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console()
        self.recent: list[str] = []
        self.snap: Snapshot | None = None
        self.drawn: tuple[object, ...] = ()
        self.live = Live(console=self.console, auto_refresh=False, transient=False)
        self.live.start()

    def event(
        self, kind: str, message: str, task: str | None, agent: str | None, ts: float | None = None
    ) -> None:
        stamp = time.strftime("%H:%M:%S", time.localtime(ts))
        self.recent = [*self.recent, f"{stamp} {printable(message)}"][-EVENTS_KEPT:]
        self._draw()

    def update(self, snap: Snapshot) -> None:
        self.snap = snap
        self._draw()

    def _draw(self) -> None:
        if self.snap is None:
            return
        snap = self.snap
        key = (snap.tasks, snap.agents, snap.problems, int(snap.now), tuple(self.recent))
        if key == self.drawn:
            return
        self.drawn = key
        size = self.console.size
        self.live.update(render(self.snap, self.recent, size.width, size.height), refresh=True)

    def close(self) -> None:
        self.live.stop()


RICH_ROWS = 300  # past this many tasks, `status` prints them as plain aligned text (fast)


def view_for(plain: bool) -> View:
    """The live dashboard on a terminal, else (or with `plain`) one line per event."""
    return LiveView() if sys.stdout.isatty() and not plain else PlainView()


def print_status(snap: Snapshot, stream: IO[str] | None = None) -> None:
    out = stream or sys.stdout
    if not out.isatty():
        out.write(plain_status(snap))
        return
    console = Console(file=out)
    console.print(header(snap))
    console.print(progress(snap))
    console.print(agents_table(snap))
    if len(snap.tasks) > RICH_ROWS:
        console.file.write(plain_tasks(snap, console.size.width) + "\n")
    else:
        console.print(status_table(snap, width=console.size.width))
    for line in problems_lines(snap):
        console.print(Text(line, style="red"))

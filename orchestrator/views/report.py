"""`orchestrate report`: the end-of-run summary in markdown, from the state and the journal.

Each task: its attempts (agent, when, how long, how each ended), its time against its
estimate, its last validation. Each agent: busy time (from a dispatch until the task left
it: a report settled it, it was re-queued, or it went back for a retry) and idle time (the
rest of the time the daemon ran). Pure: given the tasks, the events and the time.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from ..adapters.schema import Event
from ..core.state import ACTIVE, TaskState
from ..text import duration, printable

# Journal kinds that end an attempt's hold on its agent.
ENDS = frozenset({"done", "failed", "retry", "blocked", "gone", "requeued", "cancelled"})


@dataclass(frozen=True)
class Span:
    task: str
    attempt: int
    agent: str
    start: float
    end: float | None  # None: still running
    outcome: str

    def took(self, now: float) -> float:
        return (self.end or now) - self.start


def spans(events: Sequence[Event]) -> list[Span]:
    """Each dispatch and how it ended, in journal order."""
    open_: dict[str, tuple[int, str, float]] = {}
    out: list[Span] = []
    attempts: dict[str, int] = {}
    for e in events:
        if e.task is None:
            continue
        if e.kind == "dispatch" and e.agent:
            attempts[e.task] = attempts.get(e.task, 0) + 1
            open_[e.task] = (attempts[e.task], e.agent, e.ts)
        elif e.kind in ENDS and e.task in open_:
            n, agent, start = open_.pop(e.task)
            out.append(Span(e.task, n, agent, start, e.ts, e.kind))
    for task, (n, agent, start) in open_.items():
        out.append(Span(task, n, agent, start, None, "running"))
    return sorted(out, key=lambda s: s.start)


def running_time(events: Sequence[Event], now: float) -> float:
    """How long the daemon ran, from its start and stop events."""
    total, since = 0.0, None
    for e in events:
        if e.kind == "daemon-start":
            since = e.ts
        elif e.kind == "daemon-stop" and since is not None:
            total += e.ts - since
            since = None
    return total + (now - since if since is not None else 0.0)


def _when(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))


def report(tasks: Sequence[TaskState], events: Sequence[Event], now: float, title: str) -> str:
    by_task: dict[str, list[Span]] = {}
    all_spans = spans(events)
    for span in all_spans:
        by_task.setdefault(span.task, []).append(span)
    counts: dict[str, int] = {}
    for t in tasks:
        counts[t.status] = counts.get(t.status, 0) + 1
    lines = [
        f"# Orchestrator report: {printable(title)}",
        "",
        f"Written {_when(now)}. {len(tasks)} task(s): "
        + ", ".join(f"{n} {status}" for status, n in sorted(counts.items())),
        "",
        "## Tasks",
        "",
        "| ID | Task | Status | Attempts | Time | Estimate | Validation |",
        "|----|------|--------|----------|------|----------|------------|",
    ]
    for t in tasks:
        worked = sum(s.took(now) for s in by_task.get(t.id, []))
        estimate = t.task.estimate
        over = " (over)" if estimate is not None and worked > estimate else ""
        check = printable(t.validation or "-").replace("|", "\\|")
        title_cell = printable(t.task.title).replace("|", "\\|")
        lines.append(
            f"| {t.id} | {title_cell} | {t.status} | {t.attempts} | {duration(worked)}{over} "
            f"| {duration(estimate)} | {check} |"
        )
    lines += ["", "### Attempts", ""]
    for t in tasks:
        for s in by_task.get(t.id, []):
            took = duration(s.took(now))
            lines.append(
                f"- {s.task} #{s.attempt} on {printable(s.agent)}, {_when(s.start)}, {took}: "
                f"{s.outcome}"
            )
        if t.log:
            lines.append(
                f"  - last validation: {printable(t.validation)} (log: `{printable(t.log)}`)"
            )
    if not all_spans:
        lines.append("- none yet")
    ran = running_time(events, now)
    lines += [
        "",
        "## Agents",
        "",
        f"The daemon ran {duration(ran)} in all.",
        "",
        "| Agent | Tasks | Busy | Idle | Now |",
        "|-------|-------|------|------|-----|",
    ]
    agents = sorted({s.agent for s in all_spans})
    holding = {t.agent: t.id for t in tasks if t.status in ACTIVE and t.agent}
    for agent in agents:
        mine = [s for s in all_spans if s.agent == agent]
        busy = sum(s.took(now) for s in mine)
        done = len({s.task for s in mine if s.outcome == "done"})
        lines.append(
            f"| {printable(agent)} | {done} done of {len({s.task for s in mine})} "
            f"| {duration(busy)} | {duration(max(ran - busy, 0.0))} | {holding.get(agent, '-')} |"
        )
    return "\n".join(lines) + "\n"

"""Which queued tasks may start now, and which agent may take one. Pure."""

from __future__ import annotations

from .config import ANY_AGENT
from .state import DONE, QUEUED, SETTLED, State, TaskState


def lowest_open_phase(state: State) -> int | None:
    """The lowest phase that still has an unsettled task: no later phase may start."""
    open_phases = [
        t.task.phase
        for t in state.tasks.values()
        if t.task.phase is not None and t.status not in SETTLED
    ]
    return min(open_phases) if open_phases else None


def startable(state: State) -> list[TaskState]:
    """Queued tasks whose dependencies and phase allow them to start, in no order. O(n)."""
    done = {t.id for t in state.tasks.values() if t.status == DONE}
    lowest_open = lowest_open_phase(state)
    return [
        t
        for t in state.tasks.values()
        if t.status == QUEUED
        and not t.withdrawn  # its entry went while it ran: never sent again
        and all(dep in done for dep in t.task.after)
        and (t.task.phase is None or lowest_open is None or t.task.phase <= lowest_open)
    ]


def best_first(task: TaskState) -> tuple[bool, bool, int, int]:
    """The operator's `dispatch` goes first; then a retry (its agent has the context of the
    attempt before); then priority, then file order."""
    return (not task.urgent, task.pinned is None, task.task.rank, task.order)


def eligible(task: TaskState, agent: str) -> bool:
    if task.pinned is not None:
        return task.pinned == agent
    return task.task.agent in (agent, ANY_AGENT)

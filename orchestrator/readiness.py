"""Which queued tasks may start now, and which agent may take one. Pure."""

from __future__ import annotations

from .config import ANY_AGENT
from .state import DONE, QUEUED, SETTLED, State, TaskState


def ready(state: State) -> list[TaskState]:
    """Queued tasks whose dependencies and phase allow them to start, best first."""
    done = {t.id for t in state.tasks.values() if t.status == DONE}
    open_phases = [
        t.task.phase
        for t in state.tasks.values()
        if t.task.phase is not None and t.status not in SETTLED
    ]
    lowest_open = min(open_phases) if open_phases else None
    result = [
        t
        for t in state.tasks.values()
        if t.status == QUEUED
        and all(dep in done for dep in t.task.after)
        and (t.task.phase is None or lowest_open is None or t.task.phase <= lowest_open)
    ]
    # The operator's `dispatch` goes first; then a retry: its agent has the context of the
    # attempt before.
    result.sort(key=lambda t: (not t.urgent, t.pinned is None, t.task.rank, t.order))
    return result


def eligible(task: TaskState, agent: str) -> bool:
    if task.pinned is not None:
        return task.pinned == agent
    return task.task.agent in (agent, ANY_AGENT)

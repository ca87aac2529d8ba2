"""Which queued tasks may start now, and which agent may take one. Pure.

Answered from the state's `TaskIndex`, so that each answer costs the agents and the lanes, not
the number of tasks.
"""

from __future__ import annotations

from collections.abc import Iterator

from .state import AgentState, State, TaskState
from .task import ANY_AGENT
from .taskindex import Lane, best_first

__all__ = [
    "best_first",
    "best_for",
    "eligible",
    "has_work",
    "lowest_open_phase",
    "may_start",
    "startable",
]


def lowest_open_phase(state: State) -> int | None:
    """The lowest phase that still has an unsettled task: no later phase may start."""
    return state.index.lowest_open_phase()


def _phases(state: State) -> tuple[int | None, ...]:
    """The phases whose queued tasks may start: none, and the lowest open one (every lower
    phase is settled, so it holds no queued task)."""
    lowest = state.index.lowest_open_phase()
    return (None,) if lowest is None else (None, lowest)


def _lanes(state: State, agent: str) -> Iterator[Lane]:
    for phase in _phases(state):
        yield (True, agent, phase)
        yield (False, agent, phase)
        yield (False, ANY_AGENT, phase)


def startable(state: State) -> list[TaskState]:
    """Queued tasks whose dependencies and phase allow them to start, best first per lane."""
    phases = _phases(state)
    return [
        state.tasks[entry[-1]]
        for lane, entries in state.index.lanes.items()
        if lane[2] in phases
        for entry in entries
    ]


def best_for(state: State, agent: AgentState, taken: set[str]) -> TaskState | None:
    """The best task the agent may start now, leaving out those in `taken`."""
    best = min(state.index.heads(_lanes(state, agent.name), taken), default=None)
    return None if best is None else state.tasks[best[-1]]


def may_start(state: State, task: TaskState) -> bool:
    """May the task start now (its dependencies done, its phase open)?"""
    return task.task.phase in _phases(state) and state.index.holds(task)


def has_work(state: State, agent: str) -> bool:
    """Is there a task the agent may start now?"""
    return any(state.index.lanes.get(lane) for lane in _lanes(state, agent))


def eligible(task: TaskState, agent: str) -> bool:
    if task.pinned is not None:
        return task.pinned == agent
    return task.task.agent in (agent, ANY_AGENT)

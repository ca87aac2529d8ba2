"""Why each task is where it is, and when the queue should be done. Pure, from the state.

The operator's first question about a row is not what it is but why: a queued task that can
start looks like one waiting on `after:`; a blocked one waits for something; a failed one
failed a check. `reasons` answers it in a few words per task, in one pass over the state.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from ..text import duration
from .readiness import lowest_open_phase, startable
from .state import (
    BLOCKED,
    CANCELLED,
    DISPATCHED,
    DONE,
    FAILED,
    QUEUED,
    SETTLED,
    VALIDATING,
    State,
    TaskState,
)
from .task import ANY_AGENT


def reasons(state: State, now: float) -> dict[str, str]:
    """Each task's why, by id."""
    ready = {t.id for t in startable(state)}
    lowest = lowest_open_phase(state)
    names = {a.name for a in state.agents}
    paused = {a.name for a in state.agents if a.paused}

    def held_back(task: TaskState) -> bool:
        """Are all the agents that may take it paused (and is there one)?"""
        taker = task.pinned or task.task.agent
        if taker == ANY_AGENT:
            return bool(names) and paused == names
        return taker in paused

    return {
        t.id: _why(t, state, t.id in ready, lowest, now, held_back) for t in state.tasks.values()
    }


def _why(
    task: TaskState,
    state: State,
    ready: bool,
    lowest: int | None,
    now: float,
    held_back: Callable[[TaskState], bool],
) -> str:
    if task.status == QUEUED:
        return _queued(task, state, ready, lowest, held_back)
    if task.status == DISPATCHED:
        flags = ", ".join(sorted(task.flags))
        since = f" for {duration(now - task.since)}" if task.since is not None else ""
        return f"{flags}: on {task.agent}{since}" if flags else f"on {task.agent}{since}"
    if task.status == VALIDATING:
        return f"checking ({len(task.task.validate)} command(s))"
    if task.status in (DONE, FAILED) and task.validation:
        return ("✅ " if task.status == DONE else "❌ ") + task.validation
    if task.status in (BLOCKED, FAILED, CANCELLED, DONE):
        return task.reason
    return ""


def _queued(
    task: TaskState,
    state: State,
    ready: bool,
    lowest: int | None,
    held_back: Callable[[TaskState], bool],
) -> str:
    waits = [
        d for d in task.task.after if (dep := state.tasks.get(d)) is None or dep.status != DONE
    ]
    if waits:
        return "waits for " + ", ".join(waits)
    if not ready:
        return f"waits for phase {lowest} to be done"
    if held_back(task):
        return "ready; its agent is paused"
    if task.urgent:
        return "ready: goes next (dispatch)"
    if task.pinned:
        return f"ready: retry #{task.attempts + 1} for {task.pinned}"
    return "ready"


def queue_eta(state: State, now: float) -> float | None:
    """Seconds until every unsettled task should be done, or None if nothing tells: each
    task takes its estimate, or else the mean time the done tasks took (from dispatch to
    report); an agent's tasks follow each other, agents work side by side."""
    took = [
        t.last_report - t.since
        for t in state.tasks.values()
        if t.status == DONE and t.since is not None and t.last_report is not None
    ]
    mean = sum(took) / len(took) if took else None
    names = [a.name for a in state.agents] or [""]
    load: dict[str, float] = dict.fromkeys(names, 0.0)
    spread = 0.0  # `agent: any` tasks: shared by all
    for task in state.tasks.values():
        if task.status in SETTLED or task.status in (FAILED, BLOCKED):
            continue
        expected = task.task.estimate if task.task.estimate is not None else mean
        if expected is None:
            return None
        if task.status in (DISPATCHED, VALIDATING) and task.since is not None:
            expected = max(expected - (now - task.since), 0.0)
        agent = task.agent if task.status in (DISPATCHED, VALIDATING) else task.task.agent
        if agent in load:
            load[agent] += expected
        else:
            spread += expected
    return _finish(load, spread)


def _finish(load: Mapping[str, float], spread: float) -> float:
    """When the last agent is done, if the shared work goes to whoever is free first."""
    busy = list(load.values())
    return max(max(busy), (sum(busy) + spread) / len(busy))

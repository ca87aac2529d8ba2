"""The operator's commands, as pure decisions: (state, command) -> actions and an answer.

`retry ID`, `cancel ID`, `dispatch ID` act on a task; `pause AGENT`, `resume AGENT` on an
agent. Each yields exactly one `Answer`: what it did, or why it could not.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from .readiness import eligible, may_start
from .state import (
    BLOCKED,
    CANCELLED,
    DISPATCHED,
    DONE,
    QUEUED,
    VALIDATING,
    Action,
    AgentState,
    Answer,
    Control,
    Dispatch,
    SetPaused,
    State,
    TaskState,
    Update,
)

COMMANDS = ("retry", "cancel", "dispatch", "pause", "resume")


def on_control(state: State, event: Control) -> Iterable[Action]:
    if event.command in ("pause", "resume"):
        yield from _pause(state, event.target, event.command == "pause")
        return
    on_task: dict[str, Callable[[State, TaskState], Iterable[Action]]] = {
        "retry": _retry,
        "cancel": _cancel,
        "dispatch": _dispatch,
    }
    handler = on_task.get(event.command)
    task = state.tasks.get(event.target)
    if handler is None:
        yield Answer(False, f"unknown command {event.command!r}: use {', '.join(COMMANDS)}")
    elif task is None:
        yield Answer(False, f"no task {event.target!r}: `orchestrate status` lists them")
    else:
        yield from handler(state, task)


def _retry(state: State, task: TaskState) -> Iterable[Action]:
    if task.status == DISPATCHED:
        yield from _send_again(task)
        return
    if task.withdrawn:
        yield Answer(
            False,
            f"{task.id} was withdrawn: its entry is gone from the queue files; put it back in "
            "a queue file and it is queued again",
        )
        return
    if task.status in (QUEUED, VALIDATING, DONE) or (task.status == BLOCKED and task.blocked_by):
        why = f"blocked by {task.blocked_by}: retry that one" if task.blocked_by else task.status
        if task.status == VALIDATING:
            why += ": its check is running; retry it if the check fails"
        yield Answer(False, f"{task.id} is {why}; nothing to retry")
        return
    yield Update(
        task.id,
        {
            "status": QUEUED,
            "pinned": None,
            "budget_from": task.attempts,
            "blocked_by": None,
            "reason": "retried by the operator",
        },
        "retry",
        f"{task.id}: retried by the operator (was {task.status})",
    )
    yield Answer(True, f"{task.id}: back in the queue (was {task.status})")


def _send_again(task: TaskState) -> Iterable[Action]:
    """A dispatched task with no way forward (stalled, its prompt lost): a new attempt, with
    a fresh retry budget. A report of the old attempt that comes later counts for the new."""
    n = task.attempts
    yield Update(
        task.id,
        {
            "status": QUEUED,
            "pinned": None,
            "budget_from": n,
            "feedback": (
                f"Your attempt #{n} of this task got no report, and the operator sent it "
                "again. Check what of the work is already done, then finish it and report."
            ),
            "reason": f"sent again by the operator (attempt #{n} had no report)",
        },
        "retry",
        f"{task.id} #{n}: sent again by the operator as attempt #{n + 1}",
    )
    yield Answer(
        True,
        f"{task.id}: attempt #{n} given up; attempt #{n + 1} goes once an agent is ready "
        f"(a turn of {task.agent} still running is never typed into)",
    )


def _cancel(state: State, task: TaskState) -> Iterable[Action]:
    if task.status in (DONE, CANCELLED):
        yield Answer(False, f"{task.id} is {task.status}; nothing to cancel")
        return
    note = ""
    if task.status == DISPATCHED:
        note = (
            f"; {task.agent} may still be working on it: its report will be ignored, and "
            f"{task.agent} gets its next task once it shows it is idle"
        )
    elif task.status == VALIDATING:
        note = "; the validation still running will be ignored"
    yield Update(
        task.id,
        {"status": CANCELLED, "reason": f"cancelled by the operator (was {task.status})"},
        "cancelled",
        f"{task.id}: cancelled by the operator (was {task.status})",
    )
    yield Answer(True, f"{task.id}: cancelled (was {task.status}){note}")


def _dispatch(state: State, task: TaskState) -> Iterable[Action]:
    if task.status != QUEUED:
        hint = {
            DONE: "",
            DISPATCHED: " (`orchestrate retry` sends it again as a new attempt)",
            VALIDATING: " (its check is running)",
        }.get(task.status, " (`orchestrate retry` puts it back in the queue)")
        yield Answer(False, f"{task.id} is {task.status}, not queued{hint}")
        return
    if not may_start(state, task):
        waits = [d for d in task.task.after if (dep := state.tasks.get(d)) and dep.status != DONE]
        why = f"it waits for {', '.join(waits)}" if waits else "an earlier phase is not done"
        yield Answer(False, f"{task.id} cannot start yet: {why}")
        return
    agents = [a for a in state.agents if eligible(task, a.name)]
    free = next((a for a in agents if a.free), None)
    if free is not None:
        yield Dispatch(task.id, free.name, task.attempts + 1)
        yield Answer(True, f"{task.id}: sent to {free.name} now (attempt {task.attempts + 1})")
        return
    yield Update(task.id, {"urgent": True}, "urgent", f"{task.id}: next in line (dispatch)")
    if not agents:
        why = f"no agent named {task.task.agent!r} is known"
    else:
        why = "; ".join(_why_busy(a) for a in agents)
    yield Answer(True, f"{task.id}: goes next, ahead of the others ({why})")


def _why_busy(agent: AgentState) -> str:
    if agent.paused:
        return f"{agent.name} is paused: `orchestrate resume {agent.name}`"
    if agent.task:
        return f"{agent.name} is busy with {agent.task}"
    if not agent.present:
        return f"{agent.name} is gone"
    return f"{agent.name} is not ready yet"


def _pause(state: State, target: str, pause: bool) -> Iterable[Action]:
    agent = state.agent(target)
    word = "paused" if pause else "resumed"
    if agent is None:
        known = ", ".join(a.name for a in state.agents) or "none"
        yield Answer(False, f"no agent {target!r} (agents: {known})")
        return
    if agent.paused == pause:
        yield Answer(True, f"{target} was {'paused' if pause else 'not paused'} already")
        return
    yield SetPaused(target, pause)
    if pause and agent.task:
        detail = f"; it finishes {agent.task} first, then takes nothing new"
    elif pause:
        detail = ": it takes no new task"
    else:
        detail = ": it takes tasks again"
    yield Answer(True, f"{target}: {word}{detail}")

"""The decisions, as pure functions: (state, event, now) -> actions. No I/O, no clock, no tmux.

The daemon performs the actions and folds them into its state with `state.fold`; a test
does the same by replaying a scripted history of events.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ..text import duration
from .blocking import reconcile_blocking
from .controls import on_control
from .outcomes import GONE, on_gone, on_report, on_validation
from .readiness import best_for, has_work
from .state import (
    ACTIVE,
    BLOCKED,
    CANCELLED,
    DISPATCHED,
    DONE,
    FAILED,
    QUEUED,
    SETTLED,
    Action,
    AddTask,
    AgentsSeen,
    Control,
    Dispatch,
    Event,
    FollowUp,
    Heard,
    QueueLoaded,
    Reported,
    Requeue,
    SetPresence,
    State,
    TaskState,
    Tick,
    Update,
    UpdateTask,
    ValidationDone,
    fold,
)
from .task import Task

# --------------------------------------------------------------------------- decisions


def decide(state: State, event: Event, now: float, dispatch: bool = True) -> list[Action]:
    """What to do about one event: state changes, the blocking they cause, then dispatches."""
    actions: list[Action] = []
    if isinstance(event, QueueLoaded):
        actions.extend(_on_queue(state, event.tasks))
    elif isinstance(event, Reported):
        actions.extend(on_report(state, event.block, now))
    elif isinstance(event, AgentsSeen):
        running_now = event.present if event.running is None else event.running
        for agent in state.agents:
            present, ready = agent.name in event.present, agent.name in event.ready
            running = agent.name in running_now
            if (present, ready, running) != (agent.present, agent.ready, agent.running):
                actions.append(SetPresence(agent.name, present, ready, running))
            heard = event.activity.get(agent.name)
            if heard is not None and heard != agent.activity:
                actions.append(Heard(agent.name, heard))
            if not running and agent.task is not None:
                actions.extend(on_gone(state.tasks[agent.task], agent.name))
    elif isinstance(event, ValidationDone):
        actions.extend(on_validation(state, event, now))
    elif isinstance(event, Control):
        actions.extend(on_control(state, event))
    elif isinstance(event, Tick):
        actions.extend(_flags(state, now))
    after = fold(state, actions, now)
    reconcile = isinstance(event, QueueLoaded | Control) or _moves_blocking(state, after, actions)
    blocking = reconcile_blocking(after) if reconcile else []
    actions += blocking
    if not dispatch:
        return actions
    return actions + plan(fold(after, blocking, now) if blocking else after)


CAUSES = frozenset({FAILED, CANCELLED, BLOCKED})  # what a dependent may be blocked by


def _moves_blocking(before: State, after: State, actions: Iterable[Action]) -> bool:
    """May these actions block or unblock a task? The state before was reconciled, so only a
    changed task map, a task becoming or ceasing to be a cause, or one queued again can."""
    for action in actions:
        if isinstance(action, AddTask | UpdateTask):
            return True
        if not isinstance(action, Update | Requeue | Dispatch):
            continue
        old, new = before.tasks.get(action.task_id), after.tasks[action.task_id]
        if old is None or old.blocked_by != new.blocked_by:
            return True
        if old.status != new.status and (new.status in CAUSES | {QUEUED} or old.status in CAUSES):
            return True
    return False


def _on_queue(state: State, tasks: Sequence[Task]) -> Iterable[Action]:
    for order, task in enumerate(tasks):
        known = state.tasks.get(task.id)
        if known is None:
            reported = state.orphans.get(task.id)
            if reported == "COMPLETED":
                yield AddTask(task, order, DONE, "reported COMPLETED on the board already")
            else:
                yield AddTask(task, order)
            continue
        if known.task != task or known.order != order:
            yield UpdateTask(task, order)
        if known.withdrawn:
            yield from _entry_back(known)
    listed = {t.id for t in tasks}
    for known in state.tasks.values():
        gone = known.id not in listed and known.status not in FINISHED
        if gone and not (known.withdrawn and known.status in ACTIVE):  # that one was told
            yield from _entry_gone(known)


FINISHED = frozenset({DONE, FAILED, CANCELLED})  # history: a gone entry changes nothing


def _entry_gone(task: TaskState) -> Iterable[Action]:
    """A task no queue file lists any more: withdrawn if it waits; left to finish if it runs
    (and not retried after)."""
    if task.status in ACTIVE:
        yield Update(
            task.id,
            {"withdrawn": True},
            "entry-gone",
            f"{task.id}: {GONE}; it is {task.status} and left to finish (no retry after)",
        )
        return
    yield Update(
        task.id,
        {
            "status": CANCELLED,
            "withdrawn": True,
            "blocked_by": None,
            "reason": f"withdrawn: {GONE}",
        },
        "withdrawn",
        f"{task.id}: withdrawn ({GONE}; it was {task.status}); it comes back if its entry does",
    )


def _entry_back(task: TaskState) -> Iterable[Action]:
    if task.status == CANCELLED:
        yield Update(
            task.id,
            {"status": QUEUED, "withdrawn": False, "reason": ""},
            "restored",
            f"{task.id}: its entry is back in the queue files: queued again",
        )
    else:
        yield Update(
            task.id,
            {"withdrawn": False},
            "restored",
            f"{task.id}: its entry is back in the queue files",
        )


def _flags(state: State, now: float) -> Iterable[Action]:
    """Overdue and stalled, each raised once per attempt."""
    for task in sorted((state.tasks[i] for i in state.index.dispatched), key=lambda t: t.order):
        raised: list[tuple[str, str]] = []
        if task.overdue(now) and "overdue" not in task.flags:
            estimate = f"estimate {duration(task.task.estimate)}"
            raised.append(("overdue", f"{task.id} #{task.attempts}: overdue ({estimate})"))
        agent = state.agent(task.agent or "")
        signs = [t for t in (task.since, task.last_report, agent and agent.activity) if t]
        quiet = now - max(signs) if signs else 0.0
        if quiet > state.stall_after and "stalled" not in task.flags:
            raised.append(
                (
                    "stalled",
                    f"{task.id} #{task.attempts}: stalled: no output from {task.agent} and no "
                    f"report for {duration(quiet)}; `orchestrate retry {task.id}` sends it "
                    "again as a new attempt",
                )
            )
        flags = task.flags
        for kind, message in raised:  # each update carries the flags raised before it
            flags = flags | {kind}
            yield Update(task.id, {"flags": flags}, kind, message)


def plan(state: State) -> list[Action]:
    """The texts to type now: the requests for missing fields whose agent has ended its
    turn, then each free agent's best ready task."""
    actions: list[Action] = list(_asks(state))
    taken: set[str] = set()
    for agent in state.agents:
        if not agent.free:
            continue
        task = best_for(state, agent, taken)
        if task is not None:
            taken.add(task.id)
            actions.append(Dispatch(task.id, agent.name, task.attempts + 1))
    return actions


def _asks(state: State) -> Iterable[FollowUp]:
    for agent in state.agents:
        task = state.tasks.get(agent.task) if agent.task else None
        if task and task.asking and task.status == DISPATCHED and agent.ready and agent.present:
            yield FollowUp(task.id, task.attempts, agent.name, tuple(task.missing_fields()))


def watched(state: State) -> set[str]:
    """Agents whose screen matters now: those holding a task, and the free ones that have a
    ready task to receive. The others are not looked at (an idle crew costs nothing)."""
    return {a.name for a in state.agents if a.task or (not a.paused and has_work(state, a.name))}


def can_progress(state: State) -> bool:
    """Is anything running, or could anything still be dispatched?"""
    if state.index.count(ACTIVE):
        return True
    return any(a.present and not a.paused and has_work(state, a.name) for a in state.agents)


def all_done(state: State) -> bool:
    return state.index.count(SETTLED) == len(state.tasks)

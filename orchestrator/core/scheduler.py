"""The decisions, as pure functions: (state, event, now) -> actions. No I/O, no clock, no tmux.

The daemon performs the actions and folds them into its state with `state.fold`; a test
does the same by replaying a scripted history of events.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from ..blocks import Block
from ..text import duration
from .blocking import reconcile_blocking
from .controls import on_control
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
    VALIDATING,
    Action,
    AddTask,
    AgentsSeen,
    Control,
    Dispatch,
    Event,
    FollowUp,
    Heard,
    Note,
    QueueLoaded,
    RememberOrphan,
    Reported,
    Requeue,
    SetPresence,
    State,
    TaskState,
    Tick,
    Update,
    UpdateTask,
    Validate,
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
        actions.extend(_on_report(state, event.block, now))
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
                actions.extend(_on_gone(state.tasks[agent.task], agent.name))
    elif isinstance(event, ValidationDone):
        actions.extend(_on_validation(state, event, now))
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
GONE = "its entry is gone from the queue files"


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


def _resolve(state: State, block: Block) -> TaskState | None:
    for candidate in block.candidates:
        if candidate in state.tasks:
            return state.tasks[candidate]
    return None


def _quote(fields: Iterable[tuple[str, str]]) -> str:
    return "\n".join(f"**{name}**: {value}" for name, value in fields)


def _on_report(state: State, block: Block, now: float) -> Iterable[Action]:
    task = _resolve(state, block)
    where = f"board line {block.line}"
    if task is None:
        yield Note("unknown-block", f"{block.status} block for unknown task {block.ref} ({where})")
        for candidate in block.candidates:
            yield RememberOrphan(candidate, block.status)
        return
    if task.status == QUEUED and block.status == "COMPLETED" and task.attempts == 0:
        yield Update(
            task.id,
            {"status": DONE, "reason": f"reported COMPLETED before dispatch ({where})"},
            DONE,
            f"{task.id}: done, reported COMPLETED on the board before any dispatch ({where})",
        )
        return
    if task.status != DISPATCHED:
        kind = "early-block" if task.status == QUEUED else "duplicate-block"
        yield Note(
            kind,
            f"{block.status} block for {task.id}, which is {task.status}: ignored ({where})",
            task.id,
            block,
        )
        return
    label = f"{task.id} #{task.attempts}"
    if block.status == "BLOCKED":
        reason = block.field("Reason") or "no reason given"
        yield Update(
            task.id,
            {
                "status": BLOCKED,
                "reason": f"the agent is blocked: {reason}",
                "blocked_by": None,
                "last_report": now,
                "fields": block.fields,
            },
            BLOCKED,
            f"{label}: the agent reported BLOCKED ({reason}); `orchestrate retry {task.id}` "
            "once a person has acted",
        )
        return
    if block.status == "FAILED":
        quoted = _quote(block.fields) or "(no fields)"
        feedback = f"Your attempt #{task.attempts} reported FAILED:\n{quoted}"
        yield from _retry_or_fail(task, feedback, "the agent reported FAILED", now)
        return
    fields = (*task.fields, *block.fields)
    current = replace(task, fields=fields)
    missing = current.missing_fields()
    if missing and (not task.followup or task.asking):
        # Asked once its turn has ended (plan: _asks): the report is often written mid-turn.
        yield Update(
            task.id,
            {"fields": fields, "followup": True, "asking": True, "last_report": now},
            "fields-missing",
            f"{label}: COMPLETED without {', '.join(missing)}: asking for them once "
            f"{task.agent}'s turn has ended",
        )
        agent = state.agent(task.agent or "")
        if agent is not None and agent.ready:  # seen before the report: look again
            yield SetPresence(agent.name, agent.present, False, agent.running)
        return
    if missing:
        yield Note(
            "fields-missing",
            f"{label}: still without {', '.join(missing)} after the follow-up; going on",
            task.id,
        )
    if task.task.validate:
        yield Update(
            task.id,
            {"status": VALIDATING, "fields": fields, "last_report": now},
            VALIDATING,
            f"{label}: COMPLETED reported; validating ({len(task.task.validate)} command(s))",
        )
        yield Validate(task.id, task.attempts)
        return
    yield Update(
        task.id,
        {
            "status": DONE,
            "fields": fields,
            "last_report": now,
            "feedback": "",
            "reason": f"reported COMPLETED ({where})",
        },
        DONE,
        f"{label}: done, reported COMPLETED ({where})",
    )


def _retry_or_fail(task: TaskState, feedback: str, why: str, now: float) -> Iterable[Action]:
    label = f"{task.id} #{task.attempts}"
    if task.withdrawn:
        yield Update(
            task.id,
            {"status": CANCELLED, "feedback": feedback, "reason": f"{why}; withdrawn: {GONE}"},
            "withdrawn",
            f"{label}: {why}; not retried: {GONE}",
        )
        return
    if task.attempts - task.budget_from <= task.task.retries:
        yield Update(
            task.id,
            {
                "status": QUEUED,
                "feedback": feedback,
                "pinned": task.agent,
                "reason": why,
                "last_report": now,
            },
            "retry",
            f"{label}: {why}; retrying with attempt #{task.attempts + 1} on {task.agent}",
        )
        return
    yield Update(
        task.id,
        {"status": FAILED, "feedback": feedback, "reason": why, "last_report": now},
        FAILED,
        f"{label}: {why}; failed after {task.attempts - task.budget_from} attempt(s)",
    )


def _on_gone(task: TaskState, agent: str) -> Iterable[Action]:
    """The agent's program is gone: its task goes back to the queue as a new attempt.

    A validation already running goes on (it does not need the agent). The lost attempt
    does not spend a retry: the agent did not fail, it went away.
    """
    if task.status != DISPATCHED:
        return
    if task.withdrawn:
        yield Update(
            task.id,
            {"status": CANCELLED, "reason": f"{agent} is gone; withdrawn: {GONE}"},
            "withdrawn",
            f"{task.id} #{task.attempts}: {agent} is gone; not sent again: {GONE}",
        )
        return
    yield Update(
        task.id,
        {
            "status": QUEUED,
            "budget_from": task.budget_from + 1,
            "feedback": (
                f"Your attempt #{task.attempts} was interrupted: the agent's program exited "
                "before it reported. Check what of the work is already done, then finish it."
            ),
            "reason": f"{agent} is gone",
        },
        "gone",
        f"{task.id} #{task.attempts}: {agent} is gone (its program exited); "
        "back in the queue for a new attempt",
    )


def _on_validation(state: State, event: ValidationDone, now: float) -> Iterable[Action]:
    task = state.tasks.get(event.task_id)
    if task is None or task.status != VALIDATING or task.attempts != event.attempt:
        return
    evidence = {"validation": event.summary, "log": event.log}
    if event.ok:
        yield Update(
            task.id,
            {"status": DONE, "feedback": "", "reason": f"validated: {event.summary}", **evidence},
            DONE,
            f"{task.id} #{task.attempts}: done, validation passed ({event.summary})",
        )
        return
    code = "timed out" if event.exit_code is None else f"exited with code {event.exit_code}"
    feedback = (
        f"Your attempt #{task.attempts} was not accepted: the validation command\n"
        f"    {event.command}\n"
        f"{code}. The last lines of its output:\n"
        f"```\n{event.tail.rstrip()}\n```"
    )
    for action in _retry_or_fail(task, feedback, f"validation failed: {event.summary}", now):
        if isinstance(action, Update):
            action = Update(
                action.task_id, {**action.changes, **evidence}, action.kind, action.message
            )
        yield action


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

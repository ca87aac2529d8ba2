"""What a task's outcome does to it: a report on the board (done, asked for its missing
fields, checked, blocked, retried or failed), a check's result, its agent gone. Pure: the
scheduler (scheduler.py) calls these with the state, the event and the time."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from ..blocks import Block
from .state import (
    BLOCKED,
    CANCELLED,
    DISPATCHED,
    DONE,
    FAILED,
    QUEUED,
    VALIDATING,
    Action,
    Note,
    RememberOrphan,
    SetPresence,
    State,
    TaskState,
    Update,
    Validate,
    ValidationDone,
)

GONE = "its entry is gone from the queue files"


def _resolve(state: State, block: Block) -> TaskState | None:
    for candidate in block.candidates:
        if candidate in state.tasks:
            return state.tasks[candidate]
    return None


def _quote(fields: Iterable[tuple[str, str]]) -> str:
    return "\n".join(f"**{name}**: {value}" for name, value in fields)


def on_report(state: State, block: Block, now: float) -> Iterable[Action]:
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


def on_gone(task: TaskState, agent: str) -> Iterable[Action]:
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


def on_validation(state: State, event: ValidationDone, now: float) -> Iterable[Action]:
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

"""The vocabulary of the scheduler: task and agent state, events in, actions out.

All values are frozen; `fold` computes the state after a sequence of actions (pure).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from .board import Block
from .config import Task

QUEUED = "queued"
DISPATCHED = "dispatched"
VALIDATING = "validating"
DONE = "done"
FAILED = "failed"
BLOCKED = "blocked"
CANCELLED = "cancelled"
STATUSES = (QUEUED, DISPATCHED, VALIDATING, DONE, FAILED, BLOCKED, CANCELLED)
ACTIVE = frozenset({DISPATCHED, VALIDATING})  # the agent is reserved for the task
SETTLED = frozenset({DONE, CANCELLED})
DEFAULT_STALL_AFTER = 15 * 60.0


# --------------------------------------------------------------------------- state


@dataclass(frozen=True)
class TaskState:
    task: Task
    order: int  # position across all queue files (file name order, then file order)
    status: str = QUEUED
    attempts: int = 0
    agent: str | None = None  # the agent holding or last holding it
    since: float | None = None  # when the current attempt was dispatched
    reason: str = ""
    # What the next prompt must quote: a failed validation, or the agent's FAILED report.
    feedback: str = ""
    pinned: str | None = None  # a retry goes back to the agent that did the work
    fields: tuple[tuple[str, str], ...] = ()  # reported so far in this attempt
    followup: bool = False  # the missing fields were asked for once in this attempt
    asking: bool = False  # that request waits for the agent's turn to end (then FollowUp)
    blocked_by: str | None = None  # the failed/blocked task this one waits for
    budget_from: int = 0  # attempts before the operator's last retry
    flags: frozenset[str] = frozenset()  # overdue, stalled (this attempt)
    last_report: float | None = None
    validation: str = ""  # the last validation's result, in words
    log: str = ""  # where the last validation's output is
    urgent: bool = False  # `orchestrate dispatch`: goes before every other ready task
    withdrawn: bool = False  # no queue file lists it any more (cancelled, or left to finish)

    @property
    def id(self) -> str:
        return self.task.id

    def overdue(self, now: float) -> bool:
        return (
            self.status == DISPATCHED
            and self.task.estimate is not None
            and self.since is not None
            and now - self.since > self.task.estimate
        )

    def missing_fields(self) -> list[str]:
        have = {name.casefold() for name, value in self.fields if value.strip()}
        return [name for name in self.task.report if name.casefold() not in have]


@dataclass(frozen=True)
class AgentState:
    name: str
    present: bool = True  # its pane exists and lives
    ready: bool = True  # and runs its program (not a shell), settled: prompts may go in
    paused: bool = False
    task: str | None = None
    activity: float | None = None  # last output seen in its pane
    running: bool = True  # its pane runs its program (not a shell); False: the agent is gone

    @property
    def free(self) -> bool:
        return self.present and self.ready and not self.paused and self.task is None


def frozen_tasks(mapping: Mapping[str, TaskState]) -> Mapping[str, TaskState]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class State:
    tasks: Mapping[str, TaskState] = field(default_factory=lambda: frozen_tasks({}))
    agents: tuple[AgentState, ...] = ()
    # Blocks seen for ids no task had yet: a task that appears later is done if it was reported.
    orphans: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    stall_after: float = DEFAULT_STALL_AFTER

    def agent(self, name: str) -> AgentState | None:
        return next((a for a in self.agents if a.name == name), None)


# --------------------------------------------------------------------------- events


@dataclass(frozen=True)
class QueueLoaded:
    """The queue files in force now (all tasks, file order)."""

    tasks: tuple[Task, ...]


@dataclass(frozen=True)
class Reported:
    block: Block


@dataclass(frozen=True)
class AgentsSeen:
    present: frozenset[str]
    ready: frozenset[str]
    running: frozenset[str] | None = None  # None: every present agent runs its program
    activity: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class ValidationDone:
    task_id: str
    attempt: int
    ok: bool
    summary: str  # "2/2 passed" or "`cargo test` exited 101"
    log: str
    command: str = ""  # the failing command
    exit_code: int | None = None  # None: timed out or could not start
    tail: str = ""  # the last lines of the failing command's output


@dataclass(frozen=True)
class Control:
    """An operator's command: retry, cancel or dispatch a task; pause or resume an agent."""

    command: str
    target: str


@dataclass(frozen=True)
class Tick:
    pass


Event = QueueLoaded | Reported | AgentsSeen | ValidationDone | Control | Tick


# --------------------------------------------------------------------------- actions


@dataclass(frozen=True)
class AddTask:
    task: Task
    order: int
    status: str = QUEUED
    reason: str = ""


@dataclass(frozen=True)
class UpdateTask:
    """The spec changed in a queue file."""

    task: Task
    order: int


@dataclass(frozen=True)
class Dispatch:
    task_id: str
    agent: str
    attempt: int


@dataclass(frozen=True)
class Update:
    """Change fields of a task's state; `kind` and `message` go to the journal."""

    task_id: str
    changes: Mapping[str, Any]
    kind: str
    message: str


@dataclass(frozen=True)
class Validate:
    """Run the task's validation commands (the agent stays reserved meanwhile)."""

    task_id: str
    attempt: int


@dataclass(frozen=True)
class FollowUp:
    """Ask the agent, once, for the report fields its block lacked (its turn has ended)."""

    task_id: str
    attempt: int
    agent: str
    missing: tuple[str, ...]


@dataclass(frozen=True)
class SetPresence:
    agent: str
    present: bool
    ready: bool
    running: bool = True


@dataclass(frozen=True)
class SetPaused:
    """`orchestrate pause` / `resume`: the agent takes no new task while paused."""

    agent: str
    paused: bool


@dataclass(frozen=True)
class Requeue:
    """A dispatch whose keys never reached the agent: back to the queue, attempt not spent."""

    task_id: str
    reason: str


@dataclass(frozen=True)
class Note:
    """Something for the journal and the operator; changes no state."""

    kind: str
    message: str
    task_id: str | None = None
    block: Block | None = None


@dataclass(frozen=True)
class RememberOrphan:
    ref: str
    status: str


@dataclass(frozen=True)
class Answer:
    """The reply to an operator's command."""

    ok: bool
    message: str


Action = (
    AddTask
    | UpdateTask
    | Dispatch
    | Update
    | Validate
    | FollowUp
    | SetPresence
    | SetPaused
    | Requeue
    | Note
    | RememberOrphan
    | Answer
)


# --------------------------------------------------------------------------- folding


def fold(state: State, actions: Iterable[Action], now: float) -> State:
    """The state after a sequence of actions (pure; one copy of the task map)."""
    tasks = dict(state.tasks)
    agents = {a.name: a for a in state.agents}
    orphans = dict(state.orphans)

    def release(task_id: str) -> None:
        for name, agent in agents.items():
            if agent.task == task_id:
                agents[name] = replace(agent, task=None)

    for action in actions:
        if isinstance(action, AddTask | UpdateTask):
            previous = tasks.get(action.task.id)
            if previous is not None:
                tasks[action.task.id] = replace(previous, task=action.task, order=action.order)
            elif isinstance(action, AddTask):
                tasks[action.task.id] = TaskState(
                    action.task, action.order, status=action.status, reason=action.reason
                )
            else:
                tasks[action.task.id] = TaskState(action.task, action.order)
        elif isinstance(action, Dispatch):
            tasks[action.task_id] = replace(
                tasks[action.task_id],
                status=DISPATCHED,
                attempts=action.attempt,
                agent=action.agent,
                since=now,
                reason="",
                fields=(),
                followup=False,
                asking=False,
                flags=frozenset(),
                urgent=False,
            )
            agents[action.agent] = replace(agents[action.agent], task=action.task_id)
        elif isinstance(action, FollowUp):
            tasks[action.task_id] = replace(tasks[action.task_id], asking=False)
        elif isinstance(action, Update):
            tasks[action.task_id] = replace(tasks[action.task_id], **action.changes)
            if tasks[action.task_id].status not in ACTIVE:
                release(action.task_id)
        elif isinstance(action, SetPresence):
            agents[action.agent] = replace(
                agents[action.agent],
                present=action.present,
                ready=action.ready,
                running=action.running,
            )
        elif isinstance(action, SetPaused):
            agents[action.agent] = replace(agents[action.agent], paused=action.paused)
        elif isinstance(action, Requeue):
            previous = tasks[action.task_id]
            tasks[action.task_id] = replace(
                previous,
                status=QUEUED,
                attempts=max(0, previous.attempts - 1),
                since=None,
                reason=action.reason,
            )
            release(action.task_id)
        elif isinstance(action, RememberOrphan):
            orphans[action.ref] = action.status
    return State(
        tasks=frozen_tasks(tasks),
        agents=tuple(agents.values()),
        orphans=MappingProxyType(orphans),
        stall_after=state.stall_after,
    )


def with_activity(state: State, activity: Mapping[str, float]) -> State:
    """Record the agents' last output times (observations, not decisions)."""
    if not activity:
        return state
    agents = tuple(
        replace(a, activity=activity[a.name]) if a.name in activity else a for a in state.agents
    )
    return replace(state, agents=agents)

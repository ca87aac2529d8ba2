"""The vocabulary of the scheduler: task and agent state, events in, actions out.

All values are frozen; `fold` computes the state after a sequence of actions (pure).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from ..blocks import Block
from .task import Task
from .taskindex import TaskIndex
from .taskstate import (
    ACTIVE,
    BLOCKED,
    CANCELLED,
    DEFAULT_STALL_AFTER,
    DISPATCHED,
    DONE,
    FAILED,
    QUEUED,
    SETTLED,
    STATUSES,
    VALIDATING,
    TaskMap,
    TaskState,
)

# The statuses and TaskState live in taskstate; the scheduler's callers take them from here.
__all__ = [
    "ACTIVE",
    "BLOCKED",
    "CANCELLED",
    "DEFAULT_STALL_AFTER",
    "DISPATCHED",
    "DONE",
    "FAILED",
    "QUEUED",
    "SETTLED",
    "STATUSES",
    "VALIDATING",
    "TaskState",
]

# --------------------------------------------------------------------------- state


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


def frozen_tasks(mapping: Mapping[str, TaskState]) -> TaskMap:
    return mapping if isinstance(mapping, TaskMap) else TaskMap(mapping)


@dataclass(frozen=True)
class State:
    tasks: Mapping[str, TaskState] = field(default_factory=TaskMap)
    agents: tuple[AgentState, ...] = ()
    # Blocks seen for ids no task had yet: a task that appears later is done if it was reported.
    orphans: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    stall_after: float = DEFAULT_STALL_AFTER
    # What the scheduler asks of the tasks, kept up to date by `fold` (built on first use).
    cached_index: TaskIndex | None = field(default=None, compare=False, repr=False)

    @property
    def index(self) -> TaskIndex:
        if self.cached_index is None:
            object.__setattr__(self, "cached_index", TaskIndex.build(self.tasks))
        assert self.cached_index is not None
        return self.cached_index

    def agent(self, name: str) -> AgentState | None:
        return next((a for a in self.agents if a.name == name), None)


def resumed(
    tasks: Iterable[TaskState],
    agents: Iterable[str],
    paused: set[str],
    orphans: Mapping[str, str],
    stall_after: float,
) -> State:
    """The state a start takes up from the store: the tasks as recorded, each agent holding
    the task it was given, none seen yet (the first look at the panes says who is there)."""
    tasks = list(tasks)
    held = {t.agent: t.id for t in tasks if t.status in ACTIVE and t.agent}
    return State(
        tasks=frozen_tasks({t.id: t for t in tasks}),
        agents=tuple(
            AgentState(name, present=False, ready=False, paused=name in paused, task=held.get(name))
            for name in agents
        ),
        orphans=orphans,
        stall_after=stall_after,
    )


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
class Heard:
    """Output seen in an agent's pane at `at` (an observation the stall flag reads)."""

    agent: str
    at: float


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
    | Heard
    | SetPaused
    | Requeue
    | Note
    | RememberOrphan
    | Answer
)


# --------------------------------------------------------------------------- folding


class _Draft(dict[str, TaskState]):
    """The tasks a fold has changed; reading one it has not changed reads the state's."""

    def __init__(self, base: Mapping[str, TaskState]) -> None:
        super().__init__()
        self.base = base

    def __missing__(self, key: str) -> TaskState:
        return self.base[key]

    def known(self, key: str) -> TaskState | None:
        return self[key] if key in self or key in self.base else None


def fold(state: State, actions: Iterable[Action], now: float) -> State:
    """The state after a sequence of actions (pure; one copy of the task map)."""
    base = frozen_tasks(state.tasks)
    tasks = _Draft(base)  # the tasks changed by these actions, over the state's
    agents = {a.name: a for a in state.agents}
    orphans = dict(state.orphans)

    holders = {a.task: a.name for a in state.agents if a.task}

    def release(task_id: str) -> None:
        name = holders.pop(task_id, None)
        if name is not None and agents[name].task == task_id:
            agents[name] = replace(agents[name], task=None)

    for action in actions:
        if isinstance(action, AddTask | UpdateTask):
            previous = tasks.known(action.task.id)
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
            holders[action.task_id] = action.agent
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
        elif isinstance(action, Heard):
            agents[action.agent] = replace(agents[action.agent], activity=action.at)
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
    after = base.changed(tasks)
    return State(
        tasks=after,
        agents=tuple(agents.values()),
        orphans=MappingProxyType(orphans),
        stall_after=state.stall_after,
        cached_index=state.index.updated(base, after, tasks),
    )

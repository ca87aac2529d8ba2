"""The decisions, as pure functions: (state, event, now) -> actions. No I/O, no clock, no tmux.

The daemon performs the actions and folds them into its state with `apply`; a test does
the same by replaying a scripted history of events.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from .board import Block
from .config import ANY_AGENT, Task

QUEUED = "queued"
DISPATCHED = "dispatched"
VALIDATING = "validating"
DONE = "done"
FAILED = "failed"
BLOCKED = "blocked"
CANCELLED = "cancelled"
STATUSES = (QUEUED, DISPATCHED, VALIDATING, DONE, FAILED, BLOCKED, CANCELLED)
ACTIVE = frozenset({DISPATCHED, VALIDATING})
SETTLED = frozenset({DONE, CANCELLED})


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


@dataclass(frozen=True)
class AgentState:
    name: str
    present: bool = True  # its pane exists and lives
    ready: bool = True  # and runs its program (not a shell), settled: prompts may go in
    paused: bool = False
    task: str | None = None

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


@dataclass(frozen=True)
class Tick:
    pass


Event = QueueLoaded | Reported | AgentsSeen | Tick


# --------------------------------------------------------------------------- actions


@dataclass(frozen=True)
class AddTask:
    task: Task
    order: int
    status: str = QUEUED
    reason: str = ""


@dataclass(frozen=True)
class UpdateTask:
    task: Task
    order: int


@dataclass(frozen=True)
class Dispatch:
    task_id: str
    agent: str
    attempt: int


@dataclass(frozen=True)
class SetStatus:
    task_id: str
    status: str
    reason: str = ""
    block: Block | None = None


@dataclass(frozen=True)
class SetPresence:
    agent: str
    present: bool
    ready: bool


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


Action = AddTask | UpdateTask | Dispatch | SetStatus | SetPresence | Requeue | Note | RememberOrphan


# --------------------------------------------------------------------------- decisions


def decide(state: State, event: Event, now: float, dispatch: bool = True) -> list[Action]:
    """What to do about one event: state changes first, then the dispatches they allow."""
    actions: list[Action] = []
    if isinstance(event, QueueLoaded):
        actions.extend(_on_queue(state, event.tasks))
    elif isinstance(event, Reported):
        actions.extend(_on_report(state, event.block))
    elif isinstance(event, AgentsSeen):
        for agent in state.agents:
            present, ready = agent.name in event.present, agent.name in event.ready
            if (present, ready) != (agent.present, agent.ready):
                actions.append(SetPresence(agent.name, present, ready))
    if not dispatch:
        return actions
    after = fold(state, actions, now)
    return actions + plan(after)


def _on_queue(state: State, tasks: Sequence[Task]) -> Iterable[Action]:
    for order, task in enumerate(tasks):
        known = state.tasks.get(task.id)
        if known is None:
            reported = state.orphans.get(task.id)
            if reported == "COMPLETED":
                yield AddTask(task, order, DONE, "reported COMPLETED on the board already")
            else:
                yield AddTask(task, order)
        elif known.task != task or known.order != order:
            yield UpdateTask(task, order)


def _resolve(state: State, block: Block) -> TaskState | None:
    for candidate in block.candidates:
        if candidate in state.tasks:
            return state.tasks[candidate]
    return None


def _on_report(state: State, block: Block) -> Iterable[Action]:
    task = _resolve(state, block)
    where = f"board line {block.line}"
    if task is None:
        yield Note("unknown-block", f"{block.status} block for unknown task {block.ref} ({where})")
        for candidate in block.candidates:
            yield RememberOrphan(candidate, block.status)
        return
    if task.status in SETTLED or task.status in (FAILED, BLOCKED):
        yield Note(
            "duplicate-block",
            f"{block.status} block for {task.id}, already {task.status}: ignored ({where})",
            task.id,
            block,
        )
        return
    if task.status == QUEUED and block.status != "COMPLETED":
        yield Note(
            "early-block",
            f"{block.status} block for {task.id}, which was never dispatched: ignored ({where})",
            task.id,
            block,
        )
        return
    status = {"COMPLETED": DONE, "FAILED": FAILED, "BLOCKED": BLOCKED}[block.status]
    reason = f"reported {block.status} ({where})"
    if task.status == QUEUED:
        reason = f"reported COMPLETED before dispatch ({where})"
    yield SetStatus(task.id, status, reason, block)


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
    result.sort(key=lambda t: (t.task.rank, t.order))
    return result


def plan(state: State) -> list[Action]:
    """The dispatches to make now: each free agent takes its best ready task."""
    candidates = ready(state)
    taken: set[str] = set()
    actions: list[Action] = []
    for agent in state.agents:
        if not agent.free:
            continue
        for task in candidates:
            if task.id in taken or task.task.agent not in (agent.name, ANY_AGENT):
                continue
            taken.add(task.id)
            actions.append(Dispatch(task.id, agent.name, task.attempts + 1))
            break
    return actions


def can_progress(state: State) -> bool:
    """Is anything running, or could anything still be dispatched?"""
    if any(t.status in ACTIVE for t in state.tasks.values()):
        return True
    usable = {a.name for a in state.agents if a.present and not a.paused}
    return any(t.task.agent == ANY_AGENT or t.task.agent in usable for t in ready(state)) and bool(
        usable
    )


def all_done(state: State) -> bool:
    return all(t.status in SETTLED for t in state.tasks.values())


# --------------------------------------------------------------------------- folding


def apply(state: State, action: Action, now: float) -> State:
    """The state after one action (pure)."""
    return fold(state, (action,), now)


def fold(state: State, actions: Iterable[Action], now: float) -> State:
    """The state after a sequence of actions (pure; one copy of the task map)."""
    tasks = dict(state.tasks)
    agents = {a.name: a for a in state.agents}
    orphans = dict(state.orphans)
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
            )
            agents[action.agent] = replace(agents[action.agent], task=action.task_id)
        elif isinstance(action, SetStatus):
            tasks[action.task_id] = replace(
                tasks[action.task_id], status=action.status, reason=action.reason
            )
            if action.status not in ACTIVE:
                for name, agent in agents.items():
                    if agent.task == action.task_id:
                        agents[name] = replace(agent, task=None)
        elif isinstance(action, SetPresence):
            agents[action.agent] = replace(
                agents[action.agent], present=action.present, ready=action.ready
            )
        elif isinstance(action, Requeue):
            previous = tasks[action.task_id]
            tasks[action.task_id] = replace(
                previous,
                status=QUEUED,
                attempts=max(0, previous.attempts - 1),
                since=None,
                reason=action.reason,
            )
            for name, agent in agents.items():
                if agent.task == action.task_id:
                    agents[name] = replace(agent, task=None)
        elif isinstance(action, RememberOrphan):
            orphans[action.ref] = action.status
    return State(
        tasks=frozen_tasks(tasks),
        agents=tuple(agents.values()),
        orphans=MappingProxyType(orphans),
    )

"""The decisions, as pure functions: (state, event, now) -> actions. No I/O, no clock, no tmux.

The daemon performs the actions and folds them into its state with `fold`; a test does
the same by replaying a scripted history of events.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

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
    blocked_by: str | None = None  # the failed/blocked task this one waits for
    budget_from: int = 0  # attempts before the operator's last retry
    flags: frozenset[str] = frozenset()  # overdue, stalled (this attempt)
    last_report: float | None = None
    validation: str = ""  # the last validation's result, in words
    log: str = ""  # where the last validation's output is

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
    """An operator's command: retry ID (more to come)."""

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

    @property
    def status(self) -> str | None:
        value = self.changes.get("status")
        return value if isinstance(value, str) else None


@dataclass(frozen=True)
class Validate:
    """Run the task's validation commands (the agent stays reserved meanwhile)."""

    task_id: str
    attempt: int


@dataclass(frozen=True)
class FollowUp:
    """Ask the agent, once, for the report fields its block lacked."""

    task_id: str
    attempt: int
    agent: str
    missing: tuple[str, ...]


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
    | Requeue
    | Note
    | RememberOrphan
    | Answer
)


# --------------------------------------------------------------------------- decisions


def decide(state: State, event: Event, now: float, dispatch: bool = True) -> list[Action]:
    """What to do about one event: state changes, the blocking they cause, then dispatches."""
    actions: list[Action] = []
    if isinstance(event, QueueLoaded):
        actions.extend(_on_queue(state, event.tasks))
    elif isinstance(event, Reported):
        actions.extend(_on_report(state, event.block, now))
    elif isinstance(event, AgentsSeen):
        for agent in state.agents:
            present, ready = agent.name in event.present, agent.name in event.ready
            if (present, ready) != (agent.present, agent.ready):
                actions.append(SetPresence(agent.name, present, ready))
    elif isinstance(event, ValidationDone):
        actions.extend(_on_validation(state, event, now))
    elif isinstance(event, Control):
        actions.extend(_on_control(state, event))
    elif isinstance(event, Tick):
        actions.extend(_flags(state, now))
    after = fold(state, actions, now)
    blocking = reconcile_blocking(after)
    actions += blocking
    if not dispatch:
        return actions
    return actions + plan(fold(after, blocking, now))


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
    if missing and not task.followup:
        yield Update(
            task.id,
            {"fields": fields, "followup": True, "last_report": now},
            "fields-missing",
            f"{label}: COMPLETED without {', '.join(missing)}: asking for them",
        )
        yield FollowUp(task.id, task.attempts, task.agent or "", tuple(missing))
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


def _on_control(state: State, event: Control) -> Iterable[Action]:
    task = state.tasks.get(event.target)
    if event.command != "retry":
        yield Answer(False, f"unknown command {event.command!r}")
        return
    if task is None:
        yield Answer(False, f"no task {event.target!r}")
        return
    if task.status in (QUEUED, DISPATCHED, VALIDATING, DONE) or (
        task.status == BLOCKED and task.blocked_by
    ):
        why = f"blocked by {task.blocked_by}: retry that one" if task.blocked_by else task.status
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


def _flags(state: State, now: float) -> Iterable[Action]:
    """Overdue and stalled, each raised once per attempt."""
    for task in state.tasks.values():
        if task.status != DISPATCHED:
            continue
        if task.overdue(now) and "overdue" not in task.flags:
            yield Update(
                task.id,
                {"flags": task.flags | {"overdue"}},
                "overdue",
                f"{task.id} #{task.attempts}: overdue (estimate {task.task.estimate:.0f}s)",
            )
        agent = state.agent(task.agent or "")
        signs = [t for t in (task.since, task.last_report, agent and agent.activity) if t]
        quiet = now - max(signs) if signs else 0.0
        if quiet > state.stall_after and "stalled" not in task.flags:
            yield Update(
                task.id,
                {"flags": task.flags | {"stalled"}},
                "stalled",
                f"{task.id} #{task.attempts}: stalled: no output from {task.agent} and no "
                f"report for {quiet / 60:.0f} min",
            )


Node = str | tuple[str, int]  # a task id, or ("gate", i): "every task of the phases below i"


def _root_causes(state: State) -> dict[Node, str | None]:
    """For every task, the failed/blocked/cancelled task it waits for, if any.

    Edges are `after` and phases; a phase gate node stands for "all lower phases done",
    so the graph stays linear in size. Computed iteratively in dependency order.
    """
    tasks = state.tasks
    phases = sorted({t.task.phase for t in tasks.values() if t.task.phase is not None})
    gate = {p: i for i, p in enumerate(phases)}
    members: dict[int, list[str]] = {}
    for t in tasks.values():
        if t.task.phase is not None:
            members.setdefault(gate[t.task.phase], []).append(t.id)

    def deps(node: Node) -> list[Node]:
        if isinstance(node, tuple):
            index = node[1]
            below: list[Node] = [("gate", index - 1)] if index > 1 else []
            return below + list(members.get(index - 1, []))
        t = tasks[node]
        found: list[Node] = [a for a in t.task.after if a in tasks]
        if t.task.phase is not None and gate[t.task.phase] > 0:
            found.append(("gate", gate[t.task.phase]))
        return found

    def own(node: Node) -> str | bool | None:
        """A root cause itself, None if it cannot be blocked, True if it depends on its deps."""
        if isinstance(node, tuple):
            return True
        t = tasks[node]
        if t.status in (FAILED, CANCELLED) or (t.status == BLOCKED and not t.blocked_by):
            return t.id
        return True if t.status in (QUEUED, BLOCKED) else None

    cause: dict[Node, str | None] = {}
    for start in list(tasks):
        if start in cause:
            continue
        stack: list[tuple[Node, int]] = [(start, 0)]
        visiting: set[Node] = {start}
        while stack:
            node, index = stack[-1]
            mine = own(node)
            if mine is not True:
                cause[node] = mine if isinstance(mine, str) else None
                stack.pop()
                visiting.discard(node)
                continue
            children = deps(node)
            if index < len(children):
                stack[-1] = (node, index + 1)
                child = children[index]
                if child not in cause and child not in visiting:
                    visiting.add(child)
                    stack.append((child, 0))
                continue
            cause[node] = next((c for child in children if (c := cause.get(child))), None)
            stack.pop()
            visiting.discard(node)
    return cause


def reconcile_blocking(state: State) -> list[Action]:
    """Block every task that waits (through `after` or `phase`, transitively) for a task that
    failed, was blocked by its agent or was cancelled; unblock those whose cause is gone."""
    causes = _root_causes(state)
    actions: list[Action] = []
    for t in sorted(state.tasks.values(), key=lambda t: t.order):
        root = causes.get(t.id)
        if t.status == QUEUED and root and root != t.id:
            what = state.tasks[root].status
            actions.append(
                Update(
                    t.id,
                    {
                        "status": BLOCKED,
                        "blocked_by": root,
                        "reason": f"waits for {root}, which is {what}",
                    },
                    BLOCKED,
                    f"{t.id}: blocked: waits for {root}, which is {what}",
                )
            )
        elif t.status == BLOCKED and t.blocked_by and not root:
            actions.append(
                Update(
                    t.id,
                    {"status": QUEUED, "blocked_by": None, "reason": ""},
                    "unblocked",
                    f"{t.id}: unblocked ({t.blocked_by} no longer stands in the way)",
                )
            )
        elif t.status == BLOCKED and t.blocked_by and root and root != t.blocked_by:
            actions.append(
                Update(
                    t.id,
                    {
                        "blocked_by": root,
                        "reason": f"waits for {root}, which is {state.tasks[root].status}",
                    },
                    BLOCKED,
                    f"{t.id}: now blocked by {root}",
                )
            )
    return actions


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
    # A retry goes first: its agent has the context of the attempt before.
    result.sort(key=lambda t: (t.pinned is None, t.task.rank, t.order))
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
            if task.id in taken:
                continue
            if task.pinned is not None:
                if task.pinned != agent.name:
                    continue
            elif task.task.agent not in (agent.name, ANY_AGENT):
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
    if not usable:
        return False
    return any(
        (t.pinned or t.task.agent) in usable or (t.pinned is None and t.task.agent == ANY_AGENT)
        for t in ready(state)
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
                flags=frozenset(),
            )
            agents[action.agent] = replace(agents[action.agent], task=action.task_id)
        elif isinstance(action, Update):
            tasks[action.task_id] = replace(tasks[action.task_id], **action.changes)
            if tasks[action.task_id].status not in ACTIVE:
                release(action.task_id)
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

"""Where decisions become facts: the one owner of the state in memory.

An event goes to the scheduler; the actions it returns are recorded in the state database
(each send with its attempt row, stage `sending`: no text goes out unrecorded) and folded
into the state in one transaction, which undoes the change in memory too if it fails; only
then is the world asked for what they need (texts sent, checks started).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Protocol

from ..adapters.schema import FIELDS, PROMPT, SENDING
from ..adapters.store import Store
from ..core import scheduler as sch
from ..core import state as st
from .journal import Journal
from .validation import Validator


class Sends(Protocol):
    """What the executor hands the texts of a decision to (the Sender)."""

    recorded: dict[tuple[str, int, str], float]  # sends recorded, not begun: since when

    def send(self, sends: Sequence[st.Dispatch | st.FollowUp]) -> None: ...


class Executor:
    def __init__(
        self,
        store: Store,
        journal: Journal,
        validator: Validator,
        details: Mapping[str, str],
        clock: Callable[[], float],
    ) -> None:
        self.store = store
        self.journal = journal
        self.validator = validator
        self.details = details  # why each agent cannot take a prompt, for the journal
        self.clock = clock
        self.state = st.State()
        self._sender: Sends | None = None
        self.rechecked: set[tuple[str, int]] = set()  # (task, attempt) checked again at start

    @property
    def sender(self) -> Sends:
        assert self._sender is not None, "the sender is made after the executor, then set"
        return self._sender

    @sender.setter
    def sender(self, sender: Sends) -> None:
        self._sender = sender

    def handle(self, event: st.Event, dispatch: bool = True) -> list[st.Action]:
        """Decide on the event, record and apply the actions, then carry them out."""
        actions = sch.decide(self.state, event, self.clock(), dispatch=dispatch)
        if actions:
            with self.atomic():
                self.record(actions)
            self.carry_out(actions)
        return actions

    def perform(self, actions: Sequence[st.Action]) -> None:
        """Record and apply actions in a transaction of their own (for the Sender)."""
        with self.atomic():
            self._apply(actions)

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """A store transaction whose failure also undoes its change of the state in memory,
        so that memory never runs ahead of what is recorded (a full disk, a read-only file)."""
        before = self.state
        try:
            with self.store.transaction():
                yield
        except BaseException:
            self.state = before
            raise

    def record(self, actions: Sequence[st.Action]) -> None:
        """Record and apply a decision's actions (inside the caller's transaction), each send
        with its attempt row (stage `sending`): no text goes out unrecorded."""
        now = self.clock()
        for action in actions:
            if isinstance(action, st.Dispatch | st.FollowUp):
                kind = PROMPT if isinstance(action, st.Dispatch) else FIELDS
                self.store.record_attempt(
                    action.task_id, action.attempt, action.agent, SENDING, now, kind
                )
                self.sender.recorded[(action.task_id, action.attempt, kind)] = now
        self._apply(actions)
        for action in actions:
            if isinstance(action, st.Dispatch):
                self.journal(
                    "dispatch",
                    f"{action.task_id} -> {action.agent} (attempt {action.attempt})",
                    task=action.task_id,
                    agent=action.agent,
                )

    def carry_out(self, actions: Iterable[st.Action]) -> None:
        """What the actions ask of the world, once their state change and their sends'
        attempts are committed (`record`)."""
        actions = list(actions)
        sends = [a for a in actions if isinstance(a, st.Dispatch | st.FollowUp)]
        for action in actions:
            if isinstance(action, st.Validate):
                self.validate(self.state.tasks[action.task_id])
        while sends:  # each agent once per batch: its texts go one after another
            agents = {a.agent: a for a in reversed(sends)}
            batch = [a for a in sends if agents[a.agent] is a]
            self.sender.send(batch)
            sends = [a for a in sends if agents[a.agent] is not a]

    def check_again(self) -> None:
        """At start: the checks a stopped daemon left are ended, and each task it was
        checking is checked again (once, if the start is tried again)."""
        for task_id, message in self.validator.end_leftovers():
            self.journal("validate", message, task=task_id)
        for task in self.state.tasks.values():
            checking = (task.id, task.attempts)
            if task.status == st.VALIDATING and checking not in self.rechecked:
                self.journal("validate", f"{task.id} #{task.attempts}: validating again")
                self.validate(task)
                self.rechecked.add(checking)

    def validate(self, task: st.TaskState) -> None:
        self.validator.start(task.id, task.attempts, task.task.validate, task.task.timeout)

    def _apply(self, actions: Iterable[st.Action]) -> None:
        """Record and apply state actions (inside the caller's transaction).

        The batch is folded once (one copy of the task map, however many actions: a queue
        of thousands of tasks loads in one pass) and each task it touched is saved once.
        """
        actions = list(actions)
        before = self.state
        self.state = st.fold(before, actions, self.clock())
        for task_id in {t for action in actions for t in _touched(action)}:
            if before.tasks.get(task_id) != self.state.tasks.get(task_id):
                self.store.save_task(self.state.tasks[task_id])
        for action in actions:
            if isinstance(action, st.RememberOrphan):
                self.store.remember_orphan(action.ref, action.status)
            elif isinstance(action, st.SetPaused):
                self.store.set_paused(action.agent, action.paused)
        self.journal.actions(before, self.state, actions, self.details)


def _touched(action: st.Action) -> tuple[str, ...]:
    if isinstance(action, st.AddTask | st.UpdateTask):
        return (action.task.id,)
    if isinstance(action, st.Dispatch | st.Update | st.Requeue | st.FollowUp):
        return (action.task_id,)
    return ()

"""The texts on their way to the agents: sends begun together, their outcomes, the requeue of
one that never reached its agent, and the recovery at start of those a crash interrupted.

The daemon owns the state; a Sender reads it and changes it only through `Shell.perform`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from ..adapters.schema import FIELDS, PROMPT, Attempt
from ..adapters.store import Store
from ..config.settings import Settings
from ..core import state as st
from ..core.attention import Unconfirmed
from ..errors import TmuxError
from ..prompt import label, marker, render, render_followup
from .attention import Attention, Journal
from .delivery import LANDING_LIMIT, Courier, Outbox, Outcome, Parcel
from .panes import AgentPanes


class Shell(Protocol):
    """What a Sender needs of the daemon."""

    @property
    def state(self) -> st.State: ...

    def perform(self, actions: Sequence[st.Action]) -> None:
        """Record and apply the actions, in a transaction of their own."""


class Sender:
    def __init__(
        self,
        shell: Shell,
        courier: Courier,
        outbox: Outbox,
        agents: AgentPanes,
        attention: Attention,
        store: Store,
        settings: Settings,
        journal: Journal,
        clock: Callable[[], float],
    ) -> None:
        self.shell = shell
        self.courier = courier
        self.outbox = outbox
        self.agents = agents
        self.attention = attention
        self.store = store
        self.settings = settings
        self.journal = journal
        self.clock = clock
        self.recorded: dict[tuple[str, int, str], float] = {}  # sends recorded, not begun

    def text(self, task: st.TaskState, n: int, kind: str, agent: str) -> str:
        if kind == FIELDS:
            return render_followup(task.task, n, self.settings, tuple(task.missing_fields()))
        return render(task.task, n, self.settings, agent, task.feedback)

    def send(self, sends: Sequence[st.Dispatch | st.FollowUp]) -> None:
        """Begin recorded sends: their pastes now, all at once, their gaps and Enters as the
        loop comes by (the outbox). A pane that cannot take its text puts the task back in
        the queue (`delivered`)."""
        parcels = []
        for action in sends:
            agent, kind = action.agent, PROMPT if isinstance(action, st.Dispatch) else FIELDS
            self.delivered(self.outbox.advance(wait=True, agent=agent))  # one text at a time
            task = self.shell.state.tasks[action.task_id]
            text = self.text(task, action.attempt, kind, agent)
            pane, profile = self.agents.panes[agent], self.agents.profile(agent)
            created = self.recorded.pop((action.task_id, action.attempt, kind), None)
            parcel = Parcel(action.task_id, action.attempt, kind, pane, text, profile, created)
            parcels.append(parcel)
        begun = self.courier.start_all(parcels)
        for action, parcel, delivery in zip(sends, parcels, begun, strict=True):
            self.outbox.begin(action.agent, delivery, len(parcel.text))

    def delivered(self, outcomes: list[Outcome]) -> None:
        for out in outcomes:
            d, agent = out.delivery, out.agent
            if out.error is not None:
                task = self.shell.state.tasks.get(d.task)
                if task is not None and task.status == st.DISPATCHED and task.attempts == d.n:
                    self.requeue(d.task, agent, f"delivery failed: {out.error}")
                else:  # cancelled or sent again meanwhile: nothing goes back to the queue
                    self.courier.settle(d.task, d.n, d.kind)
                    self.journal(
                        "unconfirmed",
                        f"{label(d.task, d.n, d.kind)}: delivery failed ({out.error}); the "
                        f"task is {task.status if task else 'gone'} now: left as it is",
                        task=d.task,
                        agent=agent,
                    )
                continue
            if not d.shown:
                self.journal(
                    "paste-unseen",
                    f"{d.task} #{d.n}: the paste did not show on {agent}'s screen within "
                    f"{LANDING_LIMIT:.0f}s; Enter went anyway",
                    task=d.task,
                    agent=agent,
                )
            if d.profile.reads_screen:
                name = label(d.task, d.n, d.kind)
                sent = Unconfirmed(d.task, d.n, name, marker(d.task, d.n, d.kind), self.clock())
                self.attention.expect(agent, sent)
            what = "prompt" if d.kind == PROMPT else "request for missing fields"
            self.journal(
                "sent",
                f"{d.task} #{d.n}: {what} submitted to {agent} ({out.chars} chars)",
                task=d.task,
                agent=agent,
            )

    def requeue(self, task_id: str, agent: str, reason: str) -> None:
        """The text did not reach the agent: the task goes back, the agent must settle again."""
        actions: list[st.Action] = [st.Requeue(task_id, reason)]
        current = self.shell.state.agent(agent)
        if current is not None and current.ready:
            actions.append(st.SetPresence(agent, current.present, False, current.running))
        self.shell.perform(actions)
        self.agents.unsettle(agent)

    def recover_attempts(self) -> None:
        """Resolve sends that a crash interrupted: never lost, never sent twice."""
        for attempt in self.store.unfinished_attempts():
            task = self.shell.state.tasks.get(attempt.task)
            name = label(attempt.task, attempt.n, attempt.kind)
            if task is None or task.status != st.DISPATCHED or task.attempts != attempt.n:
                self.courier.settle(attempt.task, attempt.n, attempt.kind)
                state = task.status if task else "unknown"
                self.journal(
                    "recovered", f"{name}: no longer in flight ({state})", task=attempt.task
                )
                continue
            # A restart finds agents running already: their program counts, not the settle.
            pane = self.agents.panes.get(attempt.agent)
            if pane is None or not self.agents.running_program(attempt.agent):
                self.courier.settle(attempt.task, attempt.n, attempt.kind)
                self.requeue(attempt.task, attempt.agent, "agent not ready after restart")
                self.journal(
                    "recovered", f"{name}: agent not ready, back in the queue", task=attempt.task
                )
                continue
            self._recover(attempt, task, pane)

    def _recover(self, attempt: Attempt, task: st.TaskState, pane: str) -> None:
        text = self.text(task, attempt.n, attempt.kind, attempt.agent)
        profile = self.agents.profile(attempt.agent)
        try:
            outcome = self.courier.recover(attempt, pane, text, profile)
        except TmuxError as exc:
            self.requeue(attempt.task, attempt.agent, f"recovery failed: {exc}")
            return
        self.journal(outcome.kind, outcome.message, task=attempt.task, agent=attempt.agent)
        if outcome.requeue:
            self.requeue(attempt.task, attempt.agent, outcome.message)
        elif outcome.pressed and profile.reads_screen:  # its screen confirms it, as after a send
            mark = marker(attempt.task, attempt.n, attempt.kind)
            name = label(attempt.task, attempt.n, attempt.kind)
            sent = Unconfirmed(attempt.task, attempt.n, name, mark, self.clock())
            self.attention.expect(attempt.agent, sent)

"""What the agents' screens ask of the daemon after each look: was a delivery taken (Enter
once more if the text still sits in the input box, never blind), and is an agent waiting
for a person (journaled once; with `on_permission: approve`, answered).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from .core import state as st
from .errors import TmuxError
from .panes import AgentPanes
from .prompt import label
from .screen import BUSY, RATE_LIMITED, WAITING, Reading
from .tmux import Tmux

CONFIRM_WITHIN = 10.0  # seconds for a delivery to show on the agent's screen
APPROVE_AGAIN = 3.0  # seconds before a dialog still up after approval is approved again


@dataclass(frozen=True)
class Unconfirmed:
    """A text sent to an agent whose screen has not yet shown that it took it."""

    task: str
    n: int
    kind: str
    marker: str
    sent: float
    pressed_again: bool = False


Journal = Callable[..., None]  # (kind, message, task=None, agent=None)


class Attention:
    def __init__(self, tmux: Tmux, agents: AgentPanes, journal: Journal) -> None:
        self.tmux = tmux
        self.agents = agents
        self.journal = journal
        self.screens: dict[str, str] = {}  # the last screen state read per agent
        self.waiting_since: dict[str, float] = {}
        self.approved: dict[str, float] = {}  # agent -> when its dialog was last approved
        self.unconfirmed: dict[str, Unconfirmed] = {}  # agent -> its last delivery

    def expect(self, agent: str, sent: Unconfirmed) -> None:
        """A text was just submitted to `agent`: watch its screen take it."""
        self.unconfirmed[agent] = sent

    def look(self, state: st.State, readings: dict[str, Reading], now: float) -> None:
        for name, reading in readings.items():
            current = state.agent(name)
            self._screen(name, reading, current.task if current else None, now)
        for name in list(self.unconfirmed):
            self._confirm(state, name, readings.get(name), now)

    # ------------------------------------------------------------------ dialogs

    def _screen(self, agent: str, reading: Reading, holding: str | None, now: float) -> None:
        before = self.screens.get(agent)
        self.screens[agent] = reading.state
        if reading.state != WAITING:
            self.waiting_since.pop(agent, None)
            self.approved.pop(agent, None)
            if before == WAITING:
                self.journal("agent", f"{agent}: {reading.state} again", agent=agent)
            return
        since = self.waiting_since.setdefault(agent, now)
        if self.agents.config(agent).on_permission != "approve":
            if before != WAITING:
                self.journal(
                    WAITING,
                    f"{agent} waits for a person: {reading.line!r}; nothing is typed into it "
                    f"(tmux attach, window {self.agents.windows.get(agent, '?')})",
                    task=holding,
                    agent=agent,
                )
            return
        # A dialog ignores keys for a moment after it appears (a guard against keys meant
        # for the input box): let it settle, and press again if it is still up a while later.
        last = self.approved.get(agent)
        if now - since < self.agents.profile(agent).settle or (
            last is not None and now - last < APPROVE_AGAIN
        ):
            return
        keys = self.agents.profile(agent).approve
        try:
            self.tmux.send_keys(self.agents.panes[agent], *keys)
        except TmuxError as exc:
            self.journal("tmux-error", f"{agent}: could not approve: {exc}", agent=agent)
            return
        self.approved[agent] = now
        again = " again: it was still up" if last is not None else ""
        self.journal(
            "approved",
            f"{agent}: approved {reading.line!r} with {' '.join(keys)}{again} "
            "(on_permission: approve)",
            task=holding,
            agent=agent,
        )

    # ------------------------------------------------------------------ deliveries

    def _confirm(self, state: st.State, agent: str, reading: Reading | None, now: float) -> None:
        """Did the agent take the text? Busy, a dialog, or an emptied input box say yes. The
        text still in the input box of an agent that is not busy gets Enter once more, never
        blind; past CONFIRM_WITHIN the delivery is journaled as unconfirmed."""
        sent = self.unconfirmed[agent]
        name = label(sent.task, sent.n, sent.kind)
        task = state.tasks.get(sent.task)
        if task is None or task.status != st.DISPATCHED or task.attempts != sent.n:
            del self.unconfirmed[agent]  # it moved on (a report came): the text was taken
            return
        if reading is not None:
            if reading.state in (BUSY, WAITING, RATE_LIMITED):
                del self.unconfirmed[agent]
                return
            if not reading.holds(sent.marker):
                del self.unconfirmed[agent]  # the input box emptied: it was taken
                return
            if not sent.pressed_again:
                try:
                    self.tmux.press_enter(self.agents.panes[agent])
                except TmuxError as exc:
                    self.journal("tmux-error", f"{name}: {exc}", task=sent.task, agent=agent)
                    return
                self.unconfirmed[agent] = replace(sent, pressed_again=True)
                self.journal(
                    "resubmitted",
                    f"{name}: still in {agent}'s input box: pressed Enter once more",
                    task=sent.task,
                    agent=agent,
                )
                return
        if now - sent.sent > CONFIRM_WITHIN:
            del self.unconfirmed[agent]
            self.journal(
                "unconfirmed",
                f"{name}: {agent}'s screen has not shown that it took the text "
                f"within {CONFIRM_WITHIN:.0f}s; look at window "
                f"{self.agents.windows.get(agent, '?')}",
                task=sent.task,
                agent=agent,
            )

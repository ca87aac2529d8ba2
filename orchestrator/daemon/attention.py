"""The shell of core/attention.py: after each look, what the agents' screens ask of the
daemon is decided there; here its keys are sent and its lines journaled."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from ..adapters.tmux import Tmux
from ..core import state as st
from ..core.attention import Approve, Manner, PressEnter, Say, Unconfirmed, Watch, attend
from ..core.reading import Reading
from ..errors import TmuxError
from .panes import AgentPanes

Journal = Callable[..., None]  # (kind, message, task=None, agent=None)


class Attention:
    def __init__(self, tmux: Tmux, agents: AgentPanes, journal: Journal) -> None:
        self.tmux = tmux
        self.agents = agents
        self.journal = journal
        self.watches: dict[str, Watch] = {}

    def expect(self, agent: str, sent: Unconfirmed) -> None:
        """A text was just submitted to `agent`: watch its screen take it."""
        self.watches[agent] = replace(self.watches.get(agent, Watch()), unconfirmed=sent)

    def look(self, state: st.State, readings: dict[str, Reading], now: float) -> None:
        waiting = [n for n, w in self.watches.items() if w.unconfirmed is not None]
        for name in dict.fromkeys([*readings, *waiting]):
            current = state.agent(name)
            watch = self.watches.get(name, Watch())
            sent = watch.unconfirmed
            task = state.tasks.get(sent.task) if sent else None
            in_flight = (
                sent is not None
                and task is not None
                and task.status == st.DISPATCHED
                and task.attempts == sent.n
            )
            holding = current.task if current else None
            watch, actions = attend(
                name, watch, readings.get(name), holding, in_flight, self._manner(name), now
            )
            for action in actions:
                watch = self._perform(name, action, watch)
            self.watches[name] = watch

    def _manner(self, agent: str) -> Manner:
        profile = self.agents.profile(agent)
        approve = self.agents.config(agent).on_permission == "approve"
        return Manner(
            profile.approve if approve else None,
            profile.settle,
            self.agents.windows.get(agent, "?"),
        )

    def _perform(self, agent: str, action: Say | Approve | PressEnter, watch: Watch) -> Watch:
        """Journal a line, or send keys and journal them; the watch to keep after it."""
        if isinstance(action, Say):
            self.journal(action.kind, action.message, task=action.task, agent=agent)
            return watch
        pane = self.agents.panes[agent]
        try:
            if isinstance(action, Approve):
                self.tmux.keys.send_keys(pane, *action.keys)
            else:
                self.tmux.keys.press_enter(pane)
        except TmuxError as exc:
            what = "could not approve" if isinstance(action, Approve) else "could not press Enter"
            self.journal(
                "tmux-error", f"{agent}: {what}: {exc}", task=action.said.task, agent=agent
            )
            return action.kept
        said = action.said
        self.journal(said.kind, said.message, task=said.task, agent=agent)
        return watch

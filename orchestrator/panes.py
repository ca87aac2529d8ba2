"""The agents' windows: found or created, repaired when they vanish, watched for life.

An agent is *present* while its pane lives, and *ready* once the pane runs a program (not a
shell) that has been up for `settle` seconds; only a ready agent is given a prompt.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from .config import Agent, Settings
from .store import Store
from .tmux import PaneInfo, Tmux

SHELLS = frozenset(
    {"bash", "zsh", "sh", "dash", "fish", "ksh", "mksh", "tcsh", "csh", "ash", "nu", "xonsh"}
)


@dataclass(frozen=True)
class Seen:
    """One look at every agent's pane."""

    present: frozenset[str]
    ready: frozenset[str]
    activity: dict[str, float] = field(default_factory=dict)


def pane_detail(info: PaneInfo | None) -> str:
    """Why a pane cannot take a prompt ('' if it can)."""
    if info is None or info.dead:
        return "gone"
    if info.command in SHELLS:
        return "shell"  # its program has not started, or exited back to a shell
    return ""


class AgentPanes:
    def __init__(
        self,
        tmux: Tmux,
        settings: Settings,
        store: Store,
        journal: Callable[[str, str, str], None],
        settle: float,
    ) -> None:
        self.tmux = tmux
        self.settings = settings
        self.store = store
        self.journal = journal  # (kind, message, agent)
        self.settle = settle
        self.panes: dict[str, str] = {}  # agent -> pane id
        self.windows: dict[str, str] = {}  # agent -> "index:name"
        self.details: dict[str, str] = {}  # agent -> why it cannot take a prompt
        self.program_since: dict[str, float] = {}

    def config(self, name: str) -> Agent:
        agent = self.settings.agent(name)
        return agent or Agent(name=name, window=name, command=None, profile="generic")

    def prepare(self, agents: Iterable[Agent]) -> None:
        """Find each agent's window (used as it is) or create it, starting its command."""
        session = self.tmux.ensure_session(self.settings.session, self.settings.workdir)
        known = self.store.panes()
        live = self.tmux.panes()
        for agent in agents:
            pane = known.get(agent.name)
            if pane is None or pane not in live or live[pane].session != session:
                pane = self.tmux.find_window(session, agent.window)
            if pane is None:
                pane = self.tmux.create_window(
                    session, agent.window, agent.name, agent.command, self.settings.workdir
                )
                self.journal(
                    "window-created",
                    f"{agent.name}: created window {agent.window}"
                    + (f" running {agent.command!r}" if agent.command else " (a shell)"),
                    agent.name,
                )
            self.panes[agent.name] = pane
            with self.store.transaction():
                self.store.set_pane(agent.name, pane)

    def look(self, names: Iterable[str], now: float) -> Seen:
        """Poll every pane once (repairing vanished windows first). Raises TmuxError."""
        names = list(names)
        panes = self.tmux.panes()
        if not panes or any(self.panes.get(n) not in panes for n in names):
            self._repair(names, panes)
            panes = self.tmux.panes()
        present, ready, activity = set(), set(), {}
        for name in names:
            info = panes.get(self.panes.get(name, ""))
            detail = pane_detail(info)
            self.details[name] = detail
            if info is not None:
                self.windows[name] = info.label
                activity[name] = info.activity
            if info is None or info.dead:
                self.program_since.pop(name, None)
                continue
            present.add(name)
            if detail:
                self.program_since.pop(name, None)
                continue
            since = self.program_since.setdefault(name, now)
            if now - since >= self.settle:
                ready.add(name)
        return Seen(frozenset(present), frozenset(ready), activity)

    def _repair(self, names: list[str], panes: dict[str, PaneInfo]) -> None:
        """Recreate the session and the windows that vanished (those with a command run it)."""
        missing = [self.config(n) for n in names if self.panes.get(n) not in panes]
        recreatable = [a for a in missing if a.command or not panes]
        if recreatable:
            self.prepare(recreatable)

    def unsettle(self, name: str) -> None:
        """The agent's pane could not take a text: wait for it to settle again."""
        self.program_since.pop(name, None)

    def running_program(self, name: str) -> bool:
        return name in self.panes and self.details.get(name, "gone") == ""

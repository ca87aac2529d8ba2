"""The agents' windows: found or created, repaired when they vanish, watched for life.

An agent is *present* while its pane lives, and *ready* once the pane runs a program (not a
shell) that has settled (core/lifecycle.py decides when, and when a program that exited is
started again); only a ready agent is given a prompt. Here the panes are looked at, their
screens read and their programs started.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from ..adapters.keys import SHELLS
from ..adapters.store import Store
from ..adapters.tmux import PaneInfo, Tmux
from ..config.settings import Agent, Settings
from ..core import lifecycle
from ..core.lifecycle import READY, Backoff
from ..core.reading import Reading
from ..errors import TmuxError
from .limits import Limits
from .screen import Profile, classify, profile_for

LIMITS_KEY = "rate_limits"
IDLE_LOOK = 5.0  # seconds between two reads of the screen of an agent nothing waits for


@dataclass(frozen=True)
class Seen:
    """One look at every agent's pane."""

    present: frozenset[str]
    ready: frozenset[str]
    activity: dict[str, float] = field(default_factory=dict)
    readings: dict[str, Reading] = field(default_factory=dict)  # screens read this time
    running: frozenset[str] = frozenset()  # agents whose pane runs their program


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
        journal: Callable[[str, str, str | None], None],
    ) -> None:
        self.tmux = tmux
        self.settings = settings
        self.store = store
        self.journal = journal  # (kind, message, agent)
        self.panes: dict[str, str] = {}  # agent -> pane id
        self.windows: dict[str, str] = {}  # agent -> "index:name"
        self.details: dict[str, str] = {}  # agent -> why it cannot take a prompt, for people
        self.programs: set[str] = set()  # agents whose pane runs a program (not a shell)
        self.program_since: dict[str, float] = {}  # generic profiles: since when
        self.drawn: set[str] = set()  # generic profiles: their program has drawn something
        self.first_idle: dict[str, float] = {}  # read profiles: first idle screen since start
        self.screens: dict[str, tuple[str, float]] = {}  # read profiles: (screen, shown since)
        self.profiles: dict[str, Profile] = {}
        self.restarts: dict[str, Backoff] = {}  # agent -> its restarts' backoff
        self.session_lost = False  # the session was found missing (journaled once)
        self.exits_told: set[str] = set()  # agents whose dead pane's last words are journaled
        self.unwatched: dict[str, float] = {}  # agent nothing waits for -> its screen last read
        self.shown: dict[str, str] = {}  # agent -> its detail at that read ("" if it was ready)
        self.limits = Limits(store.get_meta(LIMITS_KEY), journal, self._save_limits)

    def _save_limits(self, text: str) -> None:
        with self.store.transaction():
            self.store.set_meta(LIMITS_KEY, text)

    def config(self, name: str) -> Agent:
        agent = self.settings.agent(name)
        return agent or Agent(name=name, window=name, command=None, profile="generic")

    def profile(self, name: str) -> Profile:
        if name not in self.profiles:
            self.profiles[name] = profile_for(self.config(name))
        return self.profiles[name]

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

    def look(self, names: Iterable[str], now: float, watched: set[str]) -> Seen:
        """Poll every pane once (one `list-panes -a`, repairing vanished windows first), and
        read the screens of the `watched` agents whose profile reads screens. Raises TmuxError.
        """
        names = list(names)
        panes = self.tmux.panes()
        # A pane that vanished took its program with it, whatever runs in a new window now;
        # so did a dead one beside which a person opened a new window of the agent's name.
        lost = [n for n in names if self.panes.get(n) not in panes or self._reopened(n, panes)]
        if lost:
            for name in lost:
                self._forget(name)
            self._repair(lost, now)
            panes = self.tmux.panes()
        present, ready, activity, readings = set(), set(), {}, {}
        for name in names:
            info = panes.get(self.panes.get(name, ""))
            detail = pane_detail(info)
            self.details[name] = detail
            if info is not None:
                self.windows[name] = info.label
                activity[name] = info.activity
            if info is not None and not info.dead:
                present.add(name)
            if detail or info is None:  # gone, or a shell: its program is not (or no longer) up
                if info is not None and info.dead:
                    self._tell_exit(name, info)
                self._forget(name)
                self._restart(name, now, info)
                continue
            self.programs.add(name)
            self.exits_told.discard(name)
            self._healthy(name, now)
            profile = self.profile(name)
            if not profile.reads_screen:
                since = self.program_since.setdefault(name, now)
                settled = now - since >= profile.settle
                drawn = settled and self._drawn(name, name in watched, now)
                printed = lifecycle.output_still(info.activity, now)
                verdict = lifecycle.output_verdict(since, drawn, printed, profile.pace, now)
                self.details[name] = verdict
                if verdict == READY:
                    ready.add(name)
                continue
            if not self._look_due(name, name in watched, now):
                if self.shown.get(name) == "":
                    ready.add(name)
                self.details[name] = self.shown.get(name, "")
                continue
            screen = self.tmux.capture(self.panes[name], history=0)
            readings[name] = classify(screen, profile, self.limits.stale.get(name, 0))
            if self._ready(name, screen, readings[name], info.activity, now):
                ready.add(name)
            self.shown[name] = "" if name in ready else self.details[name]
        running = frozenset(n for n in names if n in self.programs and n not in lost)
        return Seen(frozenset(present), frozenset(ready), activity, readings, running)

    def _look_due(self, name: str, watched: bool, now: float) -> bool:
        """Is the agent's screen to be read at this look? Always while it has something to
        receive; else (nothing to give it now) every IDLE_LOOK seconds, so that what it shows
        (idle, waiting for a person, a usage limit, still blank) is what it is."""
        if watched:
            self.unwatched.pop(name, None)
            return True
        looked = self.unwatched.get(name)
        if looked is not None and now - looked < IDLE_LOOK:
            return False
        self.unwatched[name] = now
        return True

    def _drawn(self, name: str, watched: bool, now: float) -> bool:
        """Has the agent's program drawn anything yet? A program still loading shows a blank
        pane, and what is typed then goes to the terminal, not to it: a program that sets raw
        mode by flushing (as Python's tty.setraw does) drops it unseen. The screen is read
        (when a look is due) until it shows something, then not again while the program
        lives."""
        due = name not in self.drawn and self._look_due(name, watched, now)
        if due and self.tmux.capture(self.panes[name], history=0).strip():
            self.drawn.add(name)
        return name in self.drawn

    def _ready(self, name: str, screen: str, reading: Reading, activity: float, now: float) -> bool:
        """May the agent whose screen reads so be given a prompt? If not, `details` says why."""
        shown = self.screens[name] = lifecycle.shown_since(
            self.screens.get(name), screen, activity, now
        )
        held = self.limits.check(name, reading, now, self.config(name).rate_limit_pause)
        verdict, first = lifecycle.screen_verdict(
            reading, held is not None, self.first_idle.get(name), now - shown[1],
            self.profile(name).pace, now,
        )  # fmt: skip
        if first is not None:
            self.first_idle[name] = first
        self.details[name] = verdict
        return verdict == READY

    def _reopened(self, name: str, panes: dict[str, PaneInfo]) -> bool:
        """Is the agent's pane dead, with a living window of its name beside it?"""
        info = panes.get(self.panes.get(name, ""))
        if info is None or not info.dead:
            return False
        window = str(self.config(name).window)
        if window.isdigit():
            return False  # no two windows share an index
        return any(
            p.session == info.session
            and p.window != info.window
            and not p.dead
            and p.label.split(":", 1)[1] == window
            for p in panes.values()
        )

    def _tell_exit(self, name: str, info: PaneInfo) -> None:
        """Journal, once per death, that the agent's program exited and what it printed last
        (its window keeps the pane: see Tmux.create_window). Only ever written down."""
        if name in self.exits_told:
            return
        self.exits_told.add(name)
        try:
            words = self.tmux.last_lines(info.id)
        except TmuxError:
            words = []
        status = f" with status {info.dead_status}" if info.dead_status else ""
        said = f"; its last lines: {' | '.join(w[:200] for w in words)}" if words else ""
        self.journal("exited", f"{name}: its program exited{status}{said}", name)

    def _forget(self, name: str) -> None:
        """Its program is gone (or must prove itself again): forget what it showed."""
        self.programs.discard(name)
        self.program_since.pop(name, None)
        self.drawn.discard(name)
        self.first_idle.pop(name, None)
        self.screens.pop(name, None)

    def _repair(self, lost: list[str], now: float) -> None:
        """For each agent whose pane vanished: find its window again if someone reopened it;
        else, with `restart: true`, recreate it running its command (and the session, if tmux
        itself went away). The others stay gone until they come back."""
        session = self.tmux.session_id(self.settings.session)
        if session is None and not self.session_lost:
            agents = [self.config(n) for n in lost]
            back = [a.name for a in agents if a.restart and a.command]
            then = (
                f"recreating it for {', '.join(back)}"
                if back
                else "waiting for it to come back (no agent has restart: true and a command)"
            )
            self.journal(
                "tmux-error",
                f"the tmux session {self.settings.session!r} is gone (was the server "
                f"stopped?); {then}; the state is kept",
                None,
            )
        self.session_lost = session is None
        for agent in (self.config(n) for n in lost):
            pane = self.tmux.find_window(session, agent.window) if session else None
            if pane is not None:
                self.panes[agent.name] = pane
                with self.store.transaction():
                    self.store.set_pane(agent.name, pane)
                self.journal("agent", f"{agent.name}: found in window {agent.window}", agent.name)
            elif agent.restart and agent.command and self._due(agent.name, now):
                self.prepare([agent])

    # ------------------------------------------------------------------ restarts

    def _due(self, name: str, now: float) -> bool:
        """May the agent be restarted now? Counts the restart and sets the next delay."""
        backoff = lifecycle.restart(self.restarts.get(name), now)
        if backoff is None:
            return False
        self.restarts[name] = backoff
        self.journal(
            "restart",
            f"{name}: starting {self.config(name).command!r} again (restart "
            f"{backoff.restarts}; the next no sooner than {backoff.not_before - now:.0f}s "
            "from now)",
            name,
        )
        return True

    def _restart(self, name: str, now: float, info: PaneInfo | None) -> None:
        agent = self.config(name)
        if not (agent.restart and agent.command) or info is None:
            return  # a vanished window is recreated by _repair
        if self._due(name, now):
            self.tmux.respawn(info.id, agent.command, self.settings.workdir)

    def _healthy(self, name: str, now: float) -> None:
        """A program that has run a while resets its restart backoff."""
        since = self.program_since.get(name) or self.first_idle.get(name)
        if lifecycle.healthy(self.restarts.get(name), since, now) is None:
            self.restarts.pop(name, None)

    def unsettle(self, name: str) -> None:
        """The agent's pane could not take a text: wait for it to settle again."""
        self.program_since.pop(name, None)
        self.first_idle.pop(name, None)

    def running_program(self, name: str) -> bool:
        return name in self.panes and name in self.programs

"""Exactly-once delivery of a text into an agent's pane.

Every send is recorded before its keys go out (stage `sending`, by the caller, in the same
transaction as the decision to send), and its stage is committed after each step:
`pasted` once the text is in the input box, `sent` once Enter went out. After a crash, even
`kill -9`, `recover` decides from the stage and the marker on the screen what reached the
agent, so that a text is never lost and never sent twice.

Where the agent's screen is read, Enter waits until the paste shows: a TUI that has not drawn
the paste yet may not have taken it in (qwen-code then submitted its "[Pasted Content N
chars]" placeholder instead of the text).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from dataclasses import dataclass

from .prompt import label, last_line, marker
from .screen import Profile
from .store import PASTED, SENDING, SENT, Attempt, Store
from .tmux import Tmux

FAULT_POINTS = ("recorded", "pasted-uncommitted", "pasted", "entered", "board-read")
LANDING_LIMIT = 3.0  # seconds a paste may take to show before Enter goes anyway
LANDING_POLL = 0.05


class Faults:
    """Fault injection for the crash tests: `ORCHESTRATE_FAULT=POINT:N` (comma-separated).

    The daemon kills itself with SIGKILL the N-th time it reaches POINT, exactly as
    `kill -9` would, so the tests can crash it between any two steps of a dispatch.
    Without the variable nothing happens.
    """

    def __init__(self, spec: str) -> None:
        self.limits: dict[str, int] = {}
        self.counts: dict[str, int] = {}
        for item in filter(None, (s.strip() for s in spec.split(","))):
            point, _, count = item.partition(":")
            if point not in FAULT_POINTS:
                raise ValueError(f"ORCHESTRATE_FAULT: unknown point {point!r}")
            self.limits[point] = int(count or 1)

    def reached(self, point: str) -> None:
        if point in self.limits:
            self.counts[point] = self.counts.get(point, 0) + 1
            if self.counts[point] == self.limits[point]:
                os.kill(os.getpid(), signal.SIGKILL)


@dataclass(frozen=True)
class Sent:
    """What became of a delivery: `kind` and `message` are for the journal."""

    kind: str
    message: str


class Courier:
    def __init__(
        self,
        tmux: Tmux,
        store: Store,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
        faults: Faults,
    ) -> None:
        self.tmux = tmux
        self.store = store
        self.clock = clock
        self.sleep = sleep
        self.faults = faults

    def send(self, task: str, n: int, kind: str, pane: str, text: str, profile: Profile) -> bool:
        """Paste; wait until the paste shows (where the profile reads the screen), then the
        profile's gap; press Enter. The stage is committed after each step. False when the
        paste did not show within LANDING_LIMIT seconds (Enter went anyway).

        Raises TmuxError if the pane cannot take it; the stage then says how far it got.
        """
        self.faults.reached("recorded")
        before = self.tmux.capture(pane, history=0) if profile.reads_screen else None
        self.tmux.paste(pane, text)
        self.faults.reached("pasted-uncommitted")
        with self.store.transaction():
            self.store.set_stage(task, n, PASTED, self.clock(), kind)
        self.faults.reached("pasted")
        shown = before is None or self._shown(pane, before)
        self.sleep(profile.gap)
        self.tmux.press_enter(pane)
        self.faults.reached("entered")
        self.settle(task, n, kind)
        return shown

    def _shown(self, pane: str, before: str) -> bool:
        """Has the screen changed since `before` and then held still for one poll (the
        program drew the paste and is done drawing)? Waits up to LANDING_LIMIT seconds."""
        deadline = self.clock() + LANDING_LIMIT
        last = before
        while self.clock() < deadline:
            self.sleep(LANDING_POLL)
            screen = self.tmux.capture(pane, history=0)
            if screen != before and screen == last:
                return True
            last = screen
        return False

    def settle(self, task: str, n: int, kind: str) -> None:
        with self.store.transaction():
            self.store.set_stage(task, n, SENT, self.clock(), kind)

    def recover(self, attempt: Attempt, pane: str, text: str, profile: Profile) -> Sent:
        """Resolve a send that a crash interrupted, from its stage and the screen."""
        name = label(attempt.task, attempt.n, attempt.kind)
        mark = marker(attempt.task, attempt.n, attempt.kind)
        screen = self.tmux.capture(pane, history=2000)
        if mark in screen:
            # An input box sits at the bottom: the marker (or the text's own last line)
            # there means the text is still waiting for its Enter.
            tail = last_line(text).strip()[-40:]
            bottom = last_line(screen)
            if mark in bottom or (tail and tail in bottom):
                self.tmux.press_enter(pane)
                outcome = "was still in the input box: submitted it"
            else:
                outcome = "had been submitted"
            self.settle(attempt.task, attempt.n, attempt.kind)
            return Sent("recovered", f"{name}: {outcome}")
        if attempt.stage == SENDING:
            self.send(attempt.task, attempt.n, attempt.kind, pane, text, profile)
            return Sent("recovered", f"{name}: never reached {attempt.agent}: sent it now")
        self.settle(attempt.task, attempt.n, attempt.kind)
        return Sent(
            "unconfirmed", f"{name}: pasted before the restart, not visible now: assumed submitted"
        )

"""What the running daemon shows of itself: the dashboard, ORCHESTRATOR_STATUS.md, the
snapshot `status` serves (quick.py), and the agents and problems kept in the store for
`status` and `watch` run elsewhere."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

from ..adapters.store import Store
from ..cli.quick import PUBLISHED, published
from ..config.settings import Settings
from ..core.state import State
from ..errors import StateError
from ..text import printable_data
from ..views.dashboard import View
from ..views.rows import Snapshot
from ..views.snapshot import PROBLEMS_KEY, snapshot, status_markdown, write_atomically
from .panes import AgentPanes

log = logging.getLogger("orchestrate")

PUBLISH_GAP = 0.25  # seconds: at most four publishes a second
SHARE = 0.1  # and at most this share of the loop's time


class Publisher:
    def __init__(
        self,
        view: View,
        settings: Settings,
        store: Store,
        clock: Callable[[], float],
        agents: AgentPanes,
        problems: Callable[[], tuple[str, ...]],
    ) -> None:
        self.view = view
        self.settings = settings
        self.store = store
        self.clock = clock
        self.agents = agents
        self.problems = problems  # the queue files' and the lasting troubles of now
        self.started: float | None = None  # when the daemon started, as recorded
        self.last: tuple[State | None, dict[str, str], float] = (None, {}, float("-inf"))
        self.due: float | None = None  # a publish held back by the gap
        self.gap = PUBLISH_GAP
        self.status_body = ""  # ORCHESTRATOR_STATUS.md as last written, but its time
        self.stored: tuple[str, str] = ("", "")  # the agents and problems stored

    def snapshot(self, state: State, running: bool = True) -> Snapshot:
        return snapshot(
            state,
            self.settings.session,
            self.settings.root,
            self.clock(),
            self.agents.windows,
            self.agents.details,
            running,
            self.started,
            str(self.settings.board),
            self.problems(),
        )

    def soon(self, state: State, every: float) -> None:
        """Publish a changed state or what is seen of an agent (busy, waiting for a person:
        not in the state), or every `every` seconds the time, at most every `gap` seconds:
        a publish renders every task, and at 10,000 tasks publishing each change would have
        the loop serve the agents late. `due` says when to come back."""
        now = self.clock()
        shown, seen, at = self.last
        if shown is state and seen == self.agents.details and now < at + every:
            self.due = None
        elif now < at + self.gap:
            self.due = at + self.gap
        else:
            self.publish(self.snapshot(state))
            self.last, self.due = (state, dict(self.agents.details), now), None
            self.gap = max(PUBLISH_GAP, (self.clock() - now) / SHARE)

    def publish(self, snap: Snapshot) -> None:
        """Raises StateError if the store cannot take the agents and problems."""
        self.view.update(snap)
        agents = json.dumps([a.__dict__ for a in snap.agents], ensure_ascii=False)
        problems = json.dumps(printable_data(list(snap.problems)), ensure_ascii=False)
        if (agents, problems) != self.stored:
            with self.store.transaction():
                self.store.set_meta("agents", agents)
                self.store.set_meta(PROBLEMS_KEY, problems)
            self.stored = (agents, problems)
        with suppress(OSError, StateError):  # `status` reads the store instead
            served = published(snap, os.getpid())
            write_atomically(self.settings.state_dir / PUBLISHED, served, 0o600)  # private
        text = status_markdown(snap)
        # The timestamp line changes every second; rewrite only when something else changed.
        body = "\n".join(line for line in text.splitlines() if not line.startswith("**Updated**"))
        if body != self.status_body or not snap.running:
            self.status_body = body
            _write(self.settings.status_file, text)


def _write(path: Path, text: str) -> None:
    try:
        write_atomically(path, text)
    except OSError as exc:
        log.warning("cannot write %s: %s", path, exc)

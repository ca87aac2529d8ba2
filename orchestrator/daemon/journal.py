"""The daemon's journal: the one way in to the journal, the log, the views and notifications.

Board and pane text in a message or its data loses its control characters here (text.py), so
nothing a model or a board wrote reaches a terminal, a notification command or a file with
them. It also keeps the lasting troubles (the board unreadable, tmux gone, the state folder
replaced): each is journaled once when it starts or changes, and once when it ends; and a
state database that cannot be written, which the journal (in it) cannot take, is told on the
view and the log.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from ..adapters.store import Store
from ..core import state as st
from ..errors import StateError
from ..text import printable, printable_data
from ..views.dashboard import View
from .notify import NOTIFY_KINDS, Notifier

log = logging.getLogger("orchestrator.daemon")


class Journal:
    def __init__(
        self, store: Store, view: View, clock: Callable[[], float], root: Path, session: str
    ) -> None:
        self.store = store
        self.view = view
        self.clock = clock
        self.root = root
        self.session = session
        self.notifier: Notifier | None = None
        self.troubles: dict[str, str] = {}  # key -> the lasting trouble as last told ('': none)
        self.unwritable = ""  # what is wrong with the state database, as last told

    def __call__(
        self,
        kind: str,
        message: str,
        task: str | None = None,
        agent: str | None = None,
        data: dict[str, object] | None = None,
    ) -> None:
        message = printable(message)
        data = printable_data(data) if data else data
        now = self.clock()
        self.store.journal(kind, message, task, agent, data, ts=now)
        log.info("%s %s", kind, message)
        self.view.event(kind, message, task, agent)
        if kind in NOTIFY_KINDS and self.notifier is not None:
            self.notifier.send(
                {
                    "event": kind,
                    "message": message,
                    "task": task,
                    "agent": agent,
                    "time": now,
                    "workspace": str(self.root),
                    "session": self.session,
                }
            )

    def trouble(self, key: str, message: str) -> None:
        """Journal a lasting problem once when it starts or changes, and once when it ends."""
        previous = self.troubles.get(key, "")
        if message == previous:
            return
        self.troubles[key] = message
        if message:
            self(f"{key}-error", message)
        else:
            self(f"{key}-ok", f"{key}: working again")

    def database(self, exc: StateError | None) -> None:
        """A state database that cannot be written is told once (it cannot go into the
        journal, which lives in it), and once when it works again."""
        message = str(exc) if exc else ""
        if message == self.unwritable:
            return
        if message:
            log.error("%s", message)
            self.view.event("state-error", message, None, None)
        else:
            self.unwritable = ""
            self("state-ok", "the state database can be written again: going on")
        self.unwritable = message

    def problems(self) -> tuple[str, ...]:
        """The lasting troubles of now, for people."""
        return tuple(m for m in self.troubles.values() if m)

    def actions(
        self,
        before: st.State,
        after: st.State,
        actions: Iterable[st.Action],
        details: Mapping[str, str],
    ) -> None:
        """What the journal says of performed actions (state `before` them, `after` them);
        `details` says why each agent cannot take a prompt."""

        def holder(task_id: str) -> str | None:
            """The agent a task event is about: the one holding (or last holding) it."""
            task = after.tasks.get(task_id)
            return task.agent if task else None

        for action in actions:
            if isinstance(action, st.AddTask):
                extra = f" ({action.reason})" if action.reason else ""
                self("task-added", f"{action.task.id}: {action.status}{extra}", task=action.task.id)
            elif isinstance(action, st.Update):
                self(action.kind, action.message, task=action.task_id, agent=holder(action.task_id))
            elif isinstance(action, st.Requeue):
                self(
                    "requeued",
                    f"{action.task_id}: {action.reason}",
                    task=action.task_id,
                    agent=holder(action.task_id),
                )
            elif isinstance(action, st.SetPresence):
                self._presence(before, action, details.get(action.agent, ""))
            elif isinstance(action, st.Note):
                self(action.kind, action.message, task=action.task_id)
            elif isinstance(action, st.SetPaused):
                word = "paused" if action.paused else "resumed"
                self("agent", f"{action.agent}: {word} by the operator", agent=action.agent)

    def _presence(self, before: st.State, action: st.SetPresence, detail: str) -> None:
        word = "ready" if action.ready else ("not ready" if action.present else "gone")
        was = before.agent(action.agent)
        # An agent that was up loses its program: worth telling a person. With a task in
        # flight, the task's own "gone" event says it (and what became of the task).
        lost = was is not None and was.present and was.running and was.task is None
        lost = lost and not (action.running and action.present)
        word = "gone" if lost else word
        self(
            "gone" if lost else "agent",
            f"{action.agent}: {word}" + (f" ({detail})" if detail not in ("", word) else ""),
            agent=action.agent,
        )

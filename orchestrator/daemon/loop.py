"""The daemon's wiring and its one loop: it takes events and hands them to the `Executor`
(the scheduler's decision, recorded, folded and carried out).

Producers (the file watcher, validation threads, signal handlers) only post events on
`self.events`; this thread owns the state. The board comes in through the `Intake`, sending
goes through the `Courier` (exactly-once delivery), checking through the `Validator`.
"""

from __future__ import annotations

import logging
import os
import queue
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from ..adapters.lock import Lock
from ..adapters.tmux import Tmux
from ..adapters.watcher import BoardChanged, Change, ControlChanged, QueuesChanged, Watcher
from ..config.queueset import InForce
from ..config.settings import agents_for, load_settings
from ..core import scheduler as sch
from ..core import state as st
from ..errors import StateError
from ..views.dashboard import View
from .attention import Attention
from .delivery import Courier, Outbox
from .executor import Executor
from .faults import Faults
from .folder import StateFolder, open_store
from .intake import Intake
from .journal import Journal
from .notify import Notifier, NotifyProblem
from .observe import Observer
from .panes import AgentPanes
from .publish import Publisher
from .sending import Sender
from .validation import Validator

log = logging.getLogger(__name__)

CONTROL_FILE = "control"  # touched by the CLI after it queued a command in the store


@dataclass(frozen=True)
class Timing:
    tick: float = 1.0  # how often agents' panes are polled and the board re-checked
    settle: float = 0.25  # how long an unterminated block at the board's end may grow


@dataclass(frozen=True)
class Stop:
    pass


@dataclass(frozen=True)
class Woken:
    pass


# What the loop is woken by: the one stream its producers post on.
Inbound = Stop | Woken | Change | st.ValidationDone | NotifyProblem


class Daemon:
    def __init__(
        self,
        root: Path,
        tmux: Tmux,
        view: View,
        timing: Timing = Timing(),
        exit_when_done: bool = False,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.root = root
        self.tmux = tmux
        self.view = view
        self.timing = timing
        self.exit_when_done = exit_when_done
        self.clock = clock
        self.sleep = sleep
        self.events: queue.Queue[Inbound] = queue.Queue()
        self.planned: st.State | None = None  # the state the loop last planned on
        self.notifier: Notifier | None = None
        self.faults = Faults(os.environ.get("ORCHESTRATE_FAULT", ""))
        self.all_done = False  # every task settled, as last journaled
        self.deferred: list[Inbound] = []  # events the state database could not take yet

    @property
    def state(self) -> st.State:
        """The state in memory, which the executor owns (and changes only by folding)."""
        return self.executor.state

    # ------------------------------------------------------------------ life cycle

    def stop(self) -> None:
        """Thread-safe: ask the loop to end."""
        self.events.put(Stop())

    def _wake(self) -> None:
        """Thread-safe: a tmux call of a delivery has returned; the loop takes it on."""
        self.events.put(Woken())

    def run(self) -> int:
        """Run until stopped (exit 0), or with exit_when_done until nothing can progress."""
        self.settings = load_settings(self.root)
        self.watcher: Watcher | None = None
        lock = Lock(self.settings.state_dir / "daemon.lock")
        lock.acquire()
        self.store = open_store(self.settings.state_dir / "state.db")
        self.journal = Journal(self.store, self.view, self.clock, self.root, self.settings.session)
        self.folder = StateFolder(self.store, lock, self.journal)
        self.queues = InForce(self.settings, self.journal)
        self.courier = Courier(
            self.tmux, self.store, self.clock, self.sleep, self.faults, self._wake
        )
        self.outbox = Outbox(self.courier)
        self.agents = AgentPanes(
            self.tmux,
            self.settings,
            self.store,
            lambda kind, message, agent: self.journal(kind, message, agent=agent),
        )
        self.attention = Attention(self.tmux, self.agents, self.journal)
        self.publisher = Publisher(
            self.view,
            self.settings,
            self.store,
            self.clock,
            self.agents,
            lambda: (*self.queues.problems, *self.journal.problems()),
        )
        self.validator = Validator(
            self.settings.workdir,
            self.settings.state_dir / "logs",
            self.events.put,
            self.faults.reached,
        )
        self.executor = Executor(
            self.store, self.journal, self.validator, self.agents.details, self.clock
        )
        self.sender = self.executor.sender = Sender(
            self.executor,
            self.courier,
            self.outbox,
            self.agents,
            self.attention,
            self.store,
            self.settings,
            self.journal,
            self.clock,
        )
        self.notifier = Notifier(self.settings.notify, self.settings.workdir, self.events.put)
        self.journal.notifier = self.notifier
        try:
            if not self._begin():
                return 0
            self._watch()
            return self._loop()
        finally:
            if self.watcher is not None:
                self.watcher.stop()
                self.watcher = None
            self.validator.stop()
            # A state database that cannot be written (said already) does not keep the
            # daemon from stopping cleanly.
            with suppress(StateError):
                self.journal("daemon-stop", "daemon stopped")
            if self.notifier is not None:
                self.notifier.stop()
            with suppress(StateError):
                self.publisher.publish(self.publisher.snapshot(self.state, running=False))
            try:
                # A folder deleted in the last second: kept all the same.
                self.folder.check(self._rewatch)
            finally:
                self.tmux.close()
                self.store.close()
                lock.release()

    def _watch(self) -> None:
        """Watch the board, the queue files and the control file; a write between the last
        read and the watch is caught by the reads this asks for: the board's always, the
        queue files' if one of them changed since they were read."""
        self.watcher = Watcher(
            self.settings.board,
            self.settings.queues,
            self.settings.state_dir / CONTROL_FILE,
            self.events.put,
        )
        self.watcher.start()
        self.events.put(BoardChanged())
        if self.queues.changed():
            self.events.put(QueuesChanged(str(self.settings.queues)))

    def _rewatch(self) -> None:
        """A restored folder: its watch on the old one went with it (a queue file written
        meanwhile is read again by `_watch`)."""
        if self.watcher is not None:
            self.watcher.stop()
            self._watch()

    def _begin(self) -> bool:
        """Journal the start and recover. A state database that fails meanwhile (its folder
        deleted as the daemon started, a full disk) is told, restored where it can be, and
        the start tried again at each tick, as the next start after a crash would; False if
        the daemon was stopped meanwhile."""
        said = False
        while True:
            try:
                if not said:
                    self.journal("daemon-start", f"daemon started in {self.root}")
                    said = True
                self.publisher.started = started = self.clock()
                with self.executor.atomic():
                    self.store.set_meta("started", repr(started))
                self._startup()
                self.journal.database(None)
                return True
            except StateError as exc:
                self.journal.database(exc)
            with suppress(StateError):
                self.folder.check(self._rewatch)  # a vanished folder is restored here
            items = _take(self.events, self.timing.tick)
            if any(isinstance(i, Stop) for i in items):
                return False
            self.deferred += [i for i in items if not isinstance(i, Woken)]

    def _startup(self) -> None:
        stored = self.store.tasks()
        queues = self.queues.read(starting=True)
        agents = agents_for(self.settings, [*(t.task for t in stored), *queues])
        self.executor.state = st.resumed(
            stored,
            [a.name for a in agents],
            self.store.paused_agents(),
            self.store.orphans(),
            self.settings.stall_after,
        )
        self.agents.prepare(agents)
        self.executor.handle(st.QueueLoaded(tuple(queues)), dispatch=False)
        self.intake = Intake(
            self.settings.board,
            self.queues,
            self.store,
            self.journal,
            self.executor,
            self.faults,
            self.clock,
        )
        self.observer = Observer(
            self.intake,
            self.executor,
            self.agents,
            self.attention,
            self.outbox,
            self.sender,
            self.journal,
            self.clock,
            self.timing.settle,
        )
        # A block at the end closes (the file ends with a whole line); a partial last
        # line waits for the loop's settle timer.
        self.observer.board(final=True, dispatch=False)
        self.observer.panes(dispatch=False)
        self.sender.recover_attempts()
        self.executor.check_again()
        self.intake.commands()
        self.executor.handle(st.Tick())

    def _loop(self) -> int:
        next_tick = self.clock() + self.timing.tick
        while True:
            now = self.clock()
            due = [
                t
                for t in (next_tick, self.observer.settle_at, self.outbox.due(), self.publisher.due)
                if t is not None
            ]
            items = _take(self.events, max(0.0, min(due) - now))
            if any(isinstance(i, Stop) for i in items):
                self._finish_deliveries()
                return 0
            now = self.clock()
            tick = now >= next_tick
            if tick:
                next_tick = now + self.timing.tick
                # What the state database could not take at the last try comes again.
                items, self.deferred = [*self.deferred, *items], []
            try:
                self.sender.delivered(self.outbox.advance())
                self._apply(items)
                if tick:
                    self.folder.check(self._rewatch)
                    self.observer.panes()
                if tick or any(isinstance(i, ControlChanged) for i in items):
                    self.intake.commands()
                if tick or any(isinstance(i, BoardChanged) for i in items):
                    self.observer.board_changed(now)
                self.observer.settled(now)
                if tick or self.state is not self.planned:  # else it would decide the same
                    self.executor.handle(st.Tick())
                    self.planned = self.state
                self._note_all_done()
                self.publisher.soon(self.state, self.timing.tick)
            except StateError as exc:
                self.journal.database(exc)
                continue
            self.journal.database(None)
            if (
                self.exit_when_done
                and not sch.can_progress(self.state)
                and not self.validator.running()
            ):
                done = sch.all_done(self.state)
                if not done:
                    self.journal("stuck", "no task can make progress: " + _summary(self.state))
                self._finish_deliveries()
                return 0 if done else 1

    def _finish_deliveries(self) -> None:
        """A stopping daemon takes every delivery in flight to its Enter (a few seconds at
        most): none is left for the next start to recover."""
        with suppress(StateError):
            self.sender.delivered(self.outbox.advance(wait=True))

    def _apply(self, items: list[Inbound]) -> None:
        """The events that came in. Those the state database could not take (a full disk)
        wait in `deferred` for the next tick: no validation result or queue edit is lost."""
        checked = [i for i in items if isinstance(i, st.ValidationDone)]
        edits = [i for i in items if isinstance(i, QueuesChanged)]
        if edits:
            try:
                self.intake.reload_queues()
            except StateError:
                self.deferred += [edits[0], *checked]
                raise
        while checked:
            try:
                self.executor.handle(checked[0])
            except StateError:
                self.deferred += checked
                raise
            checked.pop(0)
        for item in items:
            if isinstance(item, NotifyProblem):
                self.journal("notify-error", item.message)

    def _note_all_done(self) -> None:
        """Journal (and notify) once each time the last task settles."""
        done = bool(self.state.tasks) and sch.all_done(self.state) and not self.validator.running()
        if done and not self.all_done:
            self.journal("all-done", f"every task is settled: {_summary(self.state)}")
        self.all_done = done


def _take(events: queue.Queue[Inbound], timeout: float) -> list[Inbound]:
    """What came in within `timeout` seconds: the first event and all that came with it."""
    try:
        items = [events.get(timeout=timeout)]
    except queue.Empty:
        return []
    while True:
        try:
            items.append(events.get_nowait())
        except queue.Empty:
            return items


def _summary(state: st.State) -> str:
    counts: dict[str, int] = {}
    for t in state.tasks.values():
        counts[t.status] = counts.get(t.status, 0) + 1
    return ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))

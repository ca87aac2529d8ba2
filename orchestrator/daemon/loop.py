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
from ..adapters.statedir import REPLACED, RESTORED, TROUBLE, StateGuard, StateReplaced
from ..adapters.store import Store
from ..adapters.tmux import Tmux
from ..adapters.watcher import BoardChanged, ControlChanged, QueuesChanged, Watcher
from ..board import ReadResult
from ..config.queueset import InForce
from ..config.settings import agents_for, load_settings
from ..core import scheduler as sch
from ..core import state as st
from ..errors import ConfigError, StateError, TmuxError
from ..views.dashboard import View
from ..views.rows import Snapshot
from ..views.snapshot import snapshot
from .attention import Attention
from .delivery import Courier, Faults, Outbox
from .executor import Executor
from .intake import Intake
from .journal import Journal
from .notify import Notifier, NotifyProblem
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
        self.events: queue.Queue[object] = queue.Queue()
        self.planned: st.State | None = None  # the state the loop last planned on
        self.notifier: Notifier | None = None
        self.faults = Faults(os.environ.get("ORCHESTRATE_FAULT", ""))
        self.all_done = False  # every task settled, as last journaled
        self.deferred: list[object] = []  # events the state database could not take yet
        self.state_failure = ""  # what is wrong with the state database, as last told
        self.started: float | None = None
        self.revalidated: set[tuple[str, int]] = set()  # (task, attempt) checked again at start

    @property
    def state(self) -> st.State:
        """The state in memory, which the executor owns."""
        return self.executor.state

    @state.setter
    def state(self, state: st.State) -> None:
        self.executor.state = state

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
        self.lock = Lock(self.settings.state_dir / "daemon.lock")
        self.lock.acquire()
        self.store = self._open_store(self.settings.state_dir / "state.db")
        self.journal = Journal(self.store, self.view, self.clock, self.root, self.settings.session)
        self.guard = StateGuard(self.store)
        self.queues = InForce(self.settings, self.journal)
        self.courier = Courier(
            self.tmux, self.store, self.clock, self.sleep, self.faults, self._wake
        )
        self.outbox = Outbox(self.courier)
        self.publisher = Publisher(self.view, self.settings, self.store, self.clock)
        self.agents = AgentPanes(
            self.tmux,
            self.settings,
            self.store,
            lambda kind, message, agent: self.journal(kind, message, agent=agent),
        )
        self.attention = Attention(self.tmux, self.agents, self.journal)
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
                self.publisher.publish(self._snapshot(running=False))
            try:
                self._check_state()  # a folder deleted in the last second: kept all the same
            finally:
                self.tmux.close()
                self.store.close()
                self.lock.release()

    def _watch(self) -> None:
        """Watch the board, the queue files and the control file; a write between the last
        read and the watch is caught by the read this asks for."""
        self.watcher = Watcher(
            self.settings.board,
            self.settings.queues,
            self.settings.state_dir / CONTROL_FILE,
            self.events.put,
        )
        self.watcher.start()
        self.events.put(BoardChanged())

    def _check_state(self) -> None:
        """At each tick, before agents are looked at: is `.orchestrate/` still the one this
        daemon opened? A vanished one is restored from the open database (nothing recorded is
        lost, the run goes on); a replaced one stops the daemon, its own state kept, saying
        what to do (statedir.StateGuard). The pid file is written again if it went."""
        found = self.guard.check()
        if found.kind == REPLACED and found.kept is not None:
            if not self.journal.troubles.get("state-folder"):
                self.journal("state-replaced", found.message)
            try:
                self.guard.keep(found.kept, found.message)
            except StateError as exc:  # no room, no right: go on with it, and try again
                self.guard.replaced = False
                self.journal.trouble("state-folder", f"{exc}; the daemon goes on and tries again")
                return
            raise StateReplaced(found.message)
        if found.kind == TROUBLE:
            self.journal.trouble("state-folder", found.message)
            return
        if found.kind == RESTORED:
            self.journal.trouble("state-folder", "")
            self.journal("state-restored", found.message)
            if self.watcher is not None:  # its watch on the old folder went with it
                self.watcher.stop()
                self._watch()
                self.events.put(QueuesChanged(str(self.settings.queues)))
        if not self.guard.replaced:
            try:
                self.lock.mark()
            except OSError as exc:
                self.journal.trouble("state-folder", f"cannot write {self.lock.path}: {exc}")
                return
            self.journal.trouble("state-folder", "")

    @staticmethod
    def _open_store(db: Path) -> Store:
        """Open the state database. A folder deleted while it is being opened (`rm -rf
        .orchestrate` as the daemon starts: its first statements fail) is made again, up to
        twice; anything else wrong with it is for a person (a full disk, a corrupt file)."""
        for _ in range(2):
            try:
                return Store(db)
            except StateError:
                if db.exists():
                    raise
        return Store(db)

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
                self.started = self.clock()
                with self.executor.atomic():
                    self.store.set_meta("started", repr(self.started))
                self._startup()
                self._state_trouble(None)
                return True
            except StateError as exc:
                self._state_trouble(exc)
            with suppress(StateError):
                self._check_state()  # a vanished folder is restored here
            items = self._take(self.timing.tick)
            if any(isinstance(i, Stop) for i in items):
                return False
            self.deferred += [i for i in items if not isinstance(i, Woken)]

    def _startup(self) -> None:
        stored = self.store.tasks()
        queues = self.queues.read(starting=True)
        agents = agents_for(self.settings, [*(t.task for t in stored), *queues])
        paused = self.store.paused_agents()
        held = {t.agent: t.id for t in stored if t.status in st.ACTIVE and t.agent}
        self.state = st.State(
            tasks=st.frozen_tasks({t.id: t for t in stored}),
            agents=tuple(
                st.AgentState(
                    a.name,
                    present=False,
                    ready=False,
                    paused=a.name in paused,
                    task=held.get(a.name),
                )
                for a in agents
            ),
            orphans=self.store.orphans(),
            stall_after=self.settings.stall_after,
        )
        self.agents.prepare(agents)
        self.executor.handle(st.QueueLoaded(tuple(queues)), dispatch=False)
        self.intake = Intake(
            self.settings.board, self.store, self.journal, self.executor, self.faults, self.clock
        )
        # A block at the end closes (the file ends with a whole line); a partial last
        # line waits for the loop's settle timer.
        self._read_board(final=True, dispatch=False)
        self._poll_agents(dispatch=False)
        self.sender.recover_attempts()
        for task_id, message in self.validator.end_leftovers():
            self.journal("validate", message, task=task_id)
        for task in self.state.tasks.values():
            checking = (task.id, task.attempts)
            if task.status == st.VALIDATING and checking not in self.revalidated:
                # The daemon stopped while it was checking (once, if the start is tried again).
                self.journal("validate", f"{task.id} #{task.attempts}: validating again")
                self.executor.validate(task)
                self.revalidated.add(checking)
        self._commands()
        self.executor.handle(st.Tick())

    def _loop(self) -> int:
        next_tick = self.clock() + self.timing.tick
        settle_at: float | None = None
        while True:
            now = self.clock()
            due = [
                t
                for t in (next_tick, settle_at, self.outbox.due(), self.publisher.due)
                if t is not None
            ]
            items = self._take(max(0.0, min(due) - now))
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
                    self._check_state()
                    self._poll_agents()
                if tick or any(isinstance(i, ControlChanged) for i in items):
                    self._commands()
                if any(isinstance(i, BoardChanged) for i in items) or tick:
                    # The settle timer runs from the board's last change.
                    board = self._read_board(final=False)
                    if board is None or not board.pending:
                        settle_at = None
                    elif board.changed or settle_at is None:
                        settle_at = now + self.timing.settle
                if settle_at is not None and now >= settle_at:
                    board = self._read_board(final=True)  # settles only if nothing changed
                    pending = board is not None and board.pending
                    settle_at = now + self.timing.settle if pending else None
                if tick or self.state is not self.planned:  # else it would decide the same
                    self.executor.handle(st.Tick())
                    self.planned = self.state
                self._note_all_done()
                self.publisher.soon(self.state, self.timing.tick, self._snapshot)
            except StateError as exc:
                self._state_trouble(exc)
                continue
            self._state_trouble(None)
            if (
                self.exit_when_done
                and not sch.can_progress(self.state)
                and not self.validator.running()
            ):
                done = sch.all_done(self.state)
                if not done:
                    self.journal("stuck", "no task can make progress: " + self._summary())
                self._finish_deliveries()
                return 0 if done else 1

    def _finish_deliveries(self) -> None:
        """A stopping daemon takes every delivery in flight to its Enter (a few seconds at
        most): none is left for the next start to recover."""
        with suppress(StateError):
            self.sender.delivered(self.outbox.advance(wait=True))

    def _apply(self, items: list[object]) -> None:
        """The events that came in. Those the state database could not take (a full disk)
        wait in `deferred` for the next tick: no validation result or queue edit is lost."""
        checked = [i for i in items if isinstance(i, st.ValidationDone)]
        edits = [i for i in items if isinstance(i, QueuesChanged)]
        if edits:
            try:
                self._reload_queues()
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

    def _state_trouble(self, exc: StateError | None) -> None:
        """A state database that cannot be written is told once (it cannot go into the
        journal, which lives in it), and once when it works again. Nothing is sent meanwhile:
        every dispatch is committed before its keys go out."""
        message = str(exc) if exc else ""
        if message == self.state_failure:
            return
        if message:
            log.error("%s", message)
            self.view.event("state-error", message, None, None)
        else:
            self.state_failure = ""
            self.journal("state-ok", "the state database can be written again: going on")
        self.state_failure = message

    def _note_all_done(self) -> None:
        """Journal (and notify) once each time the last task settles."""
        done = bool(self.state.tasks) and sch.all_done(self.state) and not self.validator.running()
        if done and not self.all_done:
            self.journal("all-done", f"every task is settled: {self._summary()}")
        self.all_done = done

    def _take(self, timeout: float) -> list[object]:
        try:
            items = [self.events.get(timeout=timeout)]
        except queue.Empty:
            return []
        while True:
            try:
                items.append(self.events.get_nowait())
            except queue.Empty:
                return items

    def _summary(self) -> str:
        counts: dict[str, int] = {}
        for t in self.state.tasks.values():
            counts[t.status] = counts.get(t.status, 0) + 1
        return ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))

    # ------------------------------------------------------------------ queues and commands

    def _reload_queues(self) -> None:
        try:
            tasks = self.queues.read()
        except ConfigError as exc:  # the daemon never dies on input
            for problem in exc.problems:
                self.journal("queue-error", str(problem))
            return
        known = set(self.state.tasks)
        self.executor.handle(st.QueueLoaded(tuple(tasks)))
        added = [t.id for t in tasks if t.id not in known]
        if added:
            self.journal(
                "queue-loaded", f"queue reloaded: {len(added)} new task(s): " + ", ".join(added)
            )

    def _commands(self) -> None:
        """Apply the operators' commands queued by the CLI, and answer each."""
        for seq, command, target in self.store.pending_commands():
            answers = self.executor.handle(st.Control(command, target))
            answer = next(
                (a for a in answers if isinstance(a, st.Answer)),
                st.Answer(False, "not understood"),
            )
            with self.executor.atomic():
                self.store.answer_command(seq, answer.ok, answer.message)
                self.journal("command", f"{command} {target}: {answer.message}", task=target)

    # ------------------------------------------------------------------ board

    def _read_board(self, final: bool, dispatch: bool = True) -> ReadResult | None:
        """Take in the board's new blocks (intake.py); the read's result (None if the board
        could not be read). `final`: the settle timer, so that a block at the end closes."""
        result = self.intake.read(final)
        if dispatch and result is not None and result.blocks:
            # A free agent (one a report freed, or one a finished dependency gives work) is
            # fed now, not at the next tick, and so is one asked for missing fields. If any
            # of them reads its screen or waits for its output to stop (`quiet`), the screens
            # are read first; one that does neither was seen at the last tick, and its pane
            # is checked again (alive, no shell) in the same tmux call as the paste.
            tasks = self.state.tasks
            fed = [
                a.name
                for a in self.state.agents
                if a.task is None or (a.task in tasks and tasks[a.task].asking)
            ]
            profiles = [self.agents.profile(a) for a in fed]
            if any(p.reads_screen or p.quiet > 0 for p in profiles):
                self._poll_agents()
            else:
                self.executor.handle(st.Tick())
        return result

    # ------------------------------------------------------------------ tmux and agents

    def _poll_agents(self, dispatch: bool = True) -> None:
        names = [a.name for a in self.state.agents]
        try:
            seen = self.agents.look(names, self.clock(), sch.watched(self.state))
            self.journal.trouble("tmux", "")
        except TmuxError as exc:
            # Not an observation: nobody is declared gone because tmux did not answer.
            self.journal.trouble("tmux", f"tmux: {exc}; will retry")
            return
        # A program gone in the middle of a delivery took the paste with it: no Enter goes
        # to the one started in its place.
        for agent in [a for a in self.outbox.flying if a not in seen.running]:
            error = TmuxError(f"{agent}'s program exited before its Enter")
            self.sender.delivered(self.outbox.drop(agent, error))
        # A screen in the middle of a delivery is the delivery's: no key goes in between.
        readings = {n: r for n, r in seen.readings.items() if n not in self.outbox.flying}
        self.attention.look(self.state, readings, self.clock())
        self.state = st.with_activity(self.state, seen.activity)
        self.executor.handle(
            st.AgentsSeen(seen.present, seen.ready, seen.running), dispatch=dispatch
        )

    # ------------------------------------------------------------------ output

    def _snapshot(self, running: bool = True) -> Snapshot:
        return snapshot(
            self.state,
            self.settings.session,
            self.root,
            self.clock(),
            self.agents.windows,
            self.agents.details,
            running,
            self.started,
            str(self.settings.board),
            (*self.queues.problems, *self.journal.problems()),
        )

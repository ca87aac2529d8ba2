"""What comes into the daemon from the workspace: the board's reports, the queue files'
edits and the operators' commands.

Each read of the board's new blocks becomes the scheduler's `Reported` events, recorded with
the reader's position in one transaction, so that a block is acted on once (a read the store
could not take is read again, from where the last one stood). The queue files in force
(queueset.InForce) are loaded again on an edit; a command queued by the CLI in the store is
applied and answered in the store.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..adapters.store import Store
from ..board import BoardNotAFile, BoardReader, ReadResult, candidates
from ..config.queueset import InForce
from ..core import scheduler as sch
from ..core import state as st
from ..errors import ConfigError
from .executor import Executor
from .faults import Faults
from .journal import Journal


class Intake:
    def __init__(
        self,
        board: Path,
        queues: InForce,
        store: Store,
        journal: Journal,
        executor: Executor,
        faults: Faults,
        clock: Callable[[], float],
    ) -> None:
        self.board = board
        self.queues = queues
        self.store = store
        self.journal = journal
        self.executor = executor
        self.faults = faults
        self.clock = clock
        self.reader = BoardReader(board, store.reader_state(), store.seen(), store.seen_refs())

    def read(self, final: bool) -> ReadResult | None:
        """Read new blocks and apply them; the read's result (None if the board could not be
        read). `final`: the settle timer, so that a block at the end closes."""
        before = self.reader.copy()
        try:
            result = self.reader.read(final=final)
        except BoardNotAFile as exc:
            self.journal.trouble("board", f"{exc}; will retry")
            return None
        except OSError as exc:
            self.journal.trouble("board", f"cannot read {self.board}: {exc}; will retry")
            return None
        self.journal.trouble("board", "")
        if result.rescanned:
            self.journal("board-rewritten", "the board was rewritten: re-read, old blocks skipped")
        effects: list[st.Action] = []
        try:
            with self.executor.atomic():
                self._record(result, self.clock(), effects)
        except BaseException:
            self.reader = before  # read again once the store can take it
            raise
        self.executor.carry_out(effects)
        if result.blocks:
            self.faults.reached("board-read")
        return result

    def _record(self, result: ReadResult, now: float, effects: list[st.Action]) -> None:
        """A read's position, counted blocks and notes, and the reports' effects (inside the
        caller's transaction)."""
        self.store.save_reader(result.state, result.counted, dict(result.refs), result.forgotten)
        for note in result.notes:
            tasks = self.executor.state.tasks
            task = next((t for t in candidates(note.ref) if t in tasks), None)
            self.journal(note.kind, note.message, task=task)
        for block in result.blocks:
            tasks = self.executor.state.tasks
            fields = ", ".join(f"{n}={v}" for n, v in block.fields)
            self.journal(
                "report",
                f"{block.ref}: {block.status} (board line {block.line})"
                + (f": {fields}" if fields else ""),
                task=next((c for c in block.candidates if c in tasks), block.ref),
                data={"status": block.status, "fields": dict(block.fields), "line": block.line},
            )
            actions = sch.decide(self.executor.state, st.Reported(block), now, dispatch=False)
            self.executor.record(actions)
            effects += actions

    def reload_queues(self) -> None:
        """The queue files again, after an edit; bad input is journaled, the last good
        version of each file stays in force (the daemon never dies on input)."""
        try:
            tasks = self.queues.read()
        except ConfigError as exc:
            for problem in exc.problems:
                self.journal("queue-error", str(problem))
            return
        known = set(self.executor.state.tasks)
        self.executor.handle(st.QueueLoaded(tuple(tasks)))
        added = [t.id for t in tasks if t.id not in known]
        if added:
            self.journal(
                "queue-loaded", f"queue reloaded: {len(added)} new task(s): " + ", ".join(added)
            )

    def commands(self) -> None:
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

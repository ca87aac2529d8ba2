"""The board's reports taken in: each read's new blocks become the scheduler's `Reported`
events, recorded with the reader's position in one transaction, so that a block is acted on
once (a read the store could not take is read again, from where the last one stood)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..adapters.store import Store
from ..board import BoardNotAFile, BoardReader, ReadResult, candidates
from ..core import scheduler as sch
from ..core import state as st
from .delivery import Faults
from .executor import Executor
from .journal import Journal


class Intake:
    def __init__(
        self,
        board: Path,
        store: Store,
        journal: Journal,
        executor: Executor,
        faults: Faults,
        clock: Callable[[], float],
    ) -> None:
        self.board = board
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

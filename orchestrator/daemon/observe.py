"""What the daemon looks at: the board (through the Intake, with the settle timer that lets an
unterminated block at its end grow) and the agents' panes (each look an `AgentsSeen` event).
A report that frees an agent feeds it at once, not at the next tick."""

from __future__ import annotations

from collections.abc import Callable

from ..board import ReadResult
from ..core import scheduler as sch
from ..core import state as st
from ..errors import TmuxError
from .attention import Attention
from .delivery import Outbox
from .executor import Executor
from .intake import Intake
from .journal import Journal
from .panes import AgentPanes
from .sending import Sender


class Observer:
    def __init__(
        self,
        intake: Intake,
        executor: Executor,
        agents: AgentPanes,
        attention: Attention,
        outbox: Outbox,
        sender: Sender,
        journal: Journal,
        clock: Callable[[], float],
        settle: float,
    ) -> None:
        self.intake = intake
        self.executor = executor
        self.agents = agents
        self.attention = attention
        self.outbox = outbox
        self.sender = sender
        self.journal = journal
        self.clock = clock
        self.settle = settle
        self.settle_at: float | None = None  # when a pending block at the board's end closes

    def board_changed(self, now: float) -> None:
        """The board changed (or a tick came): read it; the settle timer runs from its last
        change."""
        board = self.board(final=False)
        if board is None or not board.pending:
            self.settle_at = None
        elif board.changed or self.settle_at is None:
            self.settle_at = now + self.settle

    def settled(self, now: float) -> None:
        """The settle timer, if it is due: a block at the end closes if nothing changed."""
        if self.settle_at is None or now < self.settle_at:
            return
        board = self.board(final=True)
        pending = board is not None and board.pending
        self.settle_at = now + self.settle if pending else None

    def board(self, final: bool, dispatch: bool = True) -> ReadResult | None:
        """Take in the board's new blocks (intake.py); the read's result (None if the board
        could not be read). `final`: the settle timer, so that a block at the end closes."""
        result = self.intake.read(final)
        if dispatch and result is not None and result.blocks:
            # A free agent (one a report freed, or one a finished dependency gives work) is
            # fed now, not at the next tick, and so is one asked for missing fields. If any
            # of them reads its screen or waits for its output to stop (`quiet`), the screens
            # are read first; one that does neither was seen at the last tick, and its pane
            # is checked again (alive, no shell) in the same tmux call as the paste.
            state = self.executor.state
            fed = [
                a.name
                for a in state.agents
                if a.task is None or (a.task in state.tasks and state.tasks[a.task].asking)
            ]
            profiles = [self.agents.profile(a) for a in fed]
            if any(p.reads_screen or p.quiet > 0 for p in profiles):
                self.panes()
            else:
                self.executor.handle(st.Tick())
        return result

    def panes(self, dispatch: bool = True) -> None:
        """Look at the agents' panes and hand what was seen to the executor."""
        state = self.executor.state
        try:
            seen = self.agents.look(
                [a.name for a in state.agents], self.clock(), sch.watched(state)
            )
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
        self.attention.look(self.executor.state, readings, self.clock())
        self.executor.handle(
            st.AgentsSeen(seen.present, seen.ready, seen.running, seen.activity),
            dispatch=dispatch,
        )

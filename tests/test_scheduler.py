"""The scheduler, by replaying event histories through decide() and fold()."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator import scheduler as sch
from orchestrator.board import parse_blocks
from orchestrator.config import Task


def task(
    id: str,
    agent: str = "a",
    priority: str = "medium",
    phase: int | None = None,
    after: tuple[str, ...] = (),
) -> Task:
    return Task(
        id=id,
        title=id,
        agent=agent,
        priority=priority,
        phase=phase,
        after=after,
        estimate=None,
        uses=(),
        prompt="p",
        report=(),
        validate=(),
        retries=1,
        file=Path("q.yaml"),
        line=1,
    )


class History:
    """Feeds events like the daemon does and records every dispatch."""

    def __init__(self, agents: list[str], tasks: list[Task]) -> None:
        self.state = sch.State(agents=tuple(sch.AgentState(n) for n in agents))
        self.now = 0.0
        self.dispatches: list[tuple[str, str, int]] = []
        self.feed(sch.QueueLoaded(tuple(tasks)))

    def feed(self, event: sch.Event) -> list[sch.Action]:
        self.now += 1
        actions = sch.decide(self.state, event, self.now)
        self.state = sch.fold(self.state, actions, self.now)
        self.dispatches += [
            (a.task_id, a.agent, a.attempt) for a in actions if isinstance(a, sch.Dispatch)
        ]
        return actions

    def report(self, ref: str, status: str = "COMPLETED") -> list[sch.Action]:
        (block,) = parse_blocks(f"### TODO-{ref}: {status}\n")
        return self.feed(sch.Reported(block))

    def status(self, id: str) -> str:
        return self.state.tasks[id].status

    def running(self) -> dict[str, str | None]:
        return {a.name: a.task for a in self.state.agents}


def test_one_task_per_agent_at_a_time() -> None:
    h = History(["a", "b"], [task("A1"), task("A2"), task("B1", "b"), task("B2", "b")])
    assert h.dispatches == [("A1", "a", 1), ("B1", "b", 1)]
    h.feed(sch.Tick())
    assert len(h.dispatches) == 2
    h.report("A1")
    assert h.dispatches[-1] == ("A2", "a", 1)
    assert h.running() == {"a": "A2", "b": "B1"}


def test_priority_then_file_order() -> None:
    h = History(
        ["a"],
        [
            task("L", priority="low"),
            task("M1"),
            task("C", priority="critical"),
            task("M2"),
            task("B", priority="blocking"),
        ],
    )
    for _ in range(5):
        h.report(h.dispatches[-1][0])
    assert [d[0] for d in h.dispatches] == ["C", "B", "M1", "M2", "L"]
    assert all(t.status == sch.DONE for t in h.state.tasks.values())


def test_phase_waits_for_every_lower_phase() -> None:
    h = History(
        ["a", "b"],
        [
            task("P2a", "a", phase=2),
            task("P1a", "a", phase=1),
            task("P1b", "b", phase=1),
            task("P2b", "b", phase=2),
            task("free", "b"),
        ],
    )
    assert h.dispatches == [("P1a", "a", 1), ("P1b", "b", 1)]
    h.report("P1a")
    assert h.running()["a"] is None, "phase 2 must wait for P1b"
    h.report("P1b")
    assert sorted(h.dispatches[2:]) == [("P2a", "a", 1), ("P2b", "b", 1)]  # file order


def test_after_dependencies() -> None:
    h = History(["a", "b"], [task("X", "a", after=("Y",)), task("Y", "b"), task("Z", "a")])
    assert h.dispatches == [("Z", "a", 1), ("Y", "b", 1)]
    h.report("Z")
    assert h.running()["a"] is None
    h.report("Y")
    assert h.dispatches[-1] == ("X", "a", 1)


def test_any_goes_to_the_first_free_agent() -> None:
    h = History(["a", "b"], [task("A1", "a"), task("ANY1", "any"), task("ANY2", "any")])
    assert h.dispatches == [("A1", "a", 1), ("ANY1", "b", 1)]
    h.report("A1")
    assert h.dispatches[-1] == ("ANY2", "a", 1)
    assert h.state.tasks["ANY2"].agent == "a"


def test_agent_must_be_present_ready_and_unpaused() -> None:
    h = History(["a"], [])
    h.feed(sch.AgentsSeen(frozenset({"a"}), frozenset()))
    h.feed(sch.QueueLoaded((task("T"),)))
    assert h.dispatches == []
    h.feed(sch.AgentsSeen(frozenset({"a"}), frozenset({"a"})))
    assert h.dispatches == [("T", "a", 1)]


def test_block_on_board_before_dispatch_marks_done() -> None:
    h = History(["a"], [])
    h.state = sch.fold(h.state, [sch.SetPresence("a", True, False)], 0)
    h.feed(sch.QueueLoaded((task("T1"), task("T2"))))
    h.report("T1")
    assert h.status("T1") == sch.DONE
    assert "before dispatch" in h.state.tasks["T1"].reason


def test_block_for_a_task_not_yet_queued_marks_it_done_when_it_appears() -> None:
    h = History(["a"], [task("T1")])
    actions = h.report("LATER")
    assert any(isinstance(a, sch.Note) and a.kind == "unknown-block" for a in actions)
    h.feed(sch.QueueLoaded((task("T1"), task("LATER"))))
    assert h.status("LATER") == sch.DONE


def test_duplicate_block_is_noted_and_changes_nothing() -> None:
    h = History(["a"], [task("T1"), task("T2")])
    h.report("T1")
    before = h.state
    actions = h.report("T1")
    assert [a.kind for a in actions if isinstance(a, sch.Note)] == ["duplicate-block"]
    assert h.state.tasks == before.tasks


def test_failed_and_blocked_reports_free_the_agent() -> None:
    h = History(["a"], [task("T1"), task("T2"), task("T3")])
    h.report("T1", "FAILED")
    assert h.status("T1") == sch.FAILED
    h.report("T2", "BLOCKED")
    assert h.status("T2") == sch.BLOCKED
    assert h.dispatches[-1] == ("T3", "a", 1)


def test_failed_report_for_an_undispatched_task_is_ignored() -> None:
    h = History(["a"], [task("T1"), task("T2")])
    actions = h.report("T2", "FAILED")
    assert [a.kind for a in actions if isinstance(a, sch.Note)] == ["early-block"]
    assert h.status("T2") == sch.QUEUED


def test_requeue_gives_the_attempt_back() -> None:
    h = History(["a"], [task("T1")])
    h.state = sch.fold(h.state, [sch.Requeue("T1", "pane died")], h.now)
    assert h.status("T1") == sch.QUEUED and h.state.tasks["T1"].attempts == 0
    h.feed(sch.Tick())
    assert h.dispatches[-1] == ("T1", "a", 1)


def test_spec_edit_updates_a_queued_task() -> None:
    h = History(["a"], [task("T1"), task("T2", priority="low")])
    h.feed(sch.QueueLoaded((task("T1"), task("T2", priority="critical"))))
    assert h.state.tasks["T2"].task.priority == "critical"


def test_can_progress_and_all_done() -> None:
    h = History(["a"], [task("T1"), task("T2", after=("T1",))])
    assert sch.can_progress(h.state)
    h.report("T1", "FAILED")
    assert not sch.can_progress(h.state)  # T2 waits for a failed task
    assert not sch.all_done(h.state)
    h2 = History(["a"], [task("T1")])
    h2.report("T1")
    assert not sch.can_progress(h2.state) and sch.all_done(h2.state)


def test_overdue_flag() -> None:
    t = sch.TaskState(
        Task(**{**task("T").__dict__, "estimate": 60.0}), 0, status=sch.DISPATCHED, since=100.0
    )
    assert not t.overdue(150.0)
    assert t.overdue(161.0)


@settings(max_examples=200)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "c", "any"]),
            st.sampled_from(list(sch.STATUSES[:1]) and ["critical", "high", "low"]),
            st.one_of(st.none(), st.integers(1, 3)),
        ),
        min_size=1,
        max_size=15,
    ),
    st.randoms(use_true_random=False),
)
def test_random_queues_run_to_completion_each_task_once(
    specs: list[tuple[str, str, int | None]], rnd: object
) -> None:
    import random

    assert isinstance(rnd, random.Random)
    tasks = [task(f"T{i}", agent, prio, phase) for i, (agent, prio, phase) in enumerate(specs)]
    h = History(["a", "b", "c"], tasks)
    for _ in range(len(tasks) * 3):
        busy = [a.task for a in h.state.agents if a.task]
        # invariant: one task per agent
        assert len(busy) == len(set(busy))
        if not busy:
            break
        h.report(rnd.choice(busy))
    assert sch.all_done(h.state)
    dispatched = [d[0] for d in h.dispatches]
    assert sorted(dispatched) == sorted(t.id for t in tasks), "each task dispatched exactly once"
    # phases were respected: a task ran only after every lower-phase task was dispatched first
    order = {tid: i for i, tid in enumerate(dispatched)}
    for t in tasks:
        for other in tasks:
            if t.phase is not None and other.phase is not None and other.phase < t.phase:
                assert order[other.id] < order[t.id]

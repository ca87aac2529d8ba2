"""The scheduler, by replaying event histories through decide() and fold()."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as hst

from orchestrator.board import parse_blocks
from orchestrator.config.settings import Task
from orchestrator.core import scheduler as sch
from orchestrator.core import state as st


def task(
    id: str,
    agent: str = "a",
    priority: str = "medium",
    phase: int | None = None,
    after: tuple[str, ...] = (),
    **extra: object,
) -> Task:
    base: dict[str, object] = {
        "id": id,
        "title": id,
        "agent": agent,
        "priority": priority,
        "phase": phase,
        "after": after,
        "estimate": None,
        "uses": (),
        "prompt": "p",
        "report": (),
        "validate": (),
        "retries": 1,
        "file": Path("q.yaml"),
        "line": 1,
    }
    return Task(**{**base, **extra})  # type: ignore[arg-type]


class History:
    """Feeds events like the daemon does and records every dispatch."""

    def __init__(self, agents: list[str], tasks: list[Task]) -> None:
        self.state = st.State(agents=tuple(st.AgentState(n) for n in agents))
        self.now = 0.0
        self.dispatches: list[tuple[str, str, int]] = []
        self.feed(st.QueueLoaded(tuple(tasks)))

    def feed(self, event: st.Event) -> list[st.Action]:
        self.now += 1
        actions = sch.decide(self.state, event, self.now)
        self.state = st.fold(self.state, actions, self.now)
        self.dispatches += [
            (a.task_id, a.agent, a.attempt) for a in actions if isinstance(a, st.Dispatch)
        ]
        return actions

    def report(self, ref: str, status: str = "COMPLETED", **fields: str) -> list[st.Action]:
        lines = [f"### TODO-{ref}: {status}", *(f"**{k}**: {v}" for k, v in fields.items())]
        (block,) = parse_blocks("\n".join(lines) + "\n")
        return self.feed(st.Reported(block))

    def validated(self, id: str, ok: bool, **extra: object) -> list[st.Action]:
        attempt = self.state.tasks[id].attempts
        summary = "1/1 passed" if ok else "`make check` exited 2"
        event = st.ValidationDone(id, attempt, ok, summary, f"/logs/{id}-{attempt}.log", **extra)  # type: ignore[arg-type]
        return self.feed(event)

    def control(self, command: str, target: str) -> st.Answer:
        actions = self.feed(st.Control(command, target))
        (answer,) = [a for a in actions if isinstance(a, st.Answer)]
        return answer

    def seen(self, ready: set[str]) -> list[st.Action]:
        """A look at every pane: all present, these `ready` (their turn has ended)."""
        names = frozenset(a.name for a in self.state.agents)
        return self.feed(st.AgentsSeen(names, frozenset(ready)))

    def status(self, id: str) -> str:
        return self.state.tasks[id].status

    def running(self) -> dict[str, str | None]:
        return {a.name: a.task for a in self.state.agents}


def test_one_task_per_agent_at_a_time() -> None:
    h = History(["a", "b"], [task("A1"), task("A2"), task("B1", "b"), task("B2", "b")])
    assert h.dispatches == [("A1", "a", 1), ("B1", "b", 1)]
    h.feed(st.Tick())
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
    assert all(t.status == st.DONE for t in h.state.tasks.values())


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
    h.feed(st.AgentsSeen(frozenset({"a"}), frozenset()))
    h.feed(st.QueueLoaded((task("T"),)))
    assert h.dispatches == []
    h.feed(st.AgentsSeen(frozenset({"a"}), frozenset({"a"})))
    assert h.dispatches == [("T", "a", 1)]


def test_block_on_board_before_dispatch_marks_done() -> None:
    h = History(["a"], [])
    h.state = st.fold(h.state, [st.SetPresence("a", True, False)], 0)
    h.feed(st.QueueLoaded((task("T1"), task("T2"))))
    h.report("T1")
    assert h.status("T1") == st.DONE
    assert "before dispatch" in h.state.tasks["T1"].reason


def test_block_for_a_task_not_yet_queued_marks_it_done_when_it_appears() -> None:
    h = History(["a"], [task("T1")])
    actions = h.report("LATER")
    assert any(isinstance(a, st.Note) and a.kind == "unknown-block" for a in actions)
    h.feed(st.QueueLoaded((task("T1"), task("LATER"))))
    assert h.status("LATER") == st.DONE


def test_duplicate_block_is_noted_and_changes_nothing() -> None:
    h = History(["a"], [task("T1"), task("T2")])
    h.report("T1")
    before = h.state
    actions = h.report("T1")
    assert [a.kind for a in actions if isinstance(a, st.Note)] == ["duplicate-block"]
    assert h.state.tasks == before.tasks


def test_failed_and_blocked_reports_free_the_agent() -> None:
    h = History(["a"], [task("T1", retries=0), task("T2"), task("T3")])
    h.report("T1", "FAILED")
    assert h.status("T1") == st.FAILED
    h.report("T2", "BLOCKED")
    assert h.status("T2") == st.BLOCKED
    assert h.dispatches[-1] == ("T3", "a", 1)


def test_failed_report_for_an_undispatched_task_is_ignored() -> None:
    h = History(["a"], [task("T1"), task("T2")])
    actions = h.report("T2", "FAILED")
    assert [a.kind for a in actions if isinstance(a, st.Note)] == ["early-block"]
    assert h.status("T2") == st.QUEUED


def test_requeue_gives_the_attempt_back() -> None:
    h = History(["a"], [task("T1")])
    h.state = st.fold(h.state, [st.Requeue("T1", "pane died")], h.now)
    assert h.status("T1") == st.QUEUED and h.state.tasks["T1"].attempts == 0
    h.feed(st.Tick())
    assert h.dispatches[-1] == ("T1", "a", 1)


def test_spec_edit_updates_a_queued_task() -> None:
    h = History(["a"], [task("T1"), task("T2", priority="low")])
    h.feed(st.QueueLoaded((task("T1"), task("T2", priority="critical"))))
    assert h.state.tasks["T2"].task.priority == "critical"


def test_can_progress_and_all_done() -> None:
    h = History(["a"], [task("T1", retries=0), task("T2", after=("T1",))])
    assert sch.can_progress(h.state)
    h.report("T1", "FAILED")
    assert not sch.can_progress(h.state)  # T2 is blocked by a failed task
    assert h.status("T2") == st.BLOCKED
    assert not sch.all_done(h.state)
    h2 = History(["a"], [task("T1")])
    h2.report("T1")
    assert not sch.can_progress(h2.state) and sch.all_done(h2.state)


def test_overdue_flag() -> None:
    t = st.TaskState(
        Task(**{**task("T").__dict__, "estimate": 60.0}), 0, status=st.DISPATCHED, since=100.0
    )
    assert not t.overdue(150.0)
    assert t.overdue(161.0)


@settings(max_examples=200)
@given(
    hst.lists(
        hst.tuples(
            hst.sampled_from(["a", "b", "c", "any"]),
            hst.sampled_from(list(st.STATUSES[:1]) and ["critical", "high", "low"]),
            hst.one_of(hst.none(), hst.integers(1, 3)),
        ),
        min_size=1,
        max_size=15,
    ),
    hst.randoms(use_true_random=False),
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


# --------------------------------------------------------------------------- verified completion


def test_failed_report_retries_on_the_same_agent_with_the_fields_quoted() -> None:
    h = History(["a", "b"], [task("T", "any"), task("U", "b")])
    assert h.dispatches[0] == ("T", "a", 1)
    h.report("T", "FAILED", Reason="tests do not compile", Tests="0 passing")
    assert h.dispatches[-1] == ("T", "a", 2)  # back to the agent that did the work
    feedback = h.state.tasks["T"].feedback
    assert "reported FAILED" in feedback
    assert "**Reason**: tests do not compile" in feedback and "**Tests**: 0 passing" in feedback
    h.report("T", "FAILED", Reason="still broken")
    assert h.status("T") == st.FAILED  # retries: 1 -> two attempts in all
    assert h.state.tasks["T"].attempts == 2


def test_retries_budget() -> None:
    h = History(["a"], [task("T", retries=3)])
    for _ in range(3):
        h.report("T", "FAILED")
        assert h.status("T") == st.DISPATCHED
    h.report("T", "FAILED")
    assert h.status("T") == st.FAILED and h.state.tasks["T"].attempts == 4


def test_validation_keeps_the_agent_reserved_and_decides() -> None:
    h = History(["a"], [task("T", validate=("make check",)), task("U")])
    actions = h.report("T")
    assert h.status("T") == st.VALIDATING
    assert [a for a in actions if isinstance(a, st.Validate)] == [st.Validate("T", 1)]
    assert h.running() == {"a": "T"} and len(h.dispatches) == 1  # U waits
    h.validated("T", True)
    assert h.status("T") == st.DONE
    assert h.state.tasks["T"].validation == "1/1 passed"
    assert h.state.tasks["T"].log == "/logs/T-1.log"
    assert h.dispatches[-1] == ("U", "a", 1)


def test_failed_validation_retries_with_command_code_and_output() -> None:
    h = History(["a"], [task("T", validate=("make check",))])
    h.report("T")
    h.validated("T", False, command="make check", exit_code=2, tail="E   assert 1 == 2\nFAILED")
    assert h.dispatches[-1] == ("T", "a", 2)
    feedback = h.state.tasks["T"].feedback
    assert "    make check\nexited with code 2" in feedback
    assert "E   assert 1 == 2\nFAILED" in feedback
    assert h.state.tasks["T"].validation == "`make check` exited 2"
    h.report("T")
    h.validated("T", True)
    assert h.status("T") == st.DONE and h.state.tasks["T"].attempts == 2
    assert h.state.tasks["T"].feedback == ""


def test_validation_timeout_says_so() -> None:
    h = History(["a"], [task("T", validate=("sleep 99",), retries=0)])
    h.report("T")
    h.validated("T", False, command="sleep 99", exit_code=None, tail="")
    assert h.status("T") == st.FAILED
    assert "timed out" in h.state.tasks["T"].feedback


def test_stale_validation_result_is_ignored() -> None:
    h = History(["a"], [task("T", validate=("x",))])
    h.report("T")
    h.feed(st.ValidationDone("T", 7, True, "ok", "/l"))
    assert h.status("T") == st.VALIDATING


def test_report_during_validation_is_not_a_second_completion() -> None:
    h = History(["a"], [task("T", validate=("x",))])
    h.report("T")
    actions = h.report("T")
    assert [a.kind for a in actions if isinstance(a, st.Note)] == ["duplicate-block"]
    assert h.status("T") == st.VALIDATING


def follow_ups(actions: list[st.Action]) -> list[st.FollowUp]:
    return [a for a in actions if isinstance(a, st.FollowUp)]


def test_missing_required_fields_are_asked_for_once_the_agents_turn_has_ended() -> None:
    h = History(["a"], [task("T", report=("Tests", "Fichiers modifiés"), validate=("x",))])
    h.seen({"a"})  # seen ready before the report: that look is older than the report
    actions = h.report("T", Tests="12 passing")
    assert not follow_ups(actions)
    (update,) = [a for a in actions if isinstance(a, st.Update)]
    assert "once a's turn has ended" in update.message
    assert h.state.agent("a") == st.AgentState("a", ready=False, task="T")
    assert not follow_ups(h.seen(set()))  # still in its turn
    (follow,) = follow_ups(h.seen({"a"}))
    assert follow == st.FollowUp("T", 1, "a", ("Fichiers modifiés",))
    assert not h.state.tasks["T"].asking
    assert not follow_ups(h.seen({"a"}))  # asked once
    assert h.status("T") == st.DISPATCHED and h.running() == {"a": "T"}
    actions = h.report("T", **{"Fichiers modifiés": "oauth.rs"})
    assert h.status("T") == st.VALIDATING  # the fields arrived: validation still applies
    assert not follow_ups(actions)


def test_a_second_block_before_the_request_went_keeps_the_request_waiting() -> None:
    h = History(["a"], [task("T", report=("Tests", "Notes"))])
    h.report("T")
    actions = h.report("T", Notes="more to say")
    assert not [a for a in actions if isinstance(a, st.Note)]
    assert h.status("T") == st.DISPATCHED and h.state.tasks["T"].asking
    (follow,) = follow_ups(h.seen({"a"}))
    assert follow.missing == ("Tests",)


def test_fields_still_missing_after_the_follow_up_go_on_with_a_note() -> None:
    h = History(["a"], [task("T", report=("Tests",))])
    h.report("T")
    assert follow_ups(h.seen({"a"}))
    actions = h.report("T", Notes="forgot again")
    assert not follow_ups(actions)
    assert [a.kind for a in actions if isinstance(a, st.Note)] == ["fields-missing"]
    assert h.status("T") == st.DONE


def test_field_names_match_without_case_and_empty_values_count_as_missing() -> None:
    h = History(["a"], [task("T", report=("Tests", "Notes"))])
    h.report("T", tests="3", Notes="")
    (follow,) = follow_ups(h.seen({"a"}))
    assert follow.missing == ("Notes",)


def test_a_request_for_fields_dies_with_its_attempt() -> None:
    h = History(["a"], [task("T", report=("Tests",))])
    h.report("T")
    assert not follow_ups(h.feed(st.AgentsSeen(frozenset(), frozenset())))
    assert h.status("T") == st.QUEUED  # its program exited: the attempt is over
    actions = h.seen({"a"})
    assert h.dispatches[-1] == ("T", "a", 2) and not follow_ups(actions)
    assert not h.state.tasks["T"].asking and not follow_ups(h.seen({"a"}))


def test_failure_blocks_dependents_transitively_and_retry_unblocks_them() -> None:
    h = History(
        ["a", "b"],
        [
            task("A", "a", retries=0),
            task("B", "b", after=("A",)),
            task("C", "b", after=("B",)),
            task("D", "b"),
        ],
    )
    h.report("A", "FAILED")
    assert h.status("A") == st.FAILED
    assert h.status("B") == st.BLOCKED and h.state.tasks["B"].blocked_by == "A"
    assert h.status("C") == st.BLOCKED and h.state.tasks["C"].blocked_by == "A"
    assert "waits for A, which is failed" in h.state.tasks["C"].reason
    assert [d[0] for d in h.dispatches] == ["A", "D"]  # B and C are never sent
    answer = h.control("retry", "A")
    assert answer.ok and "back in the queue" in answer.message
    assert h.status("B") == st.QUEUED and h.status("C") == st.QUEUED
    assert h.dispatches[-1] == ("A", "a", 2)
    h.report("A")
    h.report("D")
    assert h.dispatches[-1] == ("B", "b", 1)


def test_a_failed_phase_blocks_every_later_phase() -> None:
    h = History(
        ["a", "b"],
        [
            task("P1", "a", phase=1, retries=0),
            task("P2", "b", phase=2),
            task("P3", "b", phase=3),
            task("free", "b"),
        ],
    )
    h.report("P1", "FAILED")
    assert h.status("P2") == st.BLOCKED and h.status("P3") == st.BLOCKED
    assert h.state.tasks["P3"].blocked_by == "P1"
    assert h.status("free") == st.DISPATCHED


def test_agent_blocked_task_waits_for_the_operator() -> None:
    h = History(["a"], [task("T"), task("U", after=("T",))])
    h.report("T", "BLOCKED", Reason="needs an API key")
    assert h.status("T") == st.BLOCKED and h.state.tasks["T"].blocked_by is None
    assert "needs an API key" in h.state.tasks["T"].reason
    assert h.status("U") == st.BLOCKED
    assert not sch.can_progress(h.state) and not sch.all_done(h.state)
    assert h.control("retry", "T").ok
    assert h.dispatches[-1] == ("T", "a", 2)


def test_retry_answers_when_it_cannot() -> None:
    h = History(["a"], [task("A", retries=0), task("B", after=("A",)), task("C")])
    assert not h.control("retry", "nope").ok
    assert "nothing to retry" in h.control("retry", "C").message  # queued
    h.report("A", "FAILED")
    answer = h.control("retry", "B")
    assert not answer.ok and "blocked by A: retry that one" in answer.message


def test_operator_retry_gives_a_fresh_budget() -> None:
    h = History(["a"], [task("T", retries=1)])
    h.report("T", "FAILED")
    h.report("T", "FAILED")
    assert h.status("T") == st.FAILED
    h.control("retry", "T")
    h.report("T", "FAILED")
    assert h.status("T") == st.DISPATCHED and h.state.tasks["T"].attempts == 4


def test_overdue_and_stalled_are_flagged_once_per_attempt() -> None:
    h = History(["a"], [task("T", estimate=60.0)])
    h.state = st.State(
        tasks=h.state.tasks, agents=h.state.agents, orphans=h.state.orphans, stall_after=300.0
    )
    start = h.state.tasks["T"].since or 0.0
    h.now = start + 61
    actions = h.feed(st.Tick())
    assert [a.kind for a in actions if isinstance(a, st.Update)] == ["overdue"]
    assert h.feed(st.Tick()) == []
    seen = st.AgentsSeen(frozenset({"a"}), frozenset({"a"}), activity={"a": start + 100})
    assert h.feed(seen) == [st.Heard("a", start + 100)]  # folded, as any change is
    assert h.state.agents[0].activity == start + 100
    h.now = start + 390
    assert h.feed(st.Tick()) == []  # output 290 s ago: not yet stalled
    h.now = start + 401
    actions = h.feed(st.Tick())
    assert [a.kind for a in actions if isinstance(a, st.Update)] == ["stalled"]
    assert h.state.tasks["T"].flags == {"overdue", "stalled"}
    assert h.feed(st.Tick()) == []
    h.report("T", "FAILED")  # the retry is a new attempt: flags start over
    assert h.state.tasks["T"].flags == frozenset()


def test_overdue_and_stalled_in_one_tick_both_stay_raised() -> None:
    h = History(["a"], [task("T", estimate=2.0)])
    h.state = replace(h.state, stall_after=3.0)
    h.now = (h.state.tasks["T"].since or 0.0) + 10  # both at once
    actions = h.feed(st.Tick())
    assert [a.kind for a in actions if isinstance(a, st.Update)] == ["overdue", "stalled"]
    assert h.state.tasks["T"].flags == {"overdue", "stalled"}
    assert h.feed(st.Tick()) == []


@given(
    estimate=hst.floats(1, 100),
    stall=hst.floats(1, 100),
    ticks=hst.lists(hst.floats(0.1, 50), min_size=1, max_size=12),
)
def test_each_flag_is_raised_at_most_once_per_attempt(
    estimate: float, stall: float, ticks: list[float]
) -> None:
    h = History(["a"], [task("T", estimate=estimate)])
    h.state = replace(h.state, stall_after=stall)
    since = h.state.tasks["T"].since or 0.0
    kinds: list[str] = []
    for step in ticks:
        h.now += step
        kinds += [a.kind for a in h.feed(st.Tick()) if isinstance(a, st.Update)]
    assert sorted(kinds) == sorted(set(kinds))
    quiet = h.now - since
    expected = {f for f, late in (("overdue", estimate), ("stalled", stall)) if quiet > late}
    assert set(kinds) == expected == h.state.tasks["T"].flags


def test_only_agents_whose_state_matters_are_watched() -> None:
    h = History(["a", "b", "c"], [task("A1", "a"), task("B1", "b", after=("A1",))])
    assert sch.watched(h.state) == {"a"}  # a holds A1; b's task waits; c has nothing to do
    h.report("A1")
    assert sch.watched(h.state) == {"b"}


def test_a_gone_agent_gives_its_task_back_as_a_new_attempt_that_spends_no_retry() -> None:
    h = History(["a", "b"], [task("T", "a", retries=0), task("U", "b")])
    h.feed(st.AgentsSeen(frozenset({"a", "b"}), frozenset({"b"}), running=frozenset({"b"})))
    t = h.state.tasks["T"]
    assert t.status == sch.QUEUED and t.attempts == 1 and t.budget_from == 1
    assert "was interrupted" in t.feedback
    assert h.running()["a"] is None
    h.feed(st.AgentsSeen(frozenset({"a", "b"}), frozenset({"a", "b"})))  # it is back
    assert h.dispatches[-1] == ("T", "a", 2)
    h.report("T", "FAILED")  # retries: 0, yet the lost attempt did not count
    assert h.status("T") == sch.FAILED and h.state.tasks["T"].attempts == 2


def test_a_validation_goes_on_when_the_agent_goes() -> None:
    h = History(["a"], [task("T", validate=("x",))])
    h.report("T")
    h.feed(st.AgentsSeen(frozenset(), frozenset(), running=frozenset()))
    assert h.status("T") == st.VALIDATING


# --------------------------------------------------------------------------- entries gone


def kinds(actions: list[st.Action]) -> list[str]:
    return [a.kind for a in actions if isinstance(a, st.Update | st.Note)]


def test_a_queued_task_whose_entry_is_gone_is_withdrawn_and_comes_back_with_it() -> None:
    a1, a2 = task("A1"), task("A2")
    h = History(["a"], [a1, a2])  # A1 dispatched, A2 queued
    actions = h.feed(st.QueueLoaded((a1,)))
    assert kinds(actions) == ["withdrawn"]
    assert h.status("A2") == st.CANCELLED and h.state.tasks["A2"].withdrawn
    assert "withdrawn: its entry is gone" in h.state.tasks["A2"].reason
    assert kinds(h.feed(st.QueueLoaded((a1,)))) == []  # said once
    h.report("A1")
    assert h.dispatches == [("A1", "a", 1)]  # A2 is never sent
    actions = h.feed(st.QueueLoaded((a1, a2)))
    assert "restored" in kinds(actions) and h.dispatches[-1] == ("A2", "a", 1)


def test_a_task_in_flight_whose_entry_is_gone_finishes_and_is_not_retried() -> None:
    t = task("T", validate=("make check",), retries=3)
    h = History(["a"], [t])
    actions = h.feed(st.QueueLoaded(()))
    assert kinds(actions) == ["entry-gone"] and h.status("T") == st.DISPATCHED
    assert "left to finish" in next(a.message for a in actions if isinstance(a, st.Update))
    assert kinds(h.feed(st.QueueLoaded(()))) == []
    h.report("T")
    h.validated("T", False)
    assert h.status("T") == st.CANCELLED and h.dispatches == [("T", "a", 1)]


def test_finished_tasks_whose_entry_is_gone_stay_as_they_are() -> None:
    h = History(["a"], [task("T")])
    h.report("T")
    assert kinds(h.feed(st.QueueLoaded(()))) == [] and h.status("T") == st.DONE


def test_a_task_whose_entry_went_while_it_ran_is_not_sent_again_when_its_agent_goes() -> None:
    h = History(["a"], [task("T")])
    h.feed(st.QueueLoaded(()))
    h.feed(st.AgentsSeen(frozenset({"a"}), frozenset({"a"}), running=frozenset()))
    assert h.status("T") == st.CANCELLED and "withdrawn" in h.state.tasks["T"].reason
    assert h.dispatches == [("T", "a", 1)]
    answer = h.control("retry", "T")
    assert not answer.ok and "put it back in a queue file" in answer.message

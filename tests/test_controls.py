"""The operator's commands as pure decisions, replayed like the scheduler's events."""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as hst

from orchestrator.core import scheduler as sch
from orchestrator.core import state as st

from .test_scheduler import History, task


def test_dispatch_sends_a_queued_task_now_to_a_free_agent_ahead_of_order() -> None:
    h = History(["a"], [task("A1"), task("A2"), task("A3", priority="low")])
    answer = h.control("dispatch", "A3")
    assert answer.ok and "goes next" in answer.message and "a is busy with A1" in answer.message
    h.report("A1")
    assert h.dispatches[-1] == ("A3", "a", 1)  # before A2, despite its priority
    assert not h.state.tasks["A3"].urgent  # spent by the dispatch
    h.report("A3")
    assert h.dispatches[-1] == ("A2", "a", 1)


def test_dispatch_to_a_free_agent_is_immediate() -> None:
    h = History(["a"], [])
    h.feed(st.AgentsSeen(frozenset({"a"}), frozenset()))  # a not ready: nothing goes out
    h.feed(st.QueueLoaded((task("T"), task("U"))))
    h.state = st.fold(h.state, [st.SetPresence("a", True, True)], h.now)
    answer = h.control("dispatch", "U")
    assert answer.ok and answer.message == "U: sent to a now (attempt 1)"
    assert h.dispatches == [("U", "a", 1)]


def test_dispatch_refuses_what_it_cannot_send() -> None:
    tasks = [task("A"), task("B", after=("A",)), task("P1", phase=1), task("P2", phase=2)]
    h = History(["a"], tasks)
    assert "no task 'X'" in h.control("dispatch", "X").message
    assert not h.control("dispatch", "A").ok  # dispatched already
    answer = h.control("dispatch", "B")
    assert not answer.ok and answer.message == "B cannot start yet: it waits for A"
    answer = h.control("dispatch", "P2")
    assert not answer.ok and "an earlier phase is not done" in answer.message
    h.report("A")
    assert "done, not queued" in h.control("dispatch", "A").message


def test_dispatch_to_a_paused_agent_says_so() -> None:
    h = History(["a"], [task("A"), task("B")])
    h.control("pause", "a")
    h.report("A")
    answer = h.control("dispatch", "B")
    assert answer.ok and "a is paused: `orchestrate resume a`" in answer.message
    assert h.dispatches == [("A", "a", 1)]
    h.control("resume", "a")
    assert h.dispatches[-1] == ("B", "a", 1)


def test_pause_lets_the_current_task_finish_and_holds_the_rest() -> None:
    h = History(["a", "b"], [task("A1"), task("A2"), task("ANY", "any")])
    answer = h.control("pause", "a")
    assert answer.ok and "finishes A1 first" in answer.message
    assert h.state.agent("a").paused  # type: ignore[union-attr]
    h.report("A1")
    assert h.running() == {"a": None, "b": "ANY"}  # `any` went to b; A2 waits for a
    assert "paused already" in h.control("pause", "a").message
    assert not h.control("pause", "nobody").ok
    assert h.control("resume", "a").message == "a: resumed: it takes tasks again"
    assert h.running()["a"] == "A2"
    assert "not paused already" in h.control("resume", "a").message


def test_cancel_each_status() -> None:
    h = History(["a"], [task("A"), task("B"), task("C", after=("B",)), task("V", validate=("x",))])
    answer = h.control("cancel", "A")  # dispatched
    assert answer.ok and "a may still be working on it" in answer.message
    assert h.status("A") == st.CANCELLED and h.running()["a"] == "B"
    h.report("A")  # its late report changes nothing
    assert h.status("A") == st.CANCELLED
    assert h.control("cancel", "B").ok
    assert h.status("C") == st.BLOCKED and h.state.tasks["C"].blocked_by == "B"
    assert h.running()["a"] == "V"
    h.report("V")
    assert h.status("V") == st.VALIDATING
    answer = h.control("cancel", "V")
    assert answer.ok and "validation still running will be ignored" in answer.message
    h.validated("V", ok=True)
    assert h.status("V") == st.CANCELLED
    assert not h.control("cancel", "V").ok
    assert h.control("retry", "B").ok and h.status("C") == st.QUEUED
    assert not h.control("explode", "B").ok


@settings(max_examples=150, deadline=None)
@given(
    hst.lists(
        hst.tuples(
            hst.sampled_from(["retry", "cancel", "dispatch", "pause", "resume", "report"]),
            hst.sampled_from(["T0", "T1", "T2", "T3", "a", "b", "zz"]),
        ),
        max_size=30,
    )
)
def test_any_sequence_of_commands_keeps_the_invariants(script: list[tuple[str, str]]) -> None:
    tasks = [task("T0"), task("T1", "b"), task("T2", after=("T0",)), task("T3", "any")]
    h = History(["a", "b"], tasks)
    for command, target in script:
        if command == "report":
            holder = next((a.task for a in h.state.agents if a.name == target and a.task), None)
            if holder:
                h.report(holder)
            continue
        answers = [a for a in h.feed(st.Control(command, target)) if isinstance(a, st.Answer)]
        assert len(answers) == 1 and answers[0].message
        # one task per agent; an agent's task is dispatched; a paused agent gets nothing new
        held = [a.task for a in h.state.agents if a.task]
        assert len(held) == len(set(held))
        for agent in h.state.agents:
            if agent.task:
                assert h.state.tasks[agent.task].status in st.ACTIVE
    sent = [d[:1] + d[2:] for d in h.dispatches]
    assert len(sent) == len(set(sent))  # no (task, attempt) twice
    assert (
        sch.all_done(h.state)
        or sch.can_progress(h.state)
        or any(a.paused for a in h.state.agents)
        or any(t.status in (st.FAILED, st.BLOCKED) for t in h.state.tasks.values())
    )


def test_retry_sends_a_stalled_dispatched_task_again_as_a_new_attempt() -> None:
    h = History(["a"], [task("T", retries=0)])
    h.state = st.fold(h.state, [st.SetPresence("a", True, False)], h.now)  # a is in its turn
    answer = h.control("retry", "T")
    assert answer.ok and answer.message.startswith("T: attempt #1 given up; attempt #2 goes")
    t = h.state.tasks["T"]
    assert t.status == st.QUEUED and t.budget_from == 1
    assert "got no report, and the operator sent it again" in t.feedback
    assert h.dispatches == [("T", "a", 1)]  # nothing typed into the running turn
    h.seen({"a"})
    assert h.dispatches[-1] == ("T", "a", 2)
    assert not h.control("dispatch", "T").ok  # dispatched: the hint names retry
    assert "`orchestrate retry` sends it again" in h.control("dispatch", "T").message


def test_retry_of_a_validating_task_says_what_to_do() -> None:
    h = History(["a"], [task("T", validate=("make check",))])
    h.report("T")
    answer = h.control("retry", "T")
    assert not answer.ok and "its check is running" in answer.message


def test_a_stall_is_told_in_the_unit_that_makes_it_true() -> None:
    h = History(["a"], [task("T")])
    h.state = dataclasses.replace(h.state, stall_after=20.0)
    h.now = (h.state.tasks["T"].since or 0.0) + 24
    (update,) = [a for a in h.feed(st.Tick()) if isinstance(a, st.Update)]
    assert "no report for 25s; `orchestrate retry T` sends it again" in update.message

"""Why each task is where it is, and the queue's ETA: pure, replayed like the scheduler."""

from __future__ import annotations

import dataclasses

from orchestrator.core import state as st
from orchestrator.core.why import queue_eta, reasons

from .test_scheduler import History, task


def test_each_status_says_why() -> None:
    h = History(
        ["a", "b"],
        [
            task("RUN", "a", estimate=600.0),
            task("NEXT", "a"),
            task("DEP", "b", after=("RUN",)),
            task("LATER", "b", phase=2),
            task("FIRST", "b", phase=1, validate=("make check",), retries=0),
        ],
    )
    why = reasons(h.state, h.now + 125)
    assert why["RUN"].startswith("on a for 2m")
    assert why["NEXT"] == "ready"
    assert why["DEP"] == "waits for RUN"
    assert why["LATER"] == "waits for phase 1 to be done"
    assert why["FIRST"].startswith("on b")
    h.report("FIRST")
    assert reasons(h.state, h.now)["FIRST"] == "checking (1 command(s))"
    h.validated("FIRST", False)
    why = reasons(h.state, h.now)
    assert why["FIRST"] == "❌ `make check` exited 2"
    assert why["LATER"] == "waits for FIRST, which is failed"  # blocked: its reason


def test_a_ready_task_of_a_paused_agent_says_so() -> None:
    h = History(["a"], [task("A1"), task("A2")])
    h.control("pause", "a")
    assert reasons(h.state, h.now)["A2"] == "ready; its agent is paused"


def test_flags_come_first_in_the_why_of_a_dispatched_task() -> None:
    h = History(["a"], [task("T", estimate=60.0)])
    h.now += 61
    h.feed(st.Tick())
    assert reasons(h.state, h.now)["T"].startswith("overdue: on a for 1m")


def test_the_queue_eta_adds_each_agents_work_and_runs_agents_side_by_side() -> None:
    tasks = [
        task("A1", "a", estimate=600.0),
        task("A2", "a", estimate=300.0),
        task("B1", "b", estimate=120.0),
    ]
    h = History(["a", "b"], tasks)
    now = (h.state.tasks["A1"].since or 0.0) + 100
    assert queue_eta(h.state, now) == 500 + 300  # a: 500 s left of A1, then A2; b runs beside
    any_agent = dataclasses.replace(task("X", "any", estimate=2000.0), line=9)
    h.feed(st.QueueLoaded((*tasks, any_agent)))
    assert queue_eta(h.state, now) is not None
    assert queue_eta(h.state, now) >= (800 + 20 + 2000) / 2  # shared between a and b


def test_without_estimates_the_eta_comes_from_what_the_done_tasks_took() -> None:
    h = History(["a"], [task("T1"), task("T2"), task("T3")])
    assert queue_eta(h.state, h.now) is None  # nothing measured, no estimate
    h.now += 59
    h.report("T1")  # took 60 s
    left = queue_eta(h.state, h.now)
    assert left is not None and 110 <= left <= 120  # T2 (just started) and T3: 60 s each

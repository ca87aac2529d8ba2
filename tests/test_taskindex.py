"""The task index and the task map that decisions read, against the definitions they stand for.

Random histories (queue edits, reports of every kind, validations, the operator's commands,
agents gone and back) are replayed through decide() and fold(); after every event the index
kept up to date must equal one built afresh, the tasks it says may start must be those the
definition gives, the plan must be the one a full scan makes, and no task may be left needing
to be blocked or unblocked (blocking is recomputed only when something could change it).
"""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as hst

from orchestrator.config.settings import ANY_AGENT, Task
from orchestrator.core import readiness
from orchestrator.core import scheduler as sch
from orchestrator.core import state as st
from orchestrator.core.blocking import reconcile_blocking
from orchestrator.core.taskindex import TaskIndex, best_first
from orchestrator.core.taskstate import TaskMap

from .test_scheduler import History, task

AGENTS = ["a", "b", "c"]


def startable_by_definition(state: st.State) -> set[str]:
    done = {t.id for t in state.tasks.values() if t.status == st.DONE}
    open_phases = [
        t.task.phase
        for t in state.tasks.values()
        if t.task.phase is not None and t.status not in st.SETTLED
    ]
    lowest = min(open_phases, default=None)
    return {
        t.id
        for t in state.tasks.values()
        if t.status == st.QUEUED
        and not t.withdrawn
        and all(dep in done for dep in t.task.after)
        and (t.task.phase is None or lowest is None or t.task.phase <= lowest)
    }


def plan_by_scan(state: st.State) -> list[st.Action]:
    actions: list[st.Action] = list(sch._asks(state))
    ready = [state.tasks[i] for i in startable_by_definition(state)]
    taken: set[str] = set()
    for agent in state.agents:
        if not agent.free:
            continue
        mine = [t for t in ready if t.id not in taken and readiness.eligible(t, agent.name)]
        best = min(mine, key=lambda t: (best_first(t), t.id), default=None)
        if best is not None:
            taken.add(best.id)
            actions.append(st.Dispatch(best.id, agent.name, best.attempts + 1))
    return actions


def same_index(kept: TaskIndex, built: TaskIndex) -> None:
    assert dict(kept.lanes) == dict(built.lanes)
    assert dict(kept.dependents) == dict(built.dependents)
    assert dict(kept.open_phases) == dict(built.open_phases)
    assert dict(kept.statuses) == dict(built.statuses)
    assert kept.dispatched == built.dispatched


spec = hst.tuples(
    hst.sampled_from([*AGENTS, ANY_AGENT]),
    hst.sampled_from(["critical", "high", "medium", "low"]),
    hst.one_of(hst.none(), hst.integers(1, 3)),
    hst.lists(hst.integers(0, 11), max_size=2),  # after: indices of other tasks
    hst.booleans(),  # validated
)


def queue(
    specs: list[tuple[str, str, int | None, list[int], bool]], listed: set[int]
) -> tuple[Task, ...]:
    tasks = []
    for i, (agent, prio, phase, after, checked) in enumerate(specs):
        if i not in listed:
            continue
        deps = tuple(f"T{j}" for j in after if j != i and j < len(specs))
        extra = {"validate": ("true",)} if checked else {}
        tasks.append(task(f"T{i}", agent, prio, phase, deps, retries=1, **extra))
    return tuple(tasks)


@settings(max_examples=150, deadline=None)
@given(hst.lists(spec, min_size=1, max_size=12), hst.randoms(use_true_random=False))
def test_the_kept_index_is_the_index_of_the_tasks(
    specs: list[tuple[str, str, int | None, list[int], bool]], rnd: random.Random
) -> None:
    listed = set(range(len(specs)))
    h = History(AGENTS, list(queue(specs, listed)))
    for _ in range(60):
        state = h.state
        same_index(state.index, TaskIndex.build(state.tasks))
        assert {t.id for t in readiness.startable(state)} == startable_by_definition(state)
        for t in state.tasks.values():
            assert readiness.may_start(state, t) == (t.id in startable_by_definition(state))
        assert sch.plan(state) == plan_by_scan(state)
        assert reconcile_blocking(state) == [], "a task was left to be blocked or unblocked"
        assert sch.all_done(state) == all(t.status in st.SETTLED for t in state.tasks.values())
        held = [a.task for a in state.agents if a.task]
        validating = [t.id for t in state.tasks.values() if t.status == st.VALIDATING]
        ids = sorted(state.tasks)
        roll = rnd.random()
        if held and roll < 0.45:
            outcome = rnd.choice(["COMPLETED", "COMPLETED", "FAILED", "BLOCKED"])
            h.report(rnd.choice(held), outcome)
        elif validating and roll < 0.6:
            h.validated(rnd.choice(validating), rnd.random() < 0.7)
        elif roll < 0.75 and ids:
            h.feed(st.Control(rnd.choice(["retry", "cancel", "dispatch"]), rnd.choice(ids)))
        elif roll < 0.85:
            listed ^= {rnd.randrange(len(specs))}  # an entry removed from, or put back in, a file
            h.feed(st.QueueLoaded(queue(specs, listed)))
        elif roll < 0.95:
            gone = {rnd.choice(AGENTS)} if rnd.random() < 0.5 else set()
            present = frozenset(AGENTS) - gone
            h.feed(st.AgentsSeen(present, present))
        else:
            h.feed(st.Tick())


@given(
    hst.lists(
        hst.tuples(hst.sampled_from("abcdefghij"), hst.integers(0, 5)), min_size=0, max_size=200
    ),
    hst.integers(0, 8),
)
def test_the_task_map_reads_as_the_dict_it_stands_for(
    writes: list[tuple[str, int]], start: int
) -> None:
    base = {f"s{i}": st.TaskState(task(f"s{i}"), i) for i in range(start)}
    expected = dict(base)
    mapped = TaskMap(base)
    for i, (key, order) in enumerate(writes):
        value = st.TaskState(task(key), order)
        before = dict(mapped)
        mapped_next = mapped.changed({key: value})
        expected[key] = value
        assert dict(mapped) == before, "a change left the map it was made from as it was"
        mapped = mapped_next
        if i % 7 == 0:
            assert list(mapped) == list(expected), "in insertion order, as a dict"
            assert list(mapped.values()) == list(expected.values())
            assert len(mapped) == len(expected)
            assert all(mapped[k] == v and k in mapped for k, v in expected.items())
            assert mapped.get("missing") is None and "missing" not in mapped
    assert dict(mapped) == expected


def test_a_task_back_in_the_queue_behind_a_failed_phase_is_blocked() -> None:
    """X (phase 2) runs; a phase-1 task added meanwhile fails; X's agent goes: X is queued
    again and must be blocked at once, though no dependency of X changed in that event."""
    h = History(["a", "b"], [task("X", "a", phase=2)])
    assert h.running()["a"] == "X"
    h.feed(st.QueueLoaded((task("X", "a", phase=2), task("P", "b", phase=1, retries=0))))
    assert h.running()["b"] == "P"
    h.report("P", "FAILED")
    assert h.status("P") == st.FAILED and h.status("X") == st.DISPATCHED
    h.feed(st.AgentsSeen(frozenset({"b"}), frozenset({"b"})))
    assert h.status("X") == st.BLOCKED
    assert h.state.tasks["X"].blocked_by == "P"

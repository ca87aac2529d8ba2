"""The agent lifecycle's screen decisions (core/attention.py), replayed as histories of looks:
no tmux, no clock."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.core.attention import (
    APPROVE_AGAIN,
    CONFIRM_WITHIN,
    Action,
    Approve,
    Manner,
    PressEnter,
    Say,
    Unconfirmed,
    Watch,
    attend,
)
from orchestrator.core.reading import BUSY, IDLE, RATE_LIMITED, WAITING, Reading

MARK = "[orchestrate T #1]"
ASK = Manner(approve=None, settle=1.0, window="1:a")
APPROVE = Manner(approve=("Enter",), settle=1.0, window="1:a")


def sent(at: float = 0.0) -> Watch:
    return Watch(unconfirmed=Unconfirmed("T", 1, "T #1", MARK, at))


def idle(holding: bool) -> Reading:
    return Reading(IDLE, bottom=f"> {MARK} do it" if holding else "> ")


@dataclass(frozen=True)
class Look:
    at: float
    reading: Reading | None
    in_flight: bool = True
    keys_fail: bool = False  # the tmux call for a key action fails


def replay(
    watch: Watch, looks: list[Look], manner: Manner = ASK
) -> tuple[Watch, list[tuple[float, Action]]]:
    """Run the looks, doing what a shell does with the actions: keys that fail leave `kept`."""
    done: list[tuple[float, Action]] = []
    for look in looks:
        watch, actions = attend("a", watch, look.reading, "T", look.in_flight, manner, look.at)
        for action in actions:
            if isinstance(action, Approve | PressEnter) and look.keys_fail:
                watch = action.kept
                continue
            done.append((look.at, action))
    return watch, done


def kinds(done: list[tuple[float, Action]]) -> list[str]:
    return [a.kind if isinstance(a, Say) else type(a).__name__ for _, a in done]


def test_a_text_still_in_the_input_box_gets_enter_once_then_is_unconfirmed() -> None:
    looks = [Look(1, idle(True)), Look(2, idle(True)), Look(5, idle(True)), Look(11, idle(True))]
    watch, done = replay(sent(), looks)
    assert kinds(done) == ["PressEnter", "unconfirmed"]
    assert done[1][0] == 11 and watch.unconfirmed is None
    (_, press), (_, told) = done
    assert isinstance(press, PressEnter) and press.said.kind == "resubmitted"
    assert isinstance(told, Say) and "look at window 1:a" in told.message


def test_busy_a_dialog_a_limit_or_an_empty_box_confirm_without_a_key() -> None:
    for reading in (Reading(BUSY), Reading(WAITING), Reading(RATE_LIMITED), idle(False)):
        watch, done = replay(sent(), [Look(1, reading)])
        assert watch.unconfirmed is None
        assert not any(isinstance(a, PressEnter) for _, a in done)


def test_a_delivery_moved_on_by_a_report_is_taken() -> None:
    watch, done = replay(sent(), [Look(1, idle(True), in_flight=False)])
    assert watch.unconfirmed is None and done == []


def test_no_screen_read_never_presses_and_waits_out_the_limit() -> None:
    watch, done = replay(sent(), [Look(3, None), Look(9, None)])
    assert done == [] and watch.unconfirmed is not None
    watch, done = replay(watch, [Look(10.5, None)])
    assert kinds(done) == ["unconfirmed"]


def test_an_enter_that_could_not_be_sent_is_tried_at_the_next_look() -> None:
    looks = [Look(1, idle(True), keys_fail=True), Look(2, idle(True))]
    _, done = replay(sent(), looks)
    assert kinds(done) == ["PressEnter"] and done[0][0] == 2


def test_a_dialog_is_told_once_and_its_end_too() -> None:
    looks = [Look(t, Reading(WAITING, line="Allow?")) for t in (1, 2, 3)] + [Look(4, idle(False))]
    _, done = replay(Watch(), looks)
    assert kinds(done) == [WAITING, "agent"]
    assert "waits for a person: 'Allow?'" in done[0][1].message  # type: ignore[union-attr]


def test_approve_waits_for_the_dialog_to_settle_and_presses_again_if_it_stays() -> None:
    looks = [Look(t, Reading(WAITING, line="Allow?")) for t in (0, 0.5, 1.0, 2.0, 4.0, 4.5)]
    _, done = replay(Watch(), looks, APPROVE)
    assert [(at, type(a).__name__) for at, a in done] == [(1.0, "Approve"), (4.0, "Approve")]
    second = done[1][1]
    assert isinstance(second, Approve) and "again: it was still up" in second.said.message


states = st.sampled_from([IDLE, BUSY, WAITING, RATE_LIMITED])
looks_strategy = st.lists(
    st.tuples(
        st.floats(0.05, 4.0),  # seconds since the look before
        st.one_of(st.none(), st.tuples(states, st.booleans())),  # no read, or (state, holds)
        st.booleans(),  # still in flight
        st.booleans(),  # its keys fail
    ),
    max_size=30,
)


@settings(max_examples=300, deadline=None)
@given(history=looks_strategy, approve=st.booleans())
def test_any_history_presses_enter_at_most_once_never_blind_and_tells_each_thing_once(
    history: list[tuple[float, tuple[str, bool] | None, bool, bool]], approve: bool
) -> None:
    manner = APPROVE if approve else ASK
    watch, now, in_flight = sent(), 0.0, True
    presses = unconfirmed = 0
    last_approval: float | None = None
    dialog_since: float | None = None
    for gap, seen, still, fails in history:
        now += gap
        in_flight = in_flight and still  # a delivery moved on never comes back
        reading = None if seen is None else Reading(seen[0], bottom=MARK if seen[1] else "")
        before = watch
        watch, actions = attend("a", watch, reading, "T", in_flight, manner, now)
        if reading is not None:
            if reading.state == WAITING:
                dialog_since = now if before.screen != WAITING else dialog_since
            else:
                dialog_since = last_approval = None
        keyed = False  # an Enter went out, or failed, at this look
        for action in actions:
            if isinstance(action, PressEnter):
                keyed = True
                presses += not fails
                assert reading is not None and reading.holds(MARK)  # never blind
                assert reading.state not in (BUSY, WAITING, RATE_LIMITED) and in_flight
            if isinstance(action, Approve):
                assert approve and dialog_since is not None and now - dialog_since >= 1.0
                assert last_approval is None or now - last_approval >= APPROVE_AGAIN
                last_approval = last_approval if fails else now
            if isinstance(action, Say) and action.kind == "unconfirmed":
                unconfirmed += 1
                assert now > CONFIRM_WITHIN and in_flight
            if isinstance(action, Say) and action.kind == WAITING:
                assert not approve and before.screen != WAITING  # told once per dialog
            if isinstance(action, Approve | PressEnter) and fails:
                watch = action.kept
        assert presses <= 1 and unconfirmed <= 1
        if watch.unconfirmed is not None:  # still waiting: in flight, within the limit
            assert in_flight and (now - watch.unconfirmed.sent <= CONFIRM_WITHIN or keyed)

"""When an agent may be given a prompt, and when its program is started again
(core/lifecycle.py), replayed with no tmux and no clock."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.core.lifecycle import (
    BACKOFF_MAX,
    HEALTHY_AFTER,
    READY,
    Backoff,
    Pace,
    healthy,
    output_verdict,
    restart,
    screen_verdict,
    shown_since,
)
from orchestrator.core.reading import BUSY, IDLE, RATE_LIMITED, STARTING, WAITING, Reading

PACE = Pace(settle=1.0, quiet=3.0)


def test_a_screen_is_ready_once_idle_settled_and_its_turn_over() -> None:
    idle, ended = Reading(IDLE), Reading(IDLE, ended=True)
    # the first idle screen starts the settle; still for `quiet` or the turn's end shows
    assert screen_verdict(idle, False, None, 10.0, PACE, 100.0) == (STARTING, 100.0)
    assert screen_verdict(idle, False, 100.0, 10.0, PACE, 100.5) == (STARTING, 100.0)
    assert screen_verdict(idle, False, 100.0, 2.0, PACE, 101.0) == (BUSY, 100.0)
    assert screen_verdict(ended, False, 100.0, 0.0, PACE, 101.0) == (READY, 100.0)
    assert screen_verdict(idle, False, 100.0, 3.0, PACE, 101.0) == (READY, 100.0)
    # a hold, or a screen that is not idle, says so and starts no settle
    assert screen_verdict(ended, True, None, 9.0, PACE, 100.0) == (RATE_LIMITED, None)
    assert screen_verdict(Reading(WAITING), False, None, 9.0, PACE, 100.0) == (WAITING, None)
    assert screen_verdict(Reading(BUSY, ended=True), False, 99.0, 9, PACE, 100) == (BUSY, 99.0)


def test_a_program_whose_screen_is_not_read_is_ready_once_up_drawn_and_quiet() -> None:
    assert output_verdict(100.0, True, 9.0, PACE, 100.5) == STARTING  # up for less than settle
    assert output_verdict(100.0, False, 9.0, PACE, 200.0) == STARTING  # drawn nothing yet
    assert output_verdict(100.0, True, 2.9, PACE, 200.0) == BUSY  # printed within `quiet`
    assert output_verdict(100.0, True, 3.0, PACE, 200.0) == READY


def test_a_screen_is_still_since_its_first_capture_and_at_most_since_its_last_output() -> None:
    assert shown_since(None, "a", 95.0, 100.0) == ("a", 96.0)  # never seen: tmux's word
    assert shown_since(("a", 96.0), "a", 99.0, 101.0) == ("a", 96.0)  # the same screen
    assert shown_since(("a", 96.0), "b", 100.0, 101.0) == ("b", 101.0)  # changed just now


@settings(max_examples=200, deadline=None)
@given(gaps=st.lists(st.floats(0.0, 200.0), max_size=30))
def test_restarts_back_off_doubling_to_a_minute_and_are_forgotten_once_healthy(
    gaps: list[float],
) -> None:
    """A program that exits at every look after `gap` seconds of life."""
    backoff: Backoff | None = None
    now, last, delays = 0.0, None, []
    for gap in gaps:
        now += gap
        up_since = last if last is not None else 0.0
        forgotten = healthy(backoff, up_since, now)
        if backoff is not None and now - up_since > HEALTHY_AFTER:
            assert forgotten is None
            delays = []
        backoff = forgotten
        after = restart(backoff, now)
        if after is None:
            assert backoff is not None and now < backoff.not_before  # not yet: it stays
            continue
        delay = min(BACKOFF_MAX, 2.0 ** len(delays))  # 1, 2, 4 ... 60 s
        assert after == Backoff(len(delays) + 1, now + delay)
        backoff = after
        delays.append(delay)
        last = now

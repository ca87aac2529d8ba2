"""Usage limits: the reset time read from a notice, holds that end and survive restarts, and a
simulated agent that hits a limit while it works."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as hs

from orchestrator.config import settings as config
from orchestrator.core import holds
from orchestrator.core.holds import Hold, Holds
from orchestrator.core.reading import IDLE, RATE_LIMITED, Reading
from orchestrator.daemon.limits import MARGIN, Limits, reset_at
from orchestrator.daemon.screen import classify, profile_for

from .conftest import Workspace

NOW = datetime(2026, 11, 21, 14, 10, 30).timestamp()  # a Saturday, local time


def at(day: int, hour: int, minute: int = 0) -> float:
    return datetime(2026, 11, day, hour, minute).timestamp() + MARGIN


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Claude usage limit reached. Your limit will reset at 3pm", at(21, 15)),
        ("5-hour limit reached ∙ resets 3:30 PM", at(21, 15, 30)),
        ("limit resets at 15:45", at(21, 15, 45)),
        ("resets 2pm", at(22, 14)),  # 2pm today has passed: tomorrow's
        ("resets 12am", at(22, 0)),
        ("resets 12pm", at(22, 12)),
        ("weekly limit reached · resets Mon 9am", at(23, 9)),
        ("resets Sat 2pm", at(28, 14)),  # this Saturday's has passed: next week's
        ("You've hit your weekly limit · resets Nov 26 at 4am", at(26, 4)),
        ("Resets Dec 1, 5:59am (local)", datetime(2026, 12, 1, 5, 59).timestamp() + MARGIN),
        ("resets Jan 3 at 1pm", datetime(2027, 1, 3, 13, 0).timestamp() + MARGIN),
        ("resets Feb 30 at 1pm", None),
        ("resets Tuesday at 9am", at(24, 9)),
        ("monitor this; decide 5 things; resets 3pm", at(21, 15)),  # no weekday, no date
        ("You've hit your usage limit. Try again in 2 hours 5 minutes.", NOW + 7500),
        ("quota exceeded, retry in 45s", NOW + 45),
        ("Your quota will reset after 2h41m52s.", NOW + 9712),
        ("try again in 5 days 22 hours 11 minutes.", NOW + 5 * 86400 + 22 * 3600 + 660),
        ("5-hour limit reached", None),
        ("try again in 1.5 h", NOW + 5400),
        ("usage limit reached", None),
        ("resets 25pm", None),
    ],
)
def test_reset_times_read_from_notices(text: str, expected: float | None) -> None:
    assert reset_at(text, NOW) == expected


def test_a_zone_in_the_notice_is_honoured() -> None:
    noon = datetime(2026, 11, 21, 12, 0).timestamp()
    paris = reset_at("resets 3pm (Europe/Paris)", noon)
    tokyo = reset_at("resets 3pm (Asia/Tokyo)", noon)
    assert paris is not None and tokyo is not None and paris != tokyo
    for found in (paris, tokyo):
        assert 0 < found - noon <= 86400 + MARGIN
    assert datetime.fromtimestamp(paris - MARGIN, ZoneInfo("Europe/Paris")).hour == 15


@given(
    hour=hs.integers(1, 12),
    minute=hs.integers(0, 59),
    pm=hs.booleans(),
    now=hs.floats(1.7e9, 1.9e9),
)
def test_a_clock_time_is_the_next_such_moment(hour: int, minute: int, pm: bool, now: float) -> None:
    found = reset_at(f"resets {hour}:{minute:02d}{'pm' if pm else 'am'}", now)
    assert found is not None
    moment = datetime.fromtimestamp(found - MARGIN)
    assert (moment.hour, moment.minute) == (hour % 12 + (12 if pm else 0), minute)
    assert now < found - MARGIN <= now + 86400 + 3600  # within a day (and a DST hour)


class Journal:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def __call__(self, kind: str, message: str, agent: str) -> None:
        self.lines.append((kind, message))


def test_a_hold_ends_at_its_time_and_old_notices_are_then_ignored() -> None:
    journal, saved = Journal(), [""]
    limits = Limits(None, journal, lambda text: saved.__setitem__(0, text))
    profile = profile_for(config.Agent("a", 1, None, "sim"))
    notice = "usage limit reached · resets in 5s"

    def look(screen: str, now: float, pause: float = 900) -> Hold | None:
        return limits.check("a", classify(screen, profile, limits.stale.get("a", 0)), now, pause)

    hold = look(f"work\n{notice}\n> ", 100.0)
    assert hold is not None and hold.until == 105.0 and hold.notice == notice
    assert journal.lines[-1][0] == "rate-limited" and "left alone" in journal.lines[-1][1]
    assert look(f"work\n{notice}\n> ", 104.0) == hold
    assert look("> ", 104.5) == hold  # the notice scrolled away: the hold stays
    # a daemon started again keeps the hold
    again = Limits(saved[0], Journal(), lambda text: None)
    assert again.check("a", classify(notice, profile), 104.0, 900) == hold
    assert look(f"work\n{notice}\n> ", 105.0) is None
    assert "ready again" in journal.lines[-1][1]
    # the notice still on screen is old news now; the same words once more are news
    assert classify(f"{notice}\n> ", profile, limits.stale["a"]).state == IDLE
    assert look(f"work\n{notice}\n> ", 106.0) is None
    assert look(f"{notice}\nmore\n{notice}\n> ", 107.0) is not None
    assert limits.holds["a"].until == 112.0
    # with no reset time shown, the pause holds it; scrolled-away notices are forgotten
    assert look(f"{notice}\n{notice}\n> ", 113.0) is None
    assert look("> ", 114.0) is None and limits.stale["a"] == 0
    hold = look("usage limit reached\n> ", 115.0, pause=60)
    assert hold is not None and hold.until == 175.0 and "rate_limit_pause" in hold.why


@settings(max_examples=200, deadline=None)
@given(
    looks=hs.lists(
        hs.tuples(
            hs.floats(0.1, 50.0),  # seconds since the look before
            hs.booleans(),  # the screen shows a usage-limit notice it reads as new
            hs.integers(0, 3),  # notices on the screen
            hs.one_of(hs.none(), hs.floats(1.0, 100.0)),  # the reset it gives, from now
        ),
        max_size=25,
    )
)
def test_any_history_of_looks_holds_until_the_reset_and_starts_each_hold_once(
    looks: list[tuple[float, bool, int, float | None]],
) -> None:
    state, now = Holds(), 0.0
    for gap, limited, notices, reset in looks:
        now += gap
        reading = Reading(RATE_LIMITED if limited else IDLE, line="limit", notices=notices)
        before = state.held.get("a")
        at = now + reset if reset is not None else None
        state, hold, news = holds.check(state, "a", reading, now, 30.0, at)
        assert Holds.loads(state.dumps()) == state  # what a restart reads back
        if before is not None and now < before.until:
            assert hold == before and news is None  # held: neither lifted nor started again
        if news == holds.LIFTED:
            assert before is not None and now >= before.until and hold is None
            assert state.stale["a"] == notices  # what shows now is old news
        if news == holds.STARTED:
            assert hold is not None and limited and before is None  # a lift starts nothing
            assert hold.until == (at if at is not None else now + 30.0)
        if hold is None:
            assert "a" not in state.held


def events(ws: Workspace) -> list[dict[str, Any]]:
    return [json.loads(line) for line in ws.journal(as_json=True).splitlines()]


def first(records: list[dict[str, Any]], kind: str, text: str = "") -> float:
    return next(float(r["ts"]) for r in records if r["kind"] == kind and text in r["message"])


@pytest.mark.parametrize(
    ("notice", "pause", "wait"),
    [("usage limit reached · resets in 4s", "15m", 4.0), ("usage limit reached", "3s", 3.0)],
    ids=["reset-time", "pause"],
)
def test_a_rate_limited_agent_gets_nothing_until_its_reset(
    workspace: Workspace, notice: str, pause: str, wait: float
) -> None:
    ws = workspace
    ws.sim_agents(["a"], delay=1.0, extra={"a": ["--limit", "L-1", "--limit-notice", notice]})
    agents = yaml.safe_load((ws.root / "orchestrate.yaml").read_text())["agents"]
    agents["a"]["rate_limit_pause"] = pause
    ws.write_config(agents)
    ws.write_queue(
        "q.yaml",
        [{"id": f"L-{i}", "agent": "a", "prompt": f"Task {i}."} for i in (1, 2, 3)],
    )
    result = ws.finish()
    assert result.returncode == 0, result.stdout[-3000:]
    assert ws.statuses() == {"L-1": "done", "L-2": "done", "L-3": "done"}
    records = events(ws)
    limited = first(records, "rate-limited")
    # the task in flight went on and was done; the next one waited for the reset
    assert first(records, "report", "L-1") > limited
    assert first(records, "dispatch", "L-2") >= limited + wait
    assert sum(r["kind"] == "rate-limited" for r in records) == 1  # the old notice held once
    assert ws.markers() == {f"[orchestrate L-{i} #1]": 1 for i in (1, 2, 3)}

"""Usage limits: when a notice on an agent's screen says its limit resets (`reset_at`: a
clock time, plus a minute, or a span), and the holds decided in core/holds.py kept in the
state database (they survive a restart of the daemon) and journaled.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from ..core import holds
from ..core.holds import Hold
from ..core.reading import RATE_LIMITED, Reading

MARGIN = 60.0  # seconds after a reset announced as a clock time (minutes) before trying again

_CLOCK12 = re.compile(r"\b(\d{1,2})(?::([0-5]\d))?\s*([ap])\.?m\b\.?", re.IGNORECASE)
_CLOCK24 = re.compile(r"\b([01]?\d|2[0-3]):([0-5]\d)\b")
_SPAN = re.compile(
    r"(?<![\d.])(\d+(?:\.\d+)?)\s*(days?|d|hours?|hrs?|h|minutes?|mins?|m|seconds?|secs?|s)(?![a-z])",
    re.IGNORECASE,
)
_WEEKDAY = re.compile(r"\b(mon|tue|wed|thu|fri|sat|sun)(?:[a-z]*day)?\b", re.IGNORECASE)
_ZONE = re.compile(r"\b([A-Z][A-Za-z_]+/[A-Za-z_]+(?:/[A-Za-z_]+)?)\b")
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DATE = re.compile(
    r"\b(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t|tember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?\s+(\d{1,2})\b",
    re.IGNORECASE,
)


def _zone(text: str) -> tzinfo | None:
    match = _ZONE.search(text)
    if match is None:
        return None
    try:
        return ZoneInfo(match.group(1))
    except (KeyError, ValueError, OSError):
        return None


def reset_at(text: str, now: float) -> float | None:
    """When a usage-limit notice says the limit resets, as a timestamp; None if it does not
    say. Understands clock times (`3pm`, `3:30 PM`, `15:00`, with a weekday or a date like
    `Jul 18` and an `Area/City` zone if given: the next such moment after `now`, plus
    MARGIN) and spans (`in 2 days 5 hours`, `try again in 45s`, `after 2h41m52s`). Pure."""
    clock = _CLOCK12.search(text)
    hour = minute = None
    if clock:
        hour = int(clock.group(1)) % 12 + (12 if clock.group(3).lower() == "p" else 0)
        minute = int(clock.group(2) or 0)
        if int(clock.group(1)) > 12:
            hour = None
    if hour is None and (clock24 := _CLOCK24.search(text)):
        hour, minute = int(clock24.group(1)), int(clock24.group(2))
    if hour is not None and minute is not None:
        zone = _zone(text)
        current = datetime.fromtimestamp(now, zone) if zone else datetime.fromtimestamp(now)
        moment = current.replace(hour=hour, minute=minute, second=0, microsecond=0)
        weekday = _WEEKDAY.search(text)
        date = _DATE.search(text)
        if date:
            month, day = _MONTHS.index(date.group(1)[:3].lower()) + 1, int(date.group(2))
            try:
                moment = moment.replace(month=month, day=day)
                if moment <= current:
                    moment = moment.replace(year=moment.year + 1)
            except ValueError:  # no such day
                return None
        elif weekday:
            ahead = (_DAYS.index(weekday.group(1).lower()) - moment.weekday()) % 7
            moment += timedelta(days=ahead)
            if moment <= current:
                moment += timedelta(days=7)
        elif moment <= current:
            moment += timedelta(days=1)
        return moment.timestamp() + MARGIN
    spans = _SPAN.findall(text)
    if spans:
        scale = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}
        return now + sum(float(n) * scale[unit[0].lower()] for n, unit in spans)
    return None


class Limits:
    """The shell of core/holds.py: the holds kept in the state database, journaled."""

    def __init__(
        self,
        saved: str | None,
        journal: Callable[[str, str, str], None],
        save: Callable[[str], None],
    ) -> None:
        self.now = holds.Holds.loads(saved)
        self.journal = journal  # (kind, message, agent)
        self.save = save

    @property
    def stale(self) -> Mapping[str, int]:  # agent -> old notices shown
        return self.now.stale

    @property
    def holds(self) -> Mapping[str, Hold]:
        return self.now.held

    def check(self, agent: str, reading: Reading, now: float, pause: float) -> Hold | None:
        """The hold on `agent` after a look at its screen, read with `stale` old notices."""
        fresh = reading.state == RATE_LIMITED and agent not in self.now.held
        reset = reset_at(reading.reset or reading.line, now) if fresh else None
        after, hold, news = holds.check(self.now, agent, reading, now, pause, reset)
        if after is not self.now:
            self.now = after
            self.save(after.dumps())
        if news == holds.LIFTED:
            self.journal("agent", f"{agent}: its usage limit should have reset; ready again", agent)
        elif news == holds.STARTED and hold is not None:
            self.journal(
                "rate-limited",
                f"{agent} is rate-limited until {_clock(hold.until)} ({hold.why}): "
                f"{reading.line!r}; it gets nothing until then, its task in flight is left alone",
                agent,
            )
        return hold


def _clock(at: float) -> str:
    return time.strftime("%a %H:%M", time.localtime(at))

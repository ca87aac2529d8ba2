"""Usage-limit holds (pure). An agent whose screen shows a usage-limit notice gets nothing
until the reset the notice gives, or for its `rate_limit_pause` when it gives none; its
task in flight is left alone. Once that time has passed, the notices on the screen are old
news: only one more holds the agent again.

`check` takes the holds, one look at an agent's screen and the reset its notice gives (the
shell reads it: limits.reset_at), and returns the holds after it with what changed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from types import MappingProxyType

from .reading import RATE_LIMITED, Reading


@dataclass(frozen=True)
class Hold:
    until: float
    notice: str  # the screen line that started it
    why: str  # how `until` was found, for people


@dataclass(frozen=True)
class Holds:
    """The agents held by a usage limit, and how many notices on each one's screen are old."""

    held: Mapping[str, Hold] = field(default_factory=lambda: MappingProxyType({}))
    stale: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def loads(cls, text: str | None) -> Holds:
        data = json.loads(text) if text else {}
        held = {a: Hold(**h) for a, h in data.get("holds", {}).items()}
        return cls(MappingProxyType(held), MappingProxyType(dict(data.get("stale", {}))))

    def dumps(self) -> str:
        held = {a: asdict(h) for a, h in self.held.items()}
        return json.dumps({"holds": held, "stale": dict(self.stale)}, ensure_ascii=False)


STARTED = "started"  # the look started a hold
LIFTED = "lifted"  # its time has passed


def check(
    holds: Holds, agent: str, reading: Reading, now: float, pause: float, reset: float | None
) -> tuple[Holds, Hold | None, str | None]:
    """The holds after a look at `agent`'s screen (read with its `stale` old notices), its
    hold now, and STARTED, LIFTED or None."""
    held, stale = dict(holds.held), dict(holds.stale)
    if reading.notices < stale.get(agent, 0):  # old ones scrolled away
        stale[agent] = reading.notices
    hold, news = held.get(agent), None
    if hold is not None and now >= hold.until:
        del held[agent]
        stale[agent] = reading.notices  # every notice shown now is old news
        hold, news = None, LIFTED
    elif hold is None and reading.state == RATE_LIMITED:
        if reset is not None:
            hold = Hold(reset, reading.line, "the reset time it shows")
        else:
            hold = Hold(
                now + pause, reading.line, f"no reset time shown: rate_limit_pause {pause:.0f}s"
            )
        held[agent], news = hold, STARTED
    after = Holds(MappingProxyType(held), MappingProxyType(stale))
    return (after if after != holds else holds), hold, news

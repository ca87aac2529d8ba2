"""Reading an agent's screen: its profile (data shipped in orchestrator/profiles/) and a pure
classifier from the visible text of its pane to a state.

Every one of the real TUIs keeps drawing its input box while it works, so idle means the
idle pattern is there AND no busy pattern is. A permission dialog wins over everything:
typing into it would approve a command.

Idle is not enough for a next prompt: agents go on writing after they report, and Codex 0.169
shows no busy line while it streams its answer (docs/AGENT_CLIS.md). A turn has ended once the
screen reads idle and shows the end of the latest turn (the profile's `turn_end`, e.g. Codex's
`Worked for 2s`), or has not changed for the profile's `quiet` seconds (core/lifecycle.py
decides it from the reading).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from ..config import yamlsrc
from ..config.models import ProfileModel, validate_model
from ..config.notation import PROFILES
from ..config.settings import Agent
from ..core.lifecycle import Pace
from ..core.reading import BUSY, IDLE, RATE_LIMITED, STARTING, UNKNOWN, WAITING, Reading
from ..prompt import last_line


@dataclass(frozen=True)
class Profile:
    name: str
    command: str | None
    gap: float
    settle: float
    idle: tuple[re.Pattern[str], ...]
    busy: tuple[re.Pattern[str], ...]
    waiting: tuple[re.Pattern[str], ...]
    starting: tuple[re.Pattern[str], ...]
    rate_limited: tuple[re.Pattern[str], ...]
    pending: tuple[re.Pattern[str], ...]
    approve: tuple[str, ...]
    turn_end: tuple[re.Pattern[str], ...] = ()  # the end of the latest turn shows on screen
    quiet: float = 1.0  # or a screen (generic: output) still this long ends a turn

    @property
    def pace(self) -> Pace:
        return Pace(self.settle, self.quiet)

    @property
    def reads_screen(self) -> bool:
        """A profile without patterns (generic) never needs a capture of the screen."""
        return bool(
            self.idle
            or self.busy
            or self.waiting
            or self.starting
            or self.rate_limited
            or self.turn_end
        )


@cache
def _shipped(name: str) -> ProfileModel:
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}: use one of {', '.join(PROFILES)}")
    source = resources.files("orchestrator.profiles").joinpath(f"{name}.yaml")
    where = Path(str(source))
    model: ProfileModel = validate_model(
        ProfileModel, yamlsrc.load(source.read_text(encoding="utf-8"), where), where
    )
    return model


def profile_for(agent: Agent) -> Profile:
    """The agent's profile, with the overrides of orchestrate.yaml applied."""
    base = _shipped(agent.profile)
    submit = {**base.submit.model_dump(), **dict(agent.submit)}
    screen = {**base.screen.model_dump(), **{k: list(v) for k, v in agent.screen}}

    def compiled(key: str) -> tuple[re.Pattern[str], ...]:
        return tuple(re.compile(p) for p in screen.get(key) or [])

    return Profile(
        name=agent.profile,
        command=base.command,
        gap=submit["gap"] if submit["gap"] is not None else 0.2,
        settle=submit["settle"] if submit["settle"] is not None else 1.0,
        quiet=submit["quiet"] if submit["quiet"] is not None else 1.0,
        idle=compiled("idle"),
        busy=compiled("busy"),
        waiting=compiled("waiting"),
        starting=compiled("starting"),
        rate_limited=compiled("rate_limited"),
        pending=compiled("pending"),
        approve=tuple(base.approve),
        turn_end=compiled("turn_end"),
    )


def _first(patterns: tuple[re.Pattern[str], ...], screen: str) -> re.Match[str] | None:
    for pattern in patterns:
        match = pattern.search(screen)
        if match:
            return match
    return None


def _line_of(screen: str, match: re.Match[str]) -> str:
    start = screen.rfind("\n", 0, match.start()) + 1
    end = screen.find("\n", match.end())
    return screen[start : end if end != -1 else len(screen)].strip()


_CUT = re.compile(r"(?:\d|\b(?:in|at|again|resets?|after))\s*$", re.IGNORECASE)


def _reset_time(screen: str, match: re.Match[str], profile: Profile) -> str:
    """What a notice says about its reset: a pattern's `reset` group, or else its line, with
    the next line when the notice was wrapped mid-phrase ("… try again in 2 hours 11" /
    "minutes.")."""
    line = _line_of(screen, match)
    for pattern in profile.rate_limited:
        found = pattern.search(line)
        if found and found.groupdict().get("reset"):
            return str(found["reset"])
    if _CUT.search(line):
        end = screen.find("\n", match.end())
        if end != -1:
            after = screen.find("\n", end + 1)
            line += " " + screen[end + 1 : after if after != -1 else len(screen)].strip()
    return line


def notices(screen: str, profile: Profile) -> list[re.Match[str]]:
    """The usage-limit notices on a screen, one per line, top to bottom."""
    found: dict[int, re.Match[str]] = {}
    for pattern in profile.rate_limited:
        for match in pattern.finditer(screen):
            found.setdefault(screen.rfind("\n", 0, match.start()) + 1, match)
    return [found[start] for start in sorted(found)]


def classify(screen: str, profile: Profile, stale: int = 0) -> Reading:
    """The state an agent's visible screen shows. The first `stale` usage-limit notices
    (from the top) are old news, whose reset time has passed: only one more counts. Pure."""
    bottom = last_line(screen)
    placeholder = _first(profile.pending, screen) is not None
    ended = _first(profile.turn_end, screen) is not None
    limits = notices(screen, profile)
    finders: tuple[tuple[str, Callable[[], re.Match[str] | None]], ...] = (
        (WAITING, lambda: _first(profile.waiting, screen)),
        (RATE_LIMITED, lambda: limits[-1] if len(limits) > stale else None),
        (BUSY, lambda: _first(profile.busy, screen)),
        (STARTING, lambda: _first(profile.starting, screen)),
        (IDLE, lambda: _first(profile.idle, screen)),
    )
    for state, find in finders:
        match = find()
        if match:
            line = _line_of(screen, match)
            reset = _reset_time(screen, match, profile) if state == RATE_LIMITED else None
            return Reading(state, line, reset, bottom, placeholder, len(limits), ended)
    return Reading(UNKNOWN, "", None, bottom, placeholder, len(limits), ended)

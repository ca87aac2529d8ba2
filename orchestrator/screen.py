"""Reading an agent's screen: its profile (data shipped in orchestrator/profiles/) and a pure
classifier from the visible text of its pane to a state.

Every one of the real TUIs keeps drawing its input box while it works, so idle means the
idle pattern is there AND no busy pattern is. A permission dialog wins over everything:
typing into it would approve a command.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from . import yamlsrc
from .config import PROFILES, Agent, ProfileModel, validate_model
from .prompt import last_line

IDLE = "idle"
BUSY = "busy"
WAITING = "waiting-for-input"
STARTING = "starting"
RATE_LIMITED = "rate-limited"
UNKNOWN = "unknown"


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

    @property
    def reads_screen(self) -> bool:
        """A profile without patterns (generic) never needs a capture of the screen."""
        return bool(self.idle or self.busy or self.waiting or self.starting or self.rate_limited)


@dataclass(frozen=True)
class Reading:
    state: str
    line: str = ""  # the screen line that decided it
    reset: str | None = None  # for rate-limited: when the limit resets, as the screen says
    bottom: str = ""  # the last line with text: where an input box shows what waits in it
    placeholder: bool = False  # a "pasted text" placeholder (profile `pending`) is on screen

    def holds(self, marker: str) -> bool:
        """Is a pasted text still waiting in the input box (not submitted)?"""
        return self.state != BUSY and (marker in self.bottom or self.placeholder)


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
        idle=compiled("idle"),
        busy=compiled("busy"),
        waiting=compiled("waiting"),
        starting=compiled("starting"),
        rate_limited=compiled("rate_limited"),
        pending=compiled("pending"),
        approve=tuple(base.approve),
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


def _reset_time(screen: str, profile: Profile) -> str | None:
    """The `reset` group of any rate-limit pattern that has one and matches."""
    for pattern in profile.rate_limited:
        match = pattern.search(screen)
        if match and match.groupdict().get("reset"):
            return match["reset"]
    return None


def classify(screen: str, profile: Profile) -> Reading:
    """The state an agent's visible screen shows. Pure."""
    bottom = last_line(screen)
    placeholder = _first(profile.pending, screen) is not None
    for state, patterns in (
        (WAITING, profile.waiting),
        (RATE_LIMITED, profile.rate_limited),
        (BUSY, profile.busy),
        (STARTING, profile.starting),
        (IDLE, profile.idle),
    ):
        match = _first(patterns, screen)
        if match:
            reset = _reset_time(screen, profile) if state == RATE_LIMITED else None
            return Reading(state, _line_of(screen, match), reset, bottom, placeholder)
    return Reading(UNKNOWN, bottom=bottom, placeholder=placeholder)

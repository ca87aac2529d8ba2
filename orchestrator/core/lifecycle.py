"""When an agent may be given a prompt, and when its program is started again (pure).

An agent is ready once its pane runs its program (not a shell) and that program has settled:
up for the profile's `settle`, drawn something (a blank pane is a program still loading,
which would lose what is typed), and its turn over (agents go on writing after they report).
For a profile that reads screens the turn is over when the screen reads idle and shows the
turn's end or has not changed for `quiet` seconds; for one that does not (generic), when the
pane has printed nothing for `quiet` seconds. A program that exits is started again (with
`restart: true`) after a backoff that doubles up to a minute and is forgotten once it has
run a minute.
"""

from __future__ import annotations

from dataclasses import dataclass

from .reading import BUSY, IDLE, RATE_LIMITED, STARTING, Reading

READY = ""  # the verdict for an agent that may be given a prompt


@dataclass(frozen=True)
class Pace:
    """The profile's timings."""

    settle: float  # up (or idle) this long before it is given anything
    quiet: float  # a screen (or pane) still this long ends a turn


def screen_verdict(
    reading: Reading, held: bool, first_idle: float | None, still: float, pace: Pace, now: float
) -> tuple[str, float | None]:
    """For an agent whose screen is read: READY or why not (the state its screen shows,
    rate-limited while a usage limit holds it, starting, busy while its turn goes on), and
    since when its screen has read idle since its program started (None: not yet)."""
    if held:
        return RATE_LIMITED, first_idle
    if reading.state != IDLE:
        return reading.state, first_idle
    first = now if first_idle is None else first_idle
    if now - first < pace.settle:
        return STARTING, first
    if not turn_over(reading, still, pace):
        return BUSY, first  # idle-looking, but still writing its turn
    return READY, first


def turn_over(reading: Reading, still: float, pace: Pace) -> bool:
    """Has the agent's turn ended? Its screen reads idle (the idle pattern, no busy one) and
    either shows the end of its latest turn (`turn_end`) or has shown the same text for the
    profile's `quiet` seconds (`still`)."""
    return reading.state == IDLE and (reading.ended or still >= pace.quiet)


def output_verdict(up_since: float, drawn: bool, printed: float, pace: Pace, now: float) -> str:
    """For an agent whose screen is not read (generic): READY once its program has been up
    for `settle`, has drawn something and has printed nothing for `quiet` seconds (`printed`:
    seconds since its last output)."""
    if now - up_since < pace.settle or not drawn:
        return STARTING
    return READY if printed >= pace.quiet else BUSY


def output_still(activity: float, now: float) -> float:
    """Seconds for which a pane has printed nothing, at least, from tmux's `window_activity`:
    the time of its last output in whole seconds (so up to 1 s later than it says)."""
    return max(0.0, now - (activity + 1.0))


def shown_since(
    before: tuple[str, float] | None, screen: str, activity: float, now: float
) -> tuple[str, float]:
    """Since when the agent's screen has shown what it shows now: the first capture that
    showed it, and at most since its window last printed, as tmux says (1 s steps): a screen
    not captured for a while, or never, need not wait again."""
    if before is None or before[0] != screen:
        return screen, min(now, activity + 1.0)
    return before


# ------------------------------------------------------------------ restarts

BACKOFF_FIRST = 1.0
BACKOFF_MAX = 60.0
HEALTHY_AFTER = 60.0


@dataclass(frozen=True)
class Backoff:
    restarts: int = 0
    not_before: float = 0.0


def restart(backoff: Backoff | None, now: float) -> Backoff | None:
    """May the agent's program be started again now? If so the backoff after this restart
    (the next no sooner than its `not_before`), else None (the backoff stays as it is)."""
    count, not_before = (backoff.restarts, backoff.not_before) if backoff else (0, 0.0)
    if now < not_before:
        return None
    return Backoff(count + 1, now + min(BACKOFF_MAX, BACKOFF_FIRST * 2**count))


def healthy(backoff: Backoff | None, up_since: float | None, now: float) -> Backoff | None:
    """A program that has run HEALTHY_AFTER seconds has its backoff forgotten."""
    if backoff is not None and up_since is not None and now - up_since > HEALTHY_AFTER:
        return None
    return backoff

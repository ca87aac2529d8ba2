"""What one look at an agent's screen says: the vocabulary the screen classifier (screen.py)
produces and the agent lifecycle's decisions (attention.py) take."""

from __future__ import annotations

from dataclasses import dataclass

IDLE = "idle"
BUSY = "busy"
WAITING = "waiting-for-input"
STARTING = "starting"
RATE_LIMITED = "rate-limited"
UNKNOWN = "unknown"


@dataclass(frozen=True)
class Reading:
    state: str
    line: str = ""  # the screen line that decided it
    reset: str | None = None  # for rate-limited: when the limit resets, as the screen says
    bottom: str = ""  # the last line with text: where an input box shows what waits in it
    placeholder: bool = False  # a "pasted text" placeholder (profile `pending`) is on screen
    notices: int = 0  # usage-limit notices on the screen, old or new
    ended: bool = False  # the end of the agent's latest turn shows (profile `turn_end`)

    def holds(self, marker: str) -> bool:
        """Is a pasted text still waiting in the input box (not submitted)?"""
        return self.state != BUSY and (marker in self.bottom or self.placeholder)

"""How the files write their values: durations (`90s`, `1h30m`), priorities in English or
French, task ids and profile names, each read into what the program uses or refused with what
to write instead. Plain functions, read by the models and by the settings alike."""

from __future__ import annotations

import re

from ..core.task import PRIORITIES

TASK_ID = r"[A-Za-z0-9][A-Za-z0-9_.-]*"

PRIORITY_ALIASES: dict[str, str] = {
    **{name: name for name in PRIORITIES},
    "critique": "critical",
    "bloquant": "blocking",
    "blocker": "blocking",
    "bloquante": "blocking",
    "haute": "high",
    "moyenne": "medium",
    "normal": "medium",
    "optimisation": "low",
    "basse": "low",
}


def priority_of(value: str) -> str:
    """A priority's name from its English or French spelling, any case; several words (the
    hand-run board's `BLOQUANT CRITIQUE`) mean the highest of them. Raises ValueError."""
    words = value.strip().lower().split()
    if not words or any(w not in PRIORITY_ALIASES for w in words):
        raise ValueError(
            f"unknown priority {value!r}: use critical, blocking, high, medium or low "
            "(in French: critique, bloquant, haute, moyenne, basse or optimisation)"
        )
    return min((PRIORITY_ALIASES[w] for w in words), key=PRIORITIES.__getitem__)


PROFILES = ("claude", "codex", "gemini", "qwen", "opencode", "aider", "generic", "sim")

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(h|m|s)", re.IGNORECASE)


def parse_duration(value: str | int | float) -> float:
    """`90s`, `30m`, `2h`, `1h30m` or a number of seconds -> seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return float(value)
    text = str(value).strip().replace(" ", "")
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts).lower() != text.lower():
        raise ValueError(f"{value!r} is not a duration: write 90s, 30m, 2h or 1h30m")
    scale = {"h": 3600.0, "m": 60.0, "s": 1.0}
    return sum(float(n) * scale[u.lower()] for n, u in parts)

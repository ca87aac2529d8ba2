"""A task as the queue files define it (config/settings.py reads them, config/models.py
checks them)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ANY_AGENT = "any"
PRIORITIES: dict[str, int] = {"critical": 0, "blocking": 1, "high": 2, "medium": 3, "low": 4}


@dataclass(frozen=True)
class Task:
    id: str
    title: str
    agent: str
    priority: str
    phase: int | None
    after: tuple[str, ...]
    estimate: float | None
    uses: tuple[str, ...]
    prompt: str
    report: tuple[str, ...]
    validate: tuple[str, ...]
    retries: int
    file: Path
    line: int
    timeout: float = 600.0

    @property
    def rank(self) -> int:
        return PRIORITIES[self.priority]

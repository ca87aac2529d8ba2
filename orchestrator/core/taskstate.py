"""A task's state and the statuses it moves through (frozen values, no I/O)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from .task import Task

QUEUED = "queued"
DISPATCHED = "dispatched"
VALIDATING = "validating"
DONE = "done"
FAILED = "failed"
BLOCKED = "blocked"
CANCELLED = "cancelled"
STATUSES = (QUEUED, DISPATCHED, VALIDATING, DONE, FAILED, BLOCKED, CANCELLED)
ACTIVE = frozenset({DISPATCHED, VALIDATING})  # the agent is reserved for the task
SETTLED = frozenset({DONE, CANCELLED})
DEFAULT_STALL_AFTER = 15 * 60.0


@dataclass(frozen=True)
class TaskState:
    task: Task
    order: int  # position across all queue files (file name order, then file order)
    status: str = QUEUED
    attempts: int = 0
    agent: str | None = None  # the agent holding or last holding it
    since: float | None = None  # when the current attempt was dispatched
    reason: str = ""
    # What the next prompt must quote: a failed validation, or the agent's FAILED report.
    feedback: str = ""
    pinned: str | None = None  # a retry goes back to the agent that did the work
    fields: tuple[tuple[str, str], ...] = ()  # reported so far in this attempt
    followup: bool = False  # the missing fields were asked for once in this attempt
    asking: bool = False  # that request waits for the agent's turn to end (then FollowUp)
    blocked_by: str | None = None  # the failed/blocked task this one waits for
    budget_from: int = 0  # attempts before the operator's last retry
    flags: frozenset[str] = frozenset()  # overdue, stalled (this attempt)
    last_report: float | None = None
    validation: str = ""  # the last validation's result, in words
    log: str = ""  # where the last validation's output is
    urgent: bool = False  # `orchestrate dispatch`: goes before every other ready task
    withdrawn: bool = False  # no queue file lists it any more (cancelled, or left to finish)

    @property
    def id(self) -> str:
        return self.task.id

    def overdue(self, now: float) -> bool:
        return (
            self.status == DISPATCHED
            and self.task.estimate is not None
            and self.since is not None
            and now - self.since > self.task.estimate
        )

    def missing_fields(self) -> list[str]:
        have = {name.casefold() for name, value in self.fields if value.strip()}
        return [name for name in self.task.report if name.casefold() not in have]


V = TypeVar("V")


def as_dict(mapping: Mapping[str, V]) -> dict[str, V]:
    """A new dict of the mapping. A read-only view is copied through its dict, at C speed:
    through the mapping protocol it costs 25 times as much at 10,000 tasks."""
    if isinstance(mapping, dict | MappingProxyType):
        return mapping.copy()
    return dict(mapping)


class TaskMap(Mapping[str, TaskState]):
    """The tasks by id, frozen: a base shared between states, and the few tasks changed since.

    A fold makes a new map from the changes alone, and the base is copied (at C speed) only
    once the changes pass `COMPACT`, so a decision does not copy 10,000 tasks. Iteration is in
    insertion order, as a dict's.
    """

    COMPACT = 64
    __slots__ = ("_base", "_delta")
    _base: dict[str, TaskState]

    def __init__(self, base: Mapping[str, TaskState] | None = None) -> None:
        if isinstance(base, TaskMap):
            self._base = {**base._base, **base._delta}
        else:
            self._base = as_dict(base or {})
        self._delta: dict[str, TaskState] = {}

    def changed(self, changes: Mapping[str, TaskState]) -> TaskMap:
        if not changes:
            return self
        new = TaskMap.__new__(TaskMap)
        if len(self._delta) + len(changes) > self.COMPACT:
            new._base, new._delta = {**self._base, **self._delta, **changes}, {}
        else:
            new._base, new._delta = self._base, {**self._delta, **changes}
        return new

    def __getitem__(self, key: str) -> TaskState:
        found = self._delta.get(key)
        return found if found is not None else self._base[key]

    def get(self, key: str, default: Any = None) -> Any:
        found = self._delta.get(key)
        return found if found is not None else self._base.get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self._delta or key in self._base

    def __iter__(self) -> Iterator[str]:
        yield from self._base
        yield from (k for k in self._delta if k not in self._base)

    def __len__(self) -> int:
        return len(self._base) + sum(1 for k in self._delta if k not in self._base)

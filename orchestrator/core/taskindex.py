"""What the scheduler asks of the task map at every decision, kept up to date as tasks change.

Which queued tasks may start (their dependencies done), in best-first order per lane (the agent
they may go to, and their phase); how many unsettled tasks each phase holds; how many tasks
each status holds; which are dispatched. `TaskIndex.updated` moves it forward by the tasks an
action touched, so a decision costs what changed, not the size of the queue. Pure: frozen
values, no I/O.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from .taskstate import DISPATCHED, DONE, QUEUED, SETTLED, TaskState, as_dict

Lane = tuple[bool, str, int | None]  # (pinned?, the agent name or `any`, the phase)
Entry = tuple[bool, bool, int, int, str]  # best_first's key, then the id
_REBUILD = 32  # more changes than this in one lane: sort it afresh rather than bisect


def best_first(task: TaskState) -> tuple[bool, bool, int, int]:
    """The operator's `dispatch` goes first; then a retry (its agent has the context of the
    attempt before); then priority, then file order."""
    return (not task.urgent, task.pinned is None, task.task.rank, task.order)


def lane_of(task: TaskState) -> Lane:
    if task.pinned is not None:
        return (True, task.pinned, task.task.phase)
    return (False, task.task.agent, task.task.phase)


def _placed(tasks: Mapping[str, TaskState], task_id: str) -> tuple[Lane, Entry] | None:
    """Where the task stands among the startable ones, if it may start but for its phase."""
    task = tasks.get(task_id)
    if task is None or task.status != QUEUED or task.withdrawn:
        return None
    for dep in task.task.after:
        known = tasks.get(dep)
        if known is None or known.status != DONE:
            return None
    return lane_of(task), (*best_first(task), task.id)


def _phase_open(task: TaskState | None) -> int | None:
    if task is None or task.task.phase is None or task.status in SETTLED:
        return None
    return task.task.phase


@dataclass(frozen=True)
class TaskIndex:
    lanes: Mapping[Lane, tuple[Entry, ...]]
    dependents: Mapping[str, frozenset[str]]  # id -> the ids whose `after` names it
    open_phases: Mapping[int, int]  # phase -> how many of its tasks are not settled
    statuses: Mapping[str, int]  # status -> how many tasks hold it
    dispatched: frozenset[str] = frozenset()  # the ids of the tasks in an agent's hands

    @classmethod
    def build(cls, tasks: Mapping[str, TaskState]) -> TaskIndex:
        return cls(MappingProxyType({}), MappingProxyType({}), {}, {}).updated({}, tasks, tasks)

    def updated(
        self,
        before: Mapping[str, TaskState],
        after: Mapping[str, TaskState],
        touched: Iterable[str],
    ) -> TaskIndex:
        """The index of `after`, given that it differs from `before` only in `touched`."""
        touched = set(touched)
        dependents: dict[str, frozenset[str]] | None = None  # a copy, made once when changed
        open_phases, statuses = Counter(self.open_phases), Counter(self.statuses)
        dispatched = set(self.dispatched)
        affected = set(touched)
        for task_id in touched:
            old, new = before.get(task_id), after.get(task_id)
            old_after = old.task.after if old else ()
            new_after = new.task.after if new else ()
            if old_after != new_after:
                if dependents is None:
                    dependents = as_dict(self.dependents)
                for dep in set(old_after) - set(new_after):
                    dependents[dep] = dependents[dep] - {task_id}
                    if not dependents[dep]:
                        del dependents[dep]
                for dep in set(new_after) - set(old_after):
                    dependents[dep] = dependents.get(dep, frozenset()) | {task_id}
            was_done = old is not None and old.status == DONE
            if was_done != (new is not None and new.status == DONE):
                affected |= (self.dependents if dependents is None else dependents).get(
                    task_id, frozenset()
                )
            for phase, sign in ((_phase_open(old), -1), (_phase_open(new), 1)):
                if phase is not None:
                    open_phases[phase] += sign
            if old is not None:
                statuses[old.status] -= 1
            if new is not None:
                statuses[new.status] += 1
            if new is not None and new.status == DISPATCHED:
                dispatched.add(task_id)
            else:
                dispatched.discard(task_id)
        removed: dict[Lane, list[Entry]] = {}
        added: dict[Lane, list[Entry]] = {}
        for task_id in affected:
            old_place, new_place = _placed(before, task_id), _placed(after, task_id)
            if old_place != new_place:
                if old_place is not None:
                    removed.setdefault(old_place[0], []).append(old_place[1])
                if new_place is not None:
                    added.setdefault(new_place[0], []).append(new_place[1])
        lanes = {**self.lanes}
        for lane in removed.keys() | added.keys():
            lanes[lane] = _moved(lanes.get(lane, ()), removed.get(lane, []), added.get(lane, []))
            if not lanes[lane]:
                del lanes[lane]
        return TaskIndex(
            MappingProxyType(lanes),
            self.dependents if dependents is None else MappingProxyType(dependents),
            {phase: n for phase, n in open_phases.items() if n > 0},
            {status: n for status, n in statuses.items() if n > 0},
            frozenset(dispatched),
        )

    def lowest_open_phase(self) -> int | None:
        """The lowest phase that still has an unsettled task: no later phase may start."""
        return min(self.open_phases, default=None)

    def heads(self, lanes: Iterable[Lane], skip: set[str]) -> Iterable[Entry]:
        """The best entry of each lane that is not in `skip`."""
        for lane in lanes:
            entry = next((e for e in self.lanes.get(lane, ()) if e[-1] not in skip), None)
            if entry is not None:
                yield entry

    def holds(self, task: TaskState) -> bool:
        """Is the task among the startable ones (but for its phase)?"""
        entries, entry = self.lanes.get(lane_of(task), ()), (*best_first(task), task.id)
        at = bisect_left(entries, entry)
        return at < len(entries) and entries[at] == entry

    def count(self, statuses: Iterable[str]) -> int:
        return sum(self.statuses.get(status, 0) for status in statuses)


def _moved(lane: tuple[Entry, ...], removed: list[Entry], added: list[Entry]) -> tuple[Entry, ...]:
    if len(removed) + len(added) > _REBUILD:
        gone = set(removed)
        return tuple(sorted([e for e in lane if e not in gone] + added))
    entries = list(lane)
    for entry in removed:
        del entries[bisect_left(entries, entry)]
    for entry in added:
        insort(entries, entry)
    return tuple(entries)

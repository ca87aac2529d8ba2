"""The queue set: every queue file at once, checked across files, and merged with the last
good version of each file while the daemon runs."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ..adapters import forked
from ..errors import ConfigError, Problem
from .settings import (
    ANY_AGENT,
    CONFIG_NAME,
    Settings,
    Task,
    board_problems,
    load_settings,
    queue_files,
    read_queue,
)

# --------------------------------------------------------------------------- cross-file checks

_PLAYBOOK_REF = re.compile(r"@([\w./-]+?)/([\w.-]+?)\.md\b")


def cross_check(
    tasks: list[Task], settings: Settings, invalid: Iterable[str] = ()
) -> list[Problem]:
    """Problems that need every queue file at once: duplicates, agents, deps, cycles, playbooks.
    `invalid`: ids of tasks whose own problems were said (a dependency on one is not unknown)."""
    invalid = set(invalid)
    problems: list[Problem] = []
    by_id: dict[str, Task] = {}
    agent_names = {a.name for a in settings.agents}
    for task in tasks:
        if agent_names and task.agent != ANY_AGENT and task.agent not in agent_names:
            hint = difflib.get_close_matches(task.agent, sorted(agent_names), n=1)
            fix = f"did you mean {hint[0]!r}?" if hint else "declare it under agents:"
            problems.append(
                Problem(
                    task.file,
                    task.line,
                    f"task {task.id}: unknown agent {task.agent!r} "
                    f"(orchestrate.yaml declares {', '.join(sorted(agent_names))}): {fix}",
                )
            )
        if task.id in by_id:
            first = by_id[task.id]
            problems.append(
                Problem(
                    task.file,
                    task.line,
                    f"duplicate task id {task.id!r} (first defined at {first.file}:{first.line}): "
                    "ids are unique across all queue files",
                )
            )
            continue
        by_id[task.id] = task
    for task in by_id.values():
        for dep in task.after:
            if dep in invalid:
                continue
            if dep not in by_id:
                problems.append(
                    Problem(
                        task.file,
                        task.line,
                        f"task {task.id}: 'after' names unknown task {dep!r}",
                    )
                )
            elif (
                task.phase is not None
                and by_id[dep].phase is not None
                and by_id[dep].phase > task.phase  # type: ignore[operator]
            ):
                problems.append(
                    Problem(
                        task.file,
                        task.line,
                        f"task {task.id} (phase {task.phase}) waits for {dep} "
                        f"(phase {by_id[dep].phase}), which cannot start before phase "
                        f"{task.phase} is done: lower {dep}'s phase or drop the dependency",
                    )
                )
        problems.extend(_playbook_problems(task, settings))
    problems.extend(_cycles(by_id))
    return problems


def _playbook_problems(task: Task, settings: Settings) -> Iterable[Problem]:
    library_name = settings.library.name
    wanted = [(name, "uses") for name in task.uses]
    for match in _PLAYBOOK_REF.finditer(task.prompt):
        if Path(match.group(1)).name == library_name:
            wanted.append((match.group(2), "prompt"))
    seen: set[str] = set()
    for name, where in wanted:
        if name in seen:
            continue
        seen.add(name)
        if not (settings.library / f"{name}.md").is_file():
            yield Problem(
                task.file,
                task.line,
                f"task {task.id}: playbook {name!r} (in {where}) not found: "
                f"create {settings.library.name}/{name}.md or fix the name",
            )


def _cycles(by_id: Mapping[str, Task]) -> list[Problem]:
    """Every dependency cycle once, spelled out `A -> B -> A`."""
    white, grey, black = 0, 1, 2
    color = dict.fromkeys(by_id, white)
    problems: list[Problem] = []
    reported: set[frozenset[str]] = set()

    for start in by_id:
        if color[start] != white:
            continue
        stack: list[tuple[str, int]] = [(start, 0)]
        path: list[str] = [start]
        color[start] = grey
        while stack:
            node, index = stack[-1]
            deps = [d for d in by_id[node].after if d in by_id]
            if index < len(deps):
                stack[-1] = (node, index + 1)
                dep = deps[index]
                if color[dep] == grey:
                    cycle = [*path[path.index(dep) :], dep]
                    key = frozenset(cycle)
                    if key not in reported:
                        reported.add(key)
                        first = by_id[cycle[0]]
                        problems.append(
                            Problem(
                                first.file,
                                first.line,
                                "dependency cycle: "
                                + " -> ".join(cycle)
                                + " (each waits for the next through 'after'): break one link",
                            )
                        )
                elif color[dep] == white:
                    color[dep] = grey
                    stack.append((dep, 0))
                    path.append(dep)
            else:
                color[node] = black
                stack.pop()
                path.pop()
    return problems


# --------------------------------------------------------------------------- the whole workspace


@dataclass(frozen=True)
class QueueSet:
    """The tasks in force, per file, and what is wrong with the files on disk."""

    by_file: Mapping[Path, tuple[Task, ...]]
    problems: tuple[Problem, ...]

    @property
    def tasks(self) -> list[Task]:
        return [t for file in sorted(self.by_file) for t in self.by_file[file]]


def merge_queues(
    settings: Settings,
    fresh: Mapping[Path, list[Task] | ConfigError],
    last_good: Mapping[Path, tuple[Task, ...]],
) -> QueueSet:
    """Combine freshly read files with the last good version of each.

    A file that does not parse, or whose tasks clash with the other files, keeps its
    last good version in force (none, if it never was good); its problems are returned.
    A file that disappeared is dropped from the set (its tasks stay in the state store).
    """
    problems: list[Problem] = []
    in_force: dict[Path, tuple[Task, ...]] = {}
    changed: set[Path] = set()
    for file, result in fresh.items():
        if isinstance(result, ConfigError):
            problems.extend(result.problems)
            if file in last_good:
                in_force[file] = last_good[file]
        else:
            in_force[file] = tuple(result)
            if last_good.get(file) != in_force[file]:
                changed.add(file)
    # Cross-file problems: blame changed files first and roll them back, then re-check.
    for _ in range(len(in_force) + 1):
        cross = cross_check(_flatten(in_force), settings)
        if not cross:
            break
        culprits = {p.file for p in cross} & changed
        if not culprits:
            problems.extend(cross)
            break
        problems.extend(p for p in cross if p.file in culprits)
        for file in culprits:
            changed.discard(file)
            if file in last_good:
                in_force[file] = last_good[file]
            else:
                del in_force[file]
    return QueueSet(by_file=in_force, problems=tuple(dict.fromkeys(problems)))


class InForce:
    """The queue files while the daemon runs: the tasks in force, a broken file's last good
    version kept; its problems journaled when they change, and once when they are gone."""

    def __init__(self, settings: Settings, journal: Callable[[str, str], None]) -> None:
        self.settings = settings
        self.journal = journal  # (kind, message)
        self.last_good: dict[Path, tuple[Task, ...]] = {}
        self.problems: tuple[str, ...] = ()  # as last journaled
        self.read_as: dict[Path, tuple[int, ...]] = {}  # the files as they were at the last read

    def read(self, starting: bool = False) -> list[Task]:
        """The tasks in force. At start there is no last good version: ConfigError with every
        problem (the start is refused)."""
        self.read_as = _fingerprint(self.settings)  # before the read: a write during it shows
        queues = merge_queues(
            self.settings, read_all(self.settings, self.last_good), self.last_good
        )
        if starting and queues.problems:
            raise ConfigError(list(queues.problems))
        self.last_good = dict(queues.by_file)
        problems = tuple(str(p) for p in queues.problems)
        if problems != self.problems:
            for problem in problems:
                self.journal("queue-error", f"{problem} (last good version kept)")
            if self.problems and not problems:
                self.journal("queue-ok", "queue files are valid again")
        self.problems = problems
        return queues.tasks

    def changed(self) -> bool:
        """Has a queue file been written, made or removed since the last read began? (Asked
        once the watch on the folder has started: a write before it would go unseen.)"""
        return _fingerprint(self.settings) != self.read_as


def _fingerprint(settings: Settings) -> dict[Path, tuple[int, ...]]:
    found: dict[Path, tuple[int, ...]] = {}
    for file in queue_files(settings):
        try:
            st = file.stat()
        except OSError:
            found[file] = ()
            continue
        found[file] = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    return found


def _flatten(by_file: Mapping[Path, tuple[Task, ...]]) -> list[Task]:
    return [t for file in sorted(by_file) for t in by_file[file]]


def read_all(
    settings: Settings, in_force: Mapping[Path, tuple[Task, ...]] | None = None
) -> dict[Path, list[Task] | ConfigError]:
    """Every queue file, read; a task equal to its version `in_force` is that very object.

    With `in_force` (the daemon's reads, its first one included), the files are parsed in
    a child process, which sends back only the tasks that changed (an unchanged one by its
    id): the parse's garbage, and the copies of unchanged tasks, never live in this process,
    so a daemon's memory after any number of reloads stays that of one load (freed copies
    would leave the allocator's arenas partly used). A command that reads once and exits
    (`check`, `status`, `add`) reads here: a child would only cost it a fork.
    """
    before = in_force or {}

    def read() -> dict[Path, _Sent]:
        return _changes(settings, before)

    sent = read() if in_force is None else forked.run(read)
    return {file: _kept(result, before.get(file, ())) for file, result in sent.items()}


_Sent = list[Task | str] | ConfigError  # a task, or the id of its unchanged version in force


def _changes(settings: Settings, in_force: Mapping[Path, tuple[Task, ...]]) -> dict[Path, _Sent]:
    sent: dict[Path, _Sent] = {}
    for file in queue_files(settings):
        try:
            fresh = read_queue(file)
        except ConfigError as exc:
            sent[file] = exc
            continue
        old = {t.id: t for t in in_force.get(file, ())}
        sent[file] = [t.id if old.get(t.id) == t else t for t in fresh]
    return sent


def _kept(sent: _Sent, before: tuple[Task, ...]) -> list[Task] | ConfigError:
    if isinstance(sent, ConfigError):
        return sent
    old = {t.id: t for t in before}
    return [old[t] if isinstance(t, str) else t for t in sent]


def check_workspace(root: Path, board: bool = True) -> tuple[Settings | None, list[Problem]]:
    """Everything `orchestrate check` reports, in file order; without the board's problems
    if not `board` (what refuses a start: a board that is not a file is waited for)."""
    settings, problems, _ = inspect_workspace(root, board)
    return settings, problems


def inspect_workspace(
    root: Path, board: bool = True
) -> tuple[Settings | None, list[Problem], list[Task]]:
    """The settings, every problem, and the tasks of the files that parse (each file read
    once)."""
    try:
        settings = load_settings(root)
    except ConfigError as exc:
        return None, list(exc.problems), []
    problems: list[Problem] = []
    if not settings.queues.is_dir():
        problems.append(
            Problem(
                settings.config_file or settings.root / CONFIG_NAME,
                1,
                f"queue folder {settings.queues} does not exist: create it or fix 'queues:'",
            )
        )
    if board:
        problems.extend(board_problems(settings))
    tasks: list[Task] = []
    invalid: set[str] = set()
    for result in read_all(settings).values():
        if isinstance(result, ConfigError):  # its valid tasks are checked with the others
            problems.extend(result.problems)
            tasks.extend(t for t in result.valid if isinstance(t, Task))
            invalid |= result.invalid_ids
        else:
            tasks.extend(result)
    problems.extend(cross_check(tasks, settings, invalid))
    problems.sort(key=lambda p: (str(p.file), p.line))
    return settings, problems, tasks


def load_workspace(root: Path) -> tuple[Settings, QueueSet]:
    """Settings and queues, or ConfigError listing every problem."""
    settings, problems = check_workspace(root)
    if problems or settings is None:
        raise ConfigError(problems)
    return settings, merge_queues(settings, read_all(settings), {})

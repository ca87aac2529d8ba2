"""orchestrate.yaml and queues/*.yaml read into the frozen values the program runs on: the
:class:`Settings` and its agents, each queue file's tasks. The files are read with their line
numbers (yamlsrc.py) and checked by the models (models.py); every problem becomes a
:class:`Problem` (`FILE:LINE: message`) here, at the edge."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..board import file_problem
from ..core.task import ANY_AGENT as ANY_AGENT
from ..core.task import PRIORITIES as PRIORITIES
from ..core.task import Task as Task
from ..errors import ConfigError, Problem
from ..paths import CONFIG_NAME as CONFIG_NAME
from ..paths import find_root as find_root
from ..paths import is_a_link as is_a_link
from ..paths import refuse_link as refuse_link
from . import yamlsrc
from .models import (
    ConfigModel,
    QueueModel,
    ScreenModel,
    SubmitModel,
    TaskModel,
    valid_task,
    validate_model,
)
from .notation import parse_duration

DAEMON_WINDOW = "orchestrator"  # the tmux window `start --detach` runs the daemon in


# --------------------------------------------------------------------------- frozen values


@dataclass(frozen=True)
class Agent:
    name: str
    window: int | str
    command: str | None
    profile: str
    # orchestrate.yaml's overrides of the profile, as given (validated, merged by screen.py)
    submit: tuple[tuple[str, float], ...] = ()
    screen: tuple[tuple[str, tuple[str, ...]], ...] = ()
    restart: bool = False
    on_permission: str = "wait"
    rate_limit_pause: float = 900.0


@dataclass(frozen=True)
class Settings:
    root: Path
    config_file: Path | None
    session: str
    socket: str | None
    workdir: Path
    board: Path
    queues: Path
    library: Path
    status_file: Path
    agents: tuple[Agent, ...]
    stall_after: float = 900.0
    notify: tuple[str, ...] = ()

    @property
    def state_dir(self) -> Path:
        """`.orchestrate/`; a symbolic link there is refused (see refuse_link)."""
        return refuse_link(self.root / ".orchestrate")

    def agent(self, name: str) -> Agent | None:
        return next((a for a in self.agents if a.name == name), None)


# --------------------------------------------------------------------------- loading


MAX_FILE_BYTES = 16 * 1024 * 1024  # a queue of 10,000 tasks with long prompts fits


def _read(file: Path) -> str:
    try:
        size = file.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ConfigError(
                [
                    Problem(
                        file,
                        1,
                        f"{size / 2**20:.0f} MB: a file may be at most "
                        f"{MAX_FILE_BYTES // 2**20} MB; split it into several queue files",
                    )
                ]
            )
        data = file.read_bytes()
    except OSError as exc:
        raise ConfigError([Problem(file, 1, f"cannot read: {exc.strerror}")]) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(
            [Problem(file, line, f"not UTF-8 text (byte {exc.start}): save the file as UTF-8")]
        ) from None


def load_settings(root: Path) -> Settings:
    file = root / CONFIG_NAME
    if file.is_file():
        located = yamlsrc.load(_read(file), file)
        cfg: ConfigModel = validate_model(ConfigModel, located, file)
        if problems := _window_problems(cfg, located, file):
            raise ConfigError(problems)
        config_file: Path | None = file
    else:
        cfg, config_file = ConfigModel(), None
    agents = tuple(
        Agent(
            name=name,
            window=model.window if model.window is not None else name,
            command=model.command,
            profile=model.profile,
            submit=tuple(
                (k, v)
                for k, v in (model.submit or SubmitModel()).model_dump().items()
                if v is not None
            ),
            screen=tuple(
                (k, tuple(v))
                for k, v in (model.screen or ScreenModel()).model_dump().items()
                if v is not None
            ),
            restart=model.restart,
            on_permission=model.on_permission,
            rate_limit_pause=parse_duration(model.rate_limit_pause),
        )
        for name, model in cfg.agents.items()
    )
    return Settings(
        root=root,
        config_file=config_file,
        session=cfg.session or _session_name(root.name),
        socket=cfg.socket,
        workdir=(root / cfg.workdir).resolve(),
        board=root / cfg.board,
        queues=root / cfg.queues,
        library=root / cfg.library,
        status_file=root / cfg.status_file,
        agents=agents,
        stall_after=parse_duration(cfg.stall_after),
        notify=tuple(cfg.notify),
    )


def board_problems(settings: Settings) -> list[Problem]:
    """The board, where it exists, must be a regular file: a FIFO would hang its reader."""
    why = file_problem(settings.board)
    if why is None:
        return []
    if settings.config_file is None:
        return [Problem(settings.board, 1, why)]
    located = yamlsrc.load(_read(settings.config_file), settings.config_file)
    line = located.line_of(("board",))
    return [Problem(settings.config_file, line, f"board: {why}, or name another in 'board:'")]


def _window_problems(cfg: ConfigModel, located: yamlsrc.Located, file: Path) -> list[Problem]:
    """Each agent in a window of its own, and none in the daemon's."""
    problems: list[Problem] = []
    owners: dict[str, str] = {}
    for name, agent in cfg.agents.items():
        window = str(agent.window if agent.window is not None else name)
        line = located.line_of(("agents", name, "window"))  # else the agent's own line
        if window == DAEMON_WINDOW:
            why = f"the window {DAEMON_WINDOW!r} is the daemon's own (`start --detach`)"
            problems.append(Problem(file, line, f"agent {name}: {why}: give it another `window:`"))
        elif window in owners:
            problems.append(
                Problem(
                    file,
                    line,
                    f"agent {name}: the window {window!r} is agent {owners[window]}'s too: both "
                    "would be typed into one pane; give each its own `window:`",
                )
            )
        owners.setdefault(window, name)
    return problems


def _session_name(folder: str) -> str:
    # tmux turns '.' and ':' into '_' in session names; do it ourselves so lookups match.
    return re.sub(r"[.:]", "_", folder) or "orchestrate"


def parse_queue(text: str, file: Path) -> list[Task]:
    """One queue file's text -> its tasks, in file order. Raises ConfigError, which holds
    the tasks that are valid all the same (for `check`: the problems across files they
    have are found in the same run)."""
    located = yamlsrc.load(text, file)
    try:
        queue: QueueModel = validate_model(QueueModel, located, file)
    except ConfigError as exc:
        raise ConfigError(exc.problems, *_valid_ones(located, file)) from None
    return [_task(model, index, located, file) for index, model in enumerate(queue.tasks)]


def _valid_ones(located: yamlsrc.Located, file: Path) -> tuple[list[Task], set[str]]:
    """The tasks of a file that does not validate that are valid on their own, and the ids
    of the others (so that a task waiting for one is not said to wait for nothing)."""
    items = located.data.get("tasks") if isinstance(located.data, dict) else None
    valid: list[Task] = []
    others: set[str] = set()
    for index, item in enumerate(items if isinstance(items, list) else []):
        if (model := valid_task(item)) is not None:
            valid.append(_task(model, index, located, file))
        elif isinstance(item, dict) and isinstance(item.get("id"), str):
            others.add(item["id"])
    return valid, others


def _task(model: TaskModel, index: int, located: yamlsrc.Located, file: Path) -> Task:
    return Task(
        id=model.id,
        title=model.title or _first_line(model.prompt),
        agent=model.agent,
        priority=model.priority,
        phase=model.phase,
        after=tuple(model.after),
        estimate=parse_duration(model.estimate) if model.estimate is not None else None,
        uses=tuple(model.uses),
        prompt=model.prompt,
        report=tuple(model.report),
        validate=tuple(model.validate_),
        retries=model.retries,
        file=file,
        line=located.line_of(("tasks", index)),
        timeout=parse_duration(model.timeout),
    )


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line[:60]


def queue_files(settings: Settings) -> list[Path]:
    if not settings.queues.is_dir():
        return []
    # A link to nowhere is listed too, so that it is reported as unreadable, not skipped.
    return sorted(
        p
        for p in settings.queues.iterdir()
        if p.suffix in (".yaml", ".yml") and (p.is_file() or (p.is_symlink() and not p.exists()))
    )


def read_queue(file: Path) -> list[Task]:
    return parse_queue(_read(file), file)


def agents_for(settings: Settings, tasks: Iterable[Task]) -> tuple[Agent, ...]:
    """Declared agents, or (with none declared) one per agent name used by the queues."""
    if settings.agents:
        return settings.agents
    names = dict.fromkeys(t.agent for t in tasks if t.agent != ANY_AGENT)
    return tuple(Agent(name=n, window=n, command=None, profile="generic") for n in names)

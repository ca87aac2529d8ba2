"""orchestrate.yaml and queues/*.yaml: YAML -> pydantic (extra=forbid) -> frozen objects.

Every problem becomes a :class:`Problem` (`FILE:LINE: message`) here, at the edge.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

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

TASK_ID = r"[A-Za-z0-9][A-Za-z0-9_.-]*"
DAEMON_WINDOW = "orchestrator"  # the tmux window `start --detach` runs the daemon in

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


def _a_duration(value: str | int | float) -> str | int | float:
    parse_duration(value)  # raises ValueError with what to write instead
    return value


# A duration as written in a file (`90s`, `30m`, `2h`, `1h30m`, seconds), checked on load.
Duration = Annotated[str | int | float, AfterValidator(_a_duration)]


# --------------------------------------------------------------------------- models (border)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SubmitModel(_Model):
    gap: float | None = Field(default=None, ge=0, description="seconds between paste and Enter")
    settle: float | None = Field(
        default=None, ge=0, description="seconds the agent must look ready before a first prompt"
    )
    quiet: float | None = Field(
        default=None,
        ge=0,
        description="seconds its screen (generic: its output) must have been still for its turn "
        "to count as ended when no turn_end line shows",
    )


class ScreenModel(_Model):
    """Regular expressions (Python syntax) searched in the visible screen of the pane."""

    idle: list[str] | None = None
    busy: list[str] | None = None
    waiting: list[str] | None = None
    starting: list[str] | None = None
    rate_limited: list[str] | None = None
    pending: list[str] | None = None
    turn_end: list[str] | None = None  # the end of its latest turn, e.g. Codex's "Worked for"

    @field_validator("*")
    @classmethod
    def _compiles(cls, value: list[str] | None) -> list[str] | None:
        for pattern in value or []:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"{pattern!r} is not a regular expression: {exc}") from None
        return value


class ProfileModel(_Model):
    """A file of orchestrator/profiles/: how to start, feed and read one agent CLI."""

    command: str | None = None
    submit: SubmitModel = Field(default_factory=SubmitModel)
    screen: ScreenModel = Field(default_factory=ScreenModel)
    approve: list[str] = Field(default_factory=list)


class AgentModel(_Model):
    window: int | str | None = Field(
        default=None, description="window index or name in the session (default: the agent name)"
    )
    command: str | None = Field(
        default=None, description="started in a window that had to be created"
    )
    profile: Literal["claude", "codex", "gemini", "qwen", "opencode", "aider", "generic", "sim"] = (
        "generic"
    )
    submit: SubmitModel | None = Field(default=None, description="overrides the profile's")
    screen: ScreenModel | None = Field(default=None, description="overrides the profile's")
    restart: bool = Field(
        default=False, description="start `command` again when the agent's program exits"
    )
    on_permission: Literal["wait", "approve"] = Field(
        default="wait", description="wait for a person on a permission dialog, or approve it"
    )
    rate_limit_pause: Duration = Field(
        default="15m",
        description="how long a usage-limit notice holds the agent when it shows no reset time",
    )


class ConfigModel(_Model):
    session: str | None = None
    socket: str | None = None
    workdir: str = "."
    board: str = "CLAUDE.md"
    queues: str = "queues"
    library: str = "agents_library"
    status_file: str = "ORCHESTRATOR_STATUS.md"
    notify: list[str] = Field(
        default_factory=list,
        description="commands run with each notable event as JSON on stdin",
    )
    stall_after: Duration = Field(
        default="15m", description="flag a task whose agent shows no output and no report this long"
    )
    agents: dict[str, AgentModel] = Field(default_factory=dict)

    @field_validator("agents", mode="before")
    @classmethod
    def _agents_not_null(cls, value: Any) -> Any:
        # `codex:` with nothing under it means "all defaults".
        if isinstance(value, dict):
            return {k: ({} if v is None else v) for k, v in value.items()}
        return value

    @field_validator("agents")
    @classmethod
    def _agent_names(cls, value: dict[str, AgentModel]) -> dict[str, AgentModel]:
        for name in value:
            if name == ANY_AGENT:
                raise ValueError("'any' is reserved for tasks that any agent may take")
            if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
                raise ValueError(f"agent name {name!r}: use letters, digits, '_', '.', '-'")
        return value


Priority = Annotated[str, Field(description="critical > blocking > high > medium > low")]


class TaskModel(_Model):
    id: str = Field(pattern=f"^{TASK_ID}$")
    title: str = ""
    agent: str
    priority: Priority = "medium"
    phase: int | None = Field(default=None, ge=0)
    after: list[str] = Field(default_factory=list)
    estimate: Duration | None = None
    uses: list[str] = Field(default_factory=list)
    prompt: str = Field(min_length=1)
    report: list[str] = Field(default_factory=list)
    validate_: list[str] = Field(default_factory=list, alias="validate")
    retries: int = Field(default=1, ge=0)
    timeout: Duration = Field(default="10m", description="how long each validate command may run")

    @field_validator("id", mode="before")
    @classmethod
    def _id(cls, value: Any) -> Any:
        if isinstance(value, str) and not re.fullmatch(TASK_ID, value):
            bad = next((c for c in value if not re.fullmatch(r"[A-Za-z0-9_.-]", c)), None)
            why = f"{bad!r} is not allowed" if bad else "it must start with a letter or digit"
            raise ValueError(
                f"{value!r} is not an id: {why}; an id is ASCII letters, digits, '_', '.' "
                "and '-', starting with a letter or digit (e.g. AUTO-001)"
            )
        return value

    @field_validator("priority")
    @classmethod
    def _priority(cls, value: str) -> str:
        return priority_of(value)

    @field_validator("after", mode="before")
    @classmethod
    def _after_scalar(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class QueueModel(_Model):
    tasks: list[TaskModel] = Field(default_factory=list)

    @field_validator("tasks", mode="before")
    @classmethod
    def _no_tasks_yet(cls, value: Any) -> Any:
        return [] if value is None else value  # `tasks:` alone: an empty queue


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


# The member types pydantic names at the end of a location when no member of a union fits.
_UNION_MEMBERS = {"int": "number", "str": "text", "float": "number", "bool": "true/false"}


def _pydantic_problems(
    exc: ValidationError, located: yamlsrc.Located, file: Path, root: type[BaseModel]
) -> list[Problem]:
    problems: list[Problem] = []
    unions: dict[tuple[Any, ...], list[str]] = {}
    for err in exc.errors():
        loc = tuple(err["loc"])
        if len(loc) > 1 and str(loc[-1]) in _UNION_MEMBERS:
            unions.setdefault(loc[:-1], []).append(_UNION_MEMBERS[str(loc[-1])])
            continue
        line = located.line_of(loc)
        where = _describe_loc(loc, located.data)
        if err["type"] == "extra_forbidden":
            key = str(loc[-1])
            model = _model_at(loc[:-1]) if loc[:-1] else root
            allowed = [f.alias or n for n, f in model.model_fields.items()] if model else []
            hint = difflib.get_close_matches(key, allowed, n=1)
            fix = f"did you mean {hint[0]!r}?" if hint else f"allowed: {', '.join(allowed)}"
            problems.append(Problem(file, line, f"{where}unknown key {key!r}: {fix}"))
            continue
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] in ("model_type", "dict_type"):
            message = f"must be a mapping (key: value lines), not {type(err.get('input')).__name__}"
        if err["type"] == "missing":
            message = f"missing required key {str(loc[-1])!r}"
        elif loc and not (len(loc) == 2 and loc[0] == "tasks"):  # a list item has no key
            message = f"{str(loc[-1]).rstrip('_')!r}: {message}"
        problems.append(Problem(file, line, f"{where}{message}"))
    for loc, kinds in unions.items():
        where = _describe_loc(loc, located.data)
        wanted = " or ".join(dict.fromkeys(kinds))
        problems.append(
            Problem(file, located.line_of(loc), f"{where}{str(loc[-1])!r}: must be {wanted}")
        )
    return problems


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    if loc == ():
        return None
    if loc[0] == "tasks" and len(loc) == 2:
        return TaskModel
    if loc[0] == "agents" and len(loc) == 2:
        return AgentModel
    return None


def _describe_loc(loc: tuple[Any, ...], data: Any) -> str:
    """`task AUTO-001: ` or `agent codex: ` for errors inside a list item or an agent."""
    if len(loc) >= 2 and loc[0] == "tasks" and isinstance(loc[1], int):
        try:
            task_id = data["tasks"][loc[1]].get("id")
        except (KeyError, IndexError, TypeError, AttributeError):
            task_id = None
        return f"task {task_id}: " if task_id else f"task #{loc[1] + 1}: "
    if len(loc) >= 2 and loc[0] == "agents":
        return f"agent {loc[1]}: "
    return ""


def validate_model(model: type[_Model], located: yamlsrc.Located, file: Path) -> Any:
    data = {} if located.data is None else located.data
    if not isinstance(data, dict):
        raise ConfigError([Problem(file, 1, "the file must be a mapping (key: value lines)")])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_pydantic_problems(exc, located, file, model)) from None


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
        try:
            valid.append(_task(TaskModel.model_validate(item), index, located, file))
        except ValidationError:
            if isinstance(item, dict) and isinstance(item.get("id"), str):
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


def schemas() -> dict[str, dict[str, Any]]:
    """The JSON Schemas of a queue file and of orchestrate.yaml, for editors."""
    queue = QueueModel.model_json_schema(by_alias=True)
    queue["title"] = "orchestrate queue file (queues/*.yaml)"
    workspace = ConfigModel.model_json_schema(by_alias=True)
    workspace["title"] = "orchestrate.yaml"
    return {"queue": queue, "orchestrate": workspace}

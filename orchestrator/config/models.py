"""The pydantic border: the models of orchestrate.yaml, of a queue file and of a profile
(extra=forbid, frozen), and pydantic's errors told as :class:`Problem` (`FILE:LINE: message`,
a near key suggested for an unknown one); the JSON Schemas editors read. The only pydantic
user: the settings turn what validates into frozen values."""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..core.task import ANY_AGENT
from ..errors import ConfigError, Problem
from . import yamlsrc
from .notation import TASK_ID, parse_duration, priority_of


def _a_duration(value: str | int | float) -> str | int | float:
    parse_duration(value)  # raises ValueError with what to write instead
    return value


# A duration as written in a file (`90s`, `30m`, `2h`, `1h30m`, seconds), checked on load.
Duration = Annotated[str | int | float, AfterValidator(_a_duration)]


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


# --------------------------------------------------------------------------- problems


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


def valid_task(item: Any) -> TaskModel | None:
    """One task of a queue file checked on its own: its model, or None if it does not validate."""
    try:
        return TaskModel.model_validate(item)
    except ValidationError:
        return None


def schemas() -> dict[str, dict[str, Any]]:
    """The JSON Schemas of a queue file and of orchestrate.yaml, for editors."""
    queue = QueueModel.model_json_schema(by_alias=True)
    queue["title"] = "orchestrate queue file (queues/*.yaml)"
    workspace = ConfigModel.model_json_schema(by_alias=True)
    workspace["title"] = "orchestrate.yaml"
    return {"queue": queue, "orchestrate": workspace}

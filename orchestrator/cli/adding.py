"""`orchestrate add`: a task appended to a queue file as text, so that the file's comments
and layout stay exactly as they were, and checked like `orchestrate check` before anything
is written. The write is atomic (a temporary file renamed over the queue file)."""

from __future__ import annotations

import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

from ..config import yamlsrc
from ..config.queueset import cross_check, read_all
from ..config.settings import Settings, Task, load_settings, parse_queue, queue_files
from ..errors import ConfigError, OrchestrateError, Problem

NEW_QUEUE = "# Tasks for orchestrate (orchestrate add appends here).\ntasks:\n"

_TASKS = re.compile(r"^tasks:[ \t]*(?:#.*)?$", re.MULTILINE)
_EMPTY_TASKS = re.compile(r"^tasks:[ \t]*\[[ \t]*\][ \t]*(?:#.*)?$", re.MULTILINE)
_ITEM = re.compile(r"^([ \t]*)- ", re.MULTILINE)


def read_prompt(prompt: str | None, prompt_file: Path | None) -> str:
    """The prompt given as text, or read from `prompt_file` ('-': stdin)."""
    if prompt_file is not None:
        return sys.stdin.read() if str(prompt_file) == "-" else prompt_file.read_text("utf-8")
    return prompt or ""


def add(
    root: Path,
    queue: Path | None,
    *,
    task_id: str,
    agent: str,
    prompt: str,
    title: str | None,
    priority: str | None,
    after: list[str],
    phase: int | None,
    uses: list[str],
    validate: list[str],
    report: list[str],
    estimate: str | None,
    retries: int | None,
) -> tuple[bool, str]:
    """The task the options give (those not given left out, `after` and `uses` split at
    commas) added to its queue file; whether it was, and what to say (on stderr if not)."""
    given: dict[str, object] = {
        "id": task_id,
        "title": title,
        "agent": agent,
        "priority": priority,
        "phase": phase,
        "after": listed(after) or None,
        "estimate": estimate,
        "uses": listed(uses) or None,
        "prompt": prompt,
        "report": list(report) or None,
        "validate": list(validate) or None,
        "retries": retries,
    }
    item = {k: v for k, v in given.items() if v is not None}
    settings = load_settings(root)
    try:
        file, task = add_task(settings, item, queue)
    except OrchestrateError as exc:
        return False, f"not added: {exc}"
    return True, f"added {task.id} to {file}:{task.line}"


def listed(values: list[str]) -> list[str]:
    """Repeated options and comma-separated ones alike: `--after A --after B`, `--after A,B`."""
    return [item.strip() for value in values for item in value.split(",") if item.strip()]


def target_file(settings: Settings, queue: Path | None) -> Path:
    """--queue FILE (a name in the queue folder, or a path), else the last queue file."""
    if queue is not None:
        return (
            queue if queue.is_absolute() or queue.parent != Path(".") else settings.queues / queue
        )
    files = queue_files(settings)
    return files[-1] if files else settings.queues / "tasks.yaml"


def append_item(text: str, item: dict[str, Any]) -> str:
    """The queue file's text with `item` added as the last task; every other line kept."""
    if _EMPTY_TASKS.search(text):
        text = _EMPTY_TASKS.sub("tasks:", text, count=1)
    if text and not text.endswith("\n"):
        text += "\n"
    header = _TASKS.search(text)
    if header is None:
        if re.search(r"^[^\s#]", text, re.MULTILINE):  # some other document
            why = "no 'tasks:' block list to append to ('tasks:' alone on its line, items below)"
            raise ConfigError([Problem(Path("?"), 1, why)])
        text += "tasks:\n"
        header = _TASKS.search(text)
        assert header is not None
    # `tasks` is the only key a queue file may have: the list runs to the end of the file
    first_item = _ITEM.search(text, header.end())
    indent = first_item.group(1) if first_item else "  "
    lines = yamlsrc.dump_item(item).splitlines(keepends=True)
    return text + "".join(indent + line if line.strip() else line for line in lines)


def add_task(settings: Settings, item: dict[str, Any], queue: Path | None) -> tuple[Path, Task]:
    """Append `item` to its queue file if the result passes every check; raise ConfigError
    (naming the file and line, and why) and write nothing otherwise."""
    file = target_file(settings, queue)
    old = file.read_text(encoding="utf-8") if file.exists() else NEW_QUEUE
    try:
        new = append_item(old, item)
    except ConfigError as exc:
        raise ConfigError([Problem(file, p.line, p.message) for p in exc.problems]) from None
    tasks = parse_queue(new, file)
    added = tasks[-1]
    if added.id != item["id"] or added.prompt != item["prompt"]:
        raise ConfigError([Problem(file, added.line, "could not append the task cleanly")])
    others: list[Task] = []
    for path, result in read_all(settings).items():
        if path != file and not isinstance(result, ConfigError):
            others.extend(result)
    before = {str(p) for p in cross_check([*others, *tasks[:-1]], settings)}
    fresh = [p for p in cross_check([*others, *tasks], settings) if str(p) not in before]
    if fresh:
        raise ConfigError(fresh)
    _write(file, new)
    return file, added


def _write(file: Path, text: str) -> None:
    file.parent.mkdir(parents=True, exist_ok=True)
    mode = file.stat().st_mode & 0o777 if file.exists() else 0o644
    fd, tmp = tempfile.mkstemp(dir=file.parent, prefix=f".{file.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, file)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

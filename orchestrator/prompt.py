"""Rendering a task into the one prompt an agent receives (SPEC section 3). Pure."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the simulated agent reads MARKER: it must load no settings machinery
    from .config.settings import Settings, Task

MARKER = re.compile(
    r"\[orchestrate (?P<id>[A-Za-z0-9][A-Za-z0-9_.-]*) #(?P<attempt>\d+)(?: (?P<kind>fields))?\]"
)
CLOSING = "If you cannot finish, write the same header with FAILED instead of COMPLETED (or BLOCKED"


def marker(task_id: str, attempt: int, kind: str = "prompt") -> str:
    """`[orchestrate AUTO-001 #2]`; a follow-up for missing fields adds ` fields`."""
    suffix = "" if kind == "prompt" else f" {kind}"
    return f"[orchestrate {task_id} #{attempt}{suffix}]"


def label(task_id: str, attempt: int, kind: str = "prompt") -> str:
    """How the journal names a delivery: `AUTO-001 #2`, or `AUTO-001 #2 fields`."""
    return f"{task_id} #{attempt}" + ("" if kind == "prompt" else f" {kind}")


def report_header(task_id: str) -> str:
    ref = task_id if task_id.upper().startswith("TODO-") else f"TODO-{task_id}"
    return f"### {ref}: COMPLETED ✅"


def board_name(settings: Settings) -> str:
    """The board as the agent should name it: relative to its working folder when inside."""
    try:
        return str(settings.board.resolve().relative_to(settings.workdir))
    except ValueError:
        return str(settings.board.resolve())


def render(task: Task, attempt: int, settings: Settings, agent: str, feedback: str = "") -> str:
    lines = [f"{marker(task.id, attempt)} {task.title}".rstrip(), ""]
    if feedback:
        lines += [
            f"This is attempt #{attempt} of this task. {feedback.strip()}",
            "",
            "Fix this, then report again with a new block, as asked at the end.",
            "",
            "The task:",
            "",
        ]
    lines += [task.prompt.strip(), ""]
    if task.uses:
        lines += [f"Use @{Path(settings.library.name) / name}.md" for name in task.uses]
        lines.append("")
    if task.validate:
        lines.append("Validation: the work is checked with these commands, which must all succeed:")
        lines += [f"- {command}" for command in task.validate]
        lines.append("")
    fields = ["Date", "Agent", *task.report]
    fields = list(dict.fromkeys(fields))
    lines.append(
        f"Reporting: when the work is done, append this block at the end of "
        f"{board_name(settings)}, with the header line exactly as written:"
    )
    lines.append("")
    lines.append(report_header(task.id))
    for name in fields:
        value = {"Date": "YYYY-MM-DD HH:MM", "Agent": agent}.get(name, "...")
        lines.append(f"**{name}**: {value}")
    lines.append("")
    lines.append(f"{CLOSING} if a person must act), and a **Reason**: line saying what went wrong.")
    return "\n".join(lines)


def render_followup(task: Task, attempt: int, settings: Settings, missing: tuple[str, ...]) -> str:
    """One message asking for the report fields a COMPLETED block lacked."""
    lines = [
        f"{marker(task.id, attempt, 'fields')} Your report for {task.id} lacks "
        f"{', '.join(missing)}.",
        f"Append a new block at the end of {board_name(settings)} with the same header and "
        "these fields:",
        "",
        report_header(task.id),
        *(f"**{name}**: ..." for name in missing),
        "",
        "The task is checked once they are there.",
    ]
    return "\n".join(lines)


def last_line(prompt: str) -> str:
    """The prompt's last non-empty line: what an input box shows while it is not submitted."""
    return next((line for line in reversed(prompt.splitlines()) if line.strip()), "")

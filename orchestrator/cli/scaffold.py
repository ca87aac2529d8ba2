"""`orchestrate init`: a workspace that passes `check` and runs at once with simulated
agents, until the user points its agents at real CLIs. Files that exist are left alone."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import sys
from importlib import resources
from pathlib import Path
from string import Template

from ..config.models import schemas
from ..config.settings import CONFIG_NAME
from ..errors import OrchestrateError
from ..paths import private_dir

SCHEMA_DIR = Path(".orchestrate") / "schema"


def _template(name: str) -> str:
    return resources.files("orchestrator.templates").joinpath(name).read_text(encoding="utf-8")


def _sim(name: str) -> str:
    """How a simulated agent starts: with the installed `orchestrate`, else this Python."""
    program = shutil.which("orchestrate")
    argv = [program] if program else [sys.executable, "-m", "orchestrator"]
    return shlex.join([*argv, "sim-agent", "--name", name, "--board", "CLAUDE.md"])


def write_schemas(root: Path) -> list[Path]:
    private_dir(root / ".orchestrate")  # a link planted there is refused, not followed
    folder = private_dir(root / SCHEMA_DIR)
    written = []
    for name, schema in schemas().items():
        path = folder / f"{name}.schema.json"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(schema, indent=2, ensure_ascii=False) + "\n")
        written.append(path)
    return written


def create(folder: Path, socket: str | None) -> tuple[bool, list[str]]:
    """`init`: `folder` scaffolded. Whether it was, and the lines to print: the files written
    and what to do next, or why not (on stderr)."""
    root = folder.resolve()
    try:
        written = init(root, socket)
    except OrchestrateError as exc:
        return False, [str(exc)]
    on = f"-C {folder} " if root != Path.cwd() else ""
    return True, [
        *(f"wrote {path.relative_to(root)}" for path in written),
        f"next: orchestrate {on}check, then orchestrate {on}start",
        "its two agents are simulated: edit orchestrate.yaml to point them at real CLIs",
    ]


def init(root: Path, socket: str | None) -> list[Path]:
    """Scaffold `root`; the paths written. Refuses a folder that is a workspace already."""
    if (root / CONFIG_NAME).exists():
        raise OrchestrateError(f"{root / CONFIG_NAME} exists: {root} is a workspace already")
    root.mkdir(parents=True, exist_ok=True)
    session = re.sub(r"[^A-Za-z0-9_-]+", "-", root.resolve().name).strip("-") or "orchestrate"
    files = {
        Path(CONFIG_NAME): Template(_template("orchestrate.yaml")).substitute(
            session=session,
            socket=json.dumps(socket) if socket else "null",
            builder=_sim("builder"),
            reviewer=_sim("reviewer"),
        ),
        Path("queues") / "example.yaml": _template("example.yaml"),
        Path("agents_library") / "example.md": _template("example.md"),
        Path("CLAUDE.md"): _template("CLAUDE.md"),
    }
    written = []
    for relative, text in files.items():
        path = root / relative
        if path.exists():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    ignore = root / ".gitignore"
    lines = ignore.read_text(encoding="utf-8").splitlines() if ignore.exists() else []
    if ".orchestrate/" not in lines and ".orchestrate" not in lines:
        ignore.write_text("\n".join([*lines, ".orchestrate/"]) + "\n", encoding="utf-8")
        written.append(ignore)
    return [*written, *write_schemas(root)]

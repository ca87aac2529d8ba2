"""`orchestrate status` while a daemon runs, answered from the snapshot it publishes.

The running daemon writes what `status --json` would print into `.orchestrate/status.json`
whenever it changes, under a line saying who wrote it and when (publish.py). `status --json`
prints it as it stands; `status` reads the rows back and renders them. That needs neither
the CLI framework nor the settings (typer, pydantic: most of a status's time), so this module
loads only the standard library and the rows. Whenever it cannot answer (another command or
option, no daemon running, no snapshot of the running one, a snapshot older than STALE
seconds, a file of another shape), it says so and the full CLI answers, as it always could.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..adapters.lock import holder
from ..errors import OrchestrateError
from ..paths import find_root
from ..views.rows import Snapshot, json_text, snapshot_from_status, status_json

PUBLISHED = "status.json"  # in the state folder
STALE = 15.0  # seconds: a snapshot older than this is not served (the store is read instead)
SHAPE = 1  # the version of the published file's shape


def published(snap: Snapshot, pid: int) -> str:
    """The text of the published file: a line saying who published it and when, then what
    `status --json` prints (so that it is printed as it stands)."""
    header: dict[str, object] = {"shape": SHAPE, "pid": pid, "at": time.time()}
    header |= {"now": snap.now, "started": snap.started, "board": snap.board}
    return json.dumps(header) + "\n" + json_text(status_json(snap)) + "\n"


def _command(argv: list[str]) -> tuple[Path | None, bool] | None:
    """(the workspace named by -C, --json) for `[-C DIR] status [--json]`, else None."""
    workspace: Path | None = None
    rest = list(argv)
    while rest and rest[0] != "status":
        option = rest.pop(0)
        if option in ("-C", "--workspace") and rest:
            workspace = Path(rest.pop(0))
        elif option.startswith("--workspace="):
            workspace = Path(option.partition("=")[2])
        elif option.startswith("-C") and len(option) > 2:
            workspace = Path(option[2:])
        else:
            return None
    if rest[:1] != ["status"] or rest[1:] not in ([], ["--json"]):
        return None
    return workspace, rest[1:] == ["--json"]


def _published(root: Path) -> tuple[dict[str, Any], str] | None:
    """The running daemon's published header and `status --json` text; None if it has none
    that is fresh."""
    folder = root / ".orchestrate"
    if folder.is_symlink() or not (folder / "state.db").is_file():
        return None  # the full CLI explains a link, or a state folder being restored
    pid = holder(folder / "daemon.lock")
    if pid is None:
        return None
    try:
        first, _, body = (folder / PUBLISHED).read_text(encoding="utf-8").partition("\n")
        header: Any = json.loads(first)
        if header.get("shape") != SHAPE or header.get("pid") != pid:
            return None  # another daemon's, or another version's
        if not 0 <= time.time() - float(header["at"]) <= STALE or not body:
            return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return header, body


def _snapshot(header: dict[str, Any], body: str) -> Snapshot | None:
    """The published snapshot, brought to now; None if its text is not of its shape."""
    now = time.time()
    try:
        snap = snapshot_from_status(json.loads(body), now, header["started"], str(header["board"]))
        then = float(header["now"])
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    if not snap.running:
        return None
    eta = None if snap.eta is None else max(0.0, snap.eta - (now - then))
    return replace(snap, eta=eta)


def status(argv: list[str]) -> bool:
    """Answer `status` from the published snapshot; False when the full CLI must."""
    command = _command(argv)
    if command is None:
        return False
    workspace, as_json = command
    try:
        root = find_root(workspace or Path.cwd())
    except (OrchestrateError, OSError):
        return False
    found = _published(root)
    if found is None:
        return False
    header, body = found
    if as_json:
        sys.stdout.write(body)
        sys.stdout.flush()
        return True
    snap = _snapshot(header, body)
    if snap is None:
        return False
    if sys.stdout.isatty():
        from ..views.dashboard import print_status  # rich: only to draw

        print_status(snap)
        sys.stdout.write("daemon: running\n")
    else:
        from ..views.plain import plain_status

        sys.stdout.write(plain_status(snap) + "daemon: running\n")
    sys.stdout.flush()
    return True

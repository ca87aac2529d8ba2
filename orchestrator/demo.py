"""`orchestrate demo`: both seed queues, simulated agents, a private tmux socket, no LLM."""

from __future__ import annotations

import os
import shlex
import shutil
import sys
import tempfile
from pathlib import Path

from . import yamlsrc
from .dashboard import LiveView, PlainView, View
from .errors import OrchestrateError

SOURCE = Path(__file__).resolve().parent.parent
SEED_QUEUES = ("auto-v4.yaml", "dispatch-batch.yaml")


def sim_command(name: str, board: Path, delay: float, write: str, *extra: str) -> str:
    """The shell line that starts a simulated agent with this Python."""
    argv = [
        sys.executable,
        "-m",
        "orchestrator",
        "sim-agent",
        "--name",
        name,
        "--board",
        str(board),
        "--delay",
        str(delay),
        "--write",
        write,
        *extra,
    ]
    return shlex.join(argv)


def make_workspace(folder: Path, socket: str, delay: float) -> Path:
    """A workspace in `folder` running the seed queues on two simulated agents."""
    for needed in ("queues", "agents_library", "CLAUDE.md"):
        if not (SOURCE / needed).exists():
            raise OrchestrateError(
                f"orchestrate demo needs {needed} from the source checkout ({SOURCE})"
            )
    (folder / "queues").mkdir(parents=True, exist_ok=True)
    for name in SEED_QUEUES:
        shutil.copy(SOURCE / "queues" / name, folder / "queues" / name)
    shutil.copytree(SOURCE / "agents_library", folder / "agents_library", dirs_exist_ok=True)
    board = folder / "CLAUDE.md"
    shutil.copy(SOURCE / "CLAUDE.md", board)
    settings = {
        "session": "orchestrate-demo",
        "socket": socket,
        "agents": {
            # As in the seeds: Antigravity in window 3, Codex in window 5. One saves the board
            # the way Claude Code's Edit tool does (rename over it), the other appends.
            "antigravity": {
                "window": 3,
                "command": sim_command("antigravity", board, delay, "rename"),
            },
            "codex": {"window": 5, "command": sim_command("codex", board, delay, "append")},
        },
    }
    (folder / "orchestrate.yaml").write_text(yamlsrc.dump(settings), encoding="utf-8")
    return folder


def run_demo(delay: float, keep: bool, plain: bool) -> int:
    from .cli import _run_daemon
    from .tmux import Tmux, server_for

    folder = Path(tempfile.mkdtemp(prefix="orchestrate-demo-"))
    socket = f"orchestrate-demo-{os.getpid()}"
    make_workspace(folder, socket, delay)
    view: View = PlainView() if plain else LiveView()
    print(f"demo workspace: {folder}")
    print(f"watch the agents: tmux -L {socket} attach -t orchestrate-demo")
    try:
        code = _run_daemon(folder, view, exit_when_done=True)
    finally:
        if not keep:
            Tmux(server_for(socket)).kill_server()
    print()
    status = (folder / "ORCHESTRATOR_STATUS.md").read_text(encoding="utf-8")
    if plain:  # the live dashboard already shows the final table
        print(status)
    finished = code == 0 and "**Queued**: 0" in status and "**Running**: 0" in status
    print("demo " + ("complete: every task done" if finished else "ended with unfinished tasks"))
    if keep:
        print(f"kept: {folder} and tmux -L {socket}")
    else:
        shutil.rmtree(folder, ignore_errors=True)
    return code if finished or code else 1

"""`orchestrate demo`: both seed queues, simulated agents, a private tmux socket, no LLM."""

from __future__ import annotations

import os
import shlex
import shutil
import sys
import tempfile
from pathlib import Path

from ..config import yamlsrc
from ..errors import OrchestrateError
from ..paths import PACKAGE_HOME
from ..views.dashboard import view_for

SOURCE = PACKAGE_HOME
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


def make_workspace(folder: Path, socket: str, delay: float, logs: Path | None = None) -> Path:
    """A workspace in `folder` running the seed queues on two simulated agents.

    With `logs`, each agent logs what it receives to `logs/NAME.jsonl` (for the tests).
    """

    def log(name: str) -> list[str]:
        return ["--log", str(logs / f"{name}.jsonl")] if logs else []

    for needed in ("queues", "agents_library", "CLAUDE.md"):
        if not (SOURCE / needed).exists():
            raise OrchestrateError(
                f"orchestrate demo needs {needed} from the source checkout ({SOURCE})"
            )
    (folder / "queues").mkdir(parents=True, exist_ok=True)
    for name in SEED_QUEUES:
        source = SOURCE / "queues" / name
        data = yamlsrc.load(source.read_text(encoding="utf-8"), source).data
        for task in data["tasks"]:
            # The seeds' checks need their Rust project; the demo shows where they would run.
            task["validate"] = [
                "echo " + shlex.quote(f"(demo) would run: {command}")
                for command in task.get("validate", [])
            ]
        (folder / "queues" / name).write_text(yamlsrc.dump(data), encoding="utf-8")
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
                "profile": "sim",
                # It reports AUTO-003 FAILED once, to show a retry with feedback.
                "command": sim_command(
                    "antigravity",
                    board,
                    delay,
                    "rename",
                    "--fail-once",
                    "AUTO-003",
                    *log("antigravity"),
                ),
            },
            "codex": {
                "window": 5,
                "profile": "sim",
                "command": sim_command("codex", board, delay, "append", *log("codex")),
            },
        },
    }
    (folder / "orchestrate.yaml").write_text(yamlsrc.dump(settings), encoding="utf-8")
    return folder


DEMO_TASKS = 6  # the most tasks one simulated agent takes in the demo (with the retry)


def _minutes(delay: float) -> str:
    """How long the demo takes, roughly: the busier agent's tasks, each `delay` and the
    settling around it."""
    seconds = DEMO_TASKS * (delay + 2.5)
    return f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f}s"


def run_demo(delay: float, keep: bool, plain: bool) -> int:
    from ..adapters.tmux import Tmux, server_for
    from .launch import run_daemon

    folder = Path(tempfile.mkdtemp(prefix="orchestrate-demo-"))
    socket = f"orchestrate-demo-{os.getpid()}"
    make_workspace(folder, socket, delay)
    view = view_for(plain)
    kept = "kept afterwards" if keep else "removed at the end; --keep keeps it"
    print(f"demo workspace: {folder} ({kept})")
    print(
        f"watch the agents from another terminal: tmux -L {socket} attach -t orchestrate-demo"
        f" (it runs about {_minutes(delay)}; each simulated agent works {delay:g}s a task)"
    )
    try:
        code = run_daemon(folder, view, exit_when_done=True)
    finally:
        if not keep:
            Tmux(server_for(socket)).kill_server()
    print()
    status = (folder / "ORCHESTRATOR_STATUS.md").read_text(encoding="utf-8")
    if plain:  # the live dashboard already shows the final table
        # Without --keep, the logs it names are about to go with the workspace.
        print(status if keep else status.split("**Validation logs**")[0].rstrip() + "\n")
    finished = code == 0 and "**Queued**: 0" in status and "**Running**: 0" in status
    print("demo " + ("complete: every task done" if finished else "ended with unfinished tasks"))
    if keep:
        print(f"kept: {folder} and tmux -L {socket}")
    else:
        shutil.rmtree(folder, ignore_errors=True)
    return code if finished or code else 1

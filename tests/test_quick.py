"""`status` while a daemon runs, from the snapshot it publishes (quick.py): the same answer as
the full CLI's, without loading typer or pydantic, and never a stale or foreign snapshot."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.adapters.lock import Lock
from orchestrator.cli import quick
from orchestrator.views.rows import AgentRow, Snapshot, TaskRow, status_json

from .conftest import Workspace, simple_tasks, wait_until

FULL = "import sys; from orchestrator.cli.commands import main; sys.argv[0] = 'orchestrate'; main()"


def full_cli(ws: Workspace, *args: str) -> subprocess.CompletedProcess[str]:
    """The full CLI, never the quick path."""
    return subprocess.run(
        [sys.executable, "-c", FULL, "-C", str(ws.root), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_status_while_a_daemon_runs_is_the_full_clis_answer_without_its_imports(
    workspace: Workspace,
) -> None:
    ws = workspace
    ws.sim_agents(["a", "b"], delay=0.2)
    ws.write_queue("q.yaml", simple_tasks("Q", ["a", "b"], 4))
    with ws.running():
        wait_until(lambda: set(ws.statuses().values()) == {"done"}, 90, "every task done")

        def same() -> bool:
            quick_out = ws.cli("status", "--json")
            full_out = full_cli(ws, "status", "--json")
            return quick_out.stdout == full_out.stdout and quick_out.returncode == 0

        wait_until(same, 30, "the published snapshot to match the store")
        traced = ws.cli("status", "--json", env={**os.environ, "PYTHONPROFILEIMPORTTIME": "1"})
        assert traced.returncode == 0
        imported = {line.rsplit("|", 1)[-1].strip() for line in traced.stderr.splitlines()}
        assert "orchestrator.cli.quick" in imported
        assert not {m for m in imported if m.split(".")[0] in ("typer", "pydantic", "rich")}
        assert json.loads(traced.stdout)["daemon"] == "running"

        piped = ws.cli("status")
        full = full_cli(ws, "status")
        assert piped.returncode == full.returncode == 0
        # the header's uptime may have ticked between the two
        assert piped.stdout.splitlines()[1:] == full.stdout.splitlines()[1:]
        assert piped.stdout.endswith("daemon: running\n")
    # The daemon is gone: its last snapshot is not served, the store is read.
    assert (ws.root / ".orchestrate" / quick.PUBLISHED).exists()
    assert ws.status()["daemon"] == "stopped"


def snap() -> Snapshot:
    row = TaskRow("T1", "title", "a", "high", "queued", 0, None, None, False, "", "q.yaml:1")
    return Snapshot("s", "/w", time.time(), (row,), (AgentRow("a", "idle", None, "a"),))


@pytest.fixture
def held(tmp_path: Path) -> Iterator[Path]:
    """A workspace whose lock this process holds, as a running daemon would."""
    (tmp_path / ".orchestrate").mkdir()
    (tmp_path / ".orchestrate" / "state.db").write_bytes(b"")
    lock = Lock(tmp_path / ".orchestrate" / "daemon.lock")
    lock.acquire()
    yield tmp_path
    lock.release()


def test_only_the_running_daemons_fresh_snapshot_is_served(held: Path) -> None:
    path = held / ".orchestrate" / quick.PUBLISHED
    path.write_text(quick.published(snap(), os.getpid()))
    found = quick._published(held)
    assert found is not None
    served = quick._snapshot(*found)
    assert served is not None and served.tasks[0].id == "T1" and served.agents[0].name == "a"
    assert json.loads(found[1]) == status_json(snap())

    path.write_text(quick.published(snap(), os.getpid() + 1))  # another daemon's
    assert quick._published(held) is None
    first, body = quick.published(snap(), os.getpid()).split("\n", 1)
    header = json.loads(first)
    for changed in ({"at": time.time() - quick.STALE - 1}, {"shape": quick.SHAPE + 1}):
        path.write_text(json.dumps({**header, **changed}) + "\n" + body)
        assert quick._published(held) is None, changed
    for garbage in ("", "{", "[]", '{"shape": 1}', first, first + "\n"):
        path.write_text(garbage)
        assert quick._published(held) is None, garbage
    data = json.loads(body)
    odd_row = json.dumps({**data, "tasks": [{**data["tasks"][0], "x": 1}]})
    for body_garbage in ("{", "[]", '{"tasks": 1}', odd_row):
        assert quick._snapshot(header, body_garbage) is None, body_garbage
    path.unlink()
    assert quick._published(held) is None


def test_only_a_plain_status_command_takes_the_quick_path() -> None:
    assert quick._command(["status"]) == (None, False)
    assert quick._command(["-C", "w", "status", "--json"]) == (Path("w"), True)
    assert quick._command(["--workspace=w", "status"]) == (Path("w"), False)
    assert quick._command(["-Cw", "status"]) == (Path("w"), False)
    for other in (
        [],
        ["start"],
        ["status", "--help"],
        ["-v", "status"],
        ["status", "--json", "x"],
        ["-C"],
        ["report", "status"],
    ):
        assert quick._command(other) is None, other

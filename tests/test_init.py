"""`orchestrate init`, then `check`, then a run with its simulated agents; `schema`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def orchestrate(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orchestrator", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_init_then_check_then_run(tmp_path: Path, socket_name: str) -> None:
    root = tmp_path / "new-project"
    made = orchestrate("init", str(root), "--socket", socket_name)
    assert made.returncode == 0, made.stderr
    for name in ("orchestrate.yaml", "queues/example.yaml", "agents_library/example.md"):
        assert f"wrote {name}" in made.stdout
    assert (root / ".gitignore").read_text() == ".orchestrate/\n"
    # editors find the schemas the files name
    for file, schema in (
        ("orchestrate.yaml", ".orchestrate/schema/orchestrate.schema.json"),
        ("queues/example.yaml", "../.orchestrate/schema/queue.schema.json"),
    ):
        first = (root / file).read_text().splitlines()[0]
        assert first == f"# yaml-language-server: $schema={schema}"
        assert json.loads(((root / file).parent / schema).read_text())["type"] == "object"
    checked = orchestrate("-C", str(root), "check")
    assert checked.returncode == 0 and "2 task(s)" in checked.stdout, checked.stdout
    ran = orchestrate("-C", str(root), "start", "--plain", "--exit-when-done", timeout=120)
    assert ran.returncode == 0, ran.stdout[-2000:] + ran.stderr
    status = json.loads(orchestrate("-C", str(root), "status", "--json").stdout)
    assert {t["id"]: t["status"] for t in status["tasks"]} == {"EX-001": "done", "EX-002": "done"}
    assert "### TODO-EX-002: COMPLETED" in (root / "CLAUDE.md").read_text()
    # the daemon's own files are private to the user, whoever made them
    assert orchestrate("-C", str(root), "retry", "EX-001").returncode == 1  # done: refused
    assert orchestrate("-C", str(root), "pause", "builder").returncode == 0  # queued
    private = [root / ".orchestrate", *(root / ".orchestrate").rglob("*")]
    assert len(private) > 6  # state.db, its -wal/-shm, lock, control, logs, schemas
    for path in private:
        mode = path.stat().st_mode & 0o777
        assert mode == (0o700 if path.is_dir() else 0o600), f"{path}: {oct(mode)}"
    again = orchestrate("init", str(root))
    assert again.returncode == 1 and "is a workspace already" in again.stderr


def test_schema_describes_the_files() -> None:
    queue = json.loads(orchestrate("schema", "queue").stdout)
    task = queue["$defs"]["TaskModel"]
    assert {"id", "agent", "prompt"} <= set(task["required"])
    assert "validate" in task["properties"] and task["additionalProperties"] is False
    workspace = json.loads(orchestrate("schema", "orchestrate").stdout)
    agent = workspace["$defs"]["AgentModel"]["properties"]
    assert "on_permission" in agent and "rate_limit_pause" in agent
    assert orchestrate("schema", "nope").returncode == 2

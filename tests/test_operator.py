"""The operator's seat: the daemon in its tmux window, attach, logs by agent."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator

import pytest
import yaml

from .conftest import Workspace, simple_tasks, wait_until


def tmux(socket: str, *args: str) -> str:
    return subprocess.run(
        ["tmux", "-L", socket, *args], capture_output=True, text=True, check=False
    ).stdout


def windows(ws: Workspace) -> list[str]:
    return tmux(ws.socket, "list-windows", "-t", "orch-test", "-F", "#{window_name}").split()


def test_detach_runs_the_daemon_in_its_window_beside_the_agents(workspace: Workspace) -> None:
    ws = workspace
    ws.sim_agents(["a", "b"])
    ws.write_queue("q.yaml", simple_tasks("T", ["a", "b"], 2))
    result = ws.cli("start", "--detach")
    assert result.returncode == 0, result.stderr
    assert "in tmux window 'orchestrator' of session orch-test" in result.stdout
    try:
        wait_until(lambda: set(ws.statuses().values()) == {"done"}, 60, "the tasks done")
        assert "orchestrator" in windows(ws) and {"a", "b"} <= set(windows(ws))
        # the dashboard is drawn in that window, read back from tmux
        screen = lambda: tmux(ws.socket, "capture-pane", "-p", "-t", "orch-test:orchestrator")  # noqa: E731
        wait_until(lambda: "T-000" in screen() and "T-001" in screen(), 20, "the dashboard")
        assert ws.status()["daemon"] == "running"
        again = ws.cli("start", "--detach")
        assert again.returncode == 1 and "a daemon already runs" in again.stderr
    finally:
        stopped = ws.cli("stop")
    assert stopped.returncode == 0, stopped.stderr
    wait_until(lambda: "orchestrator" not in windows(ws), 10, "the window to close")
    assert {"a", "b"} <= set(windows(ws))  # the agents keep running


@pytest.fixture
def terminal() -> Iterator[str]:
    """A second tmux server standing in for the person's terminal."""
    name = f"orch-term-{uuid.uuid4().hex[:8]}"
    yield name
    subprocess.run(["tmux", "-L", name, "kill-server"], capture_output=True, check=False)


def test_attach_shows_the_agents_window(workspace: Workspace, terminal: str) -> None:
    ws = workspace
    ws.sim_agents(["a", "b"])
    ws.write_queue("q.yaml", simple_tasks("T", ["a"], 1))
    assert ws.cli("start", "--plain", "--exit-when-done", timeout=60).returncode == 0
    command = shlex.join([sys.executable, "-m", "orchestrator", "-C", str(ws.root), "attach", "b"])
    tmux(
        terminal,
        "-f",
        "/dev/null",
        "new-session",
        "-d",
        "-s",
        "term",
        "-x",
        "120",
        "-y",
        "30",
        f"env -u TMUX {command}",
    )
    # the "terminal" now shows session orch-test on agent b's window
    wait_until(
        lambda: "sim-agent b" in tmux(terminal, "capture-pane", "-p", "-t", "term"),
        20,
        "agent b's screen in the terminal",
    )
    clients = tmux(ws.socket, "list-clients", "-F", "#{client_session} #{window_name}")
    assert clients.split() == ["orch-test", "b"]
    missing = ws.cli("attach", "nobody")
    assert missing.returncode == 1 and "no window for 'nobody'" in missing.stderr


def test_logs_by_agent(workspace: Workspace) -> None:
    ws = workspace
    ws.sim_agents(["a", "b"])
    ws.write_queue("q.yaml", simple_tasks("T", ["a", "b"], 2))
    assert ws.cli("start", "--plain", "--exit-when-done", timeout=60).returncode == 0
    log = ws.journal(agent="b")
    assert "T-001 -> b (attempt 1)" in log and "T-001 #1: done" in log
    assert "T-000" not in log


def test_watch_follows_a_daemon_in_a_real_pane(workspace: Workspace, terminal: str) -> None:
    ws = workspace
    ws.sim_agents(["a", "b"], delay=1.0)
    ws.write_queue("q.yaml", simple_tasks("W", ["a", "b"], 4))
    command = shlex.join([sys.executable, "-m", "orchestrator", "-C", str(ws.root), "watch"])
    with ws.running():
        tmux(terminal, "-f", "/dev/null", "new-session", "-d", "-s", "term", "-x", "80", "-y",
             "30", f"env -u TMUX {command}", ";", "set-option", "-t", "term", "remain-on-exit",
             "on")  # fmt: skip
        screen = lambda: tmux(terminal, "capture-pane", "-p", "-t", "term")  # noqa: E731

        def ended() -> str:
            """The screen once it shows the totals and the last event (from the journal),
            which may land in different redraws."""
            text = screen()
            return text if "4/4 done" in text and "every task is settled" in text else ""

        try:
            text = wait_until(ended, 60, "the watched dashboard to show the end")
        except AssertionError as e:  # what the person saw, even if `watch` died
            raise AssertionError(f"{e}; the screen:\n{screen()}") from None
    lines = text.splitlines()
    assert lines[0].startswith("orchestrate · orch-test · up ")
    assert all(f"W-00{i}" in text for i in range(4))
    assert any(line.startswith("a ") and "1:a" in line for line in lines)
    assert all(len(line) <= 80 for line in lines)
    assert "every task is settled: 4 done" in text  # the last events, from the journal


def test_the_operators_afternoon_without_a_restart(workspace: Workspace) -> None:
    """Issue 5's 'done when': start detached, pause an agent, add a task from the command
    line, retry a failed task, and be told when an agent waits for a person."""
    ws = workspace
    ws.sim_agents(["a", "b"], extra={"a": ["--fail-once", "F"], "b": ["--ask", "ASK"]})
    config = yaml.safe_load((ws.root / "orchestrate.yaml").read_text())
    notes = ws.root / "notes.jsonl"
    config["notify"] = [f"cat >> {notes}"]
    (ws.root / "orchestrate.yaml").write_text(yaml.safe_dump(config))
    ws.write_queue(
        "q.yaml",
        [
            {"id": "F", "agent": "a", "prompt": "fails once", "retries": 0},
            {"id": "ASK", "agent": "b", "prompt": "asks a person"},
        ],
    )
    assert ws.cli("start", "--detach").returncode == 0
    try:
        wait_until(lambda: ws.statuses().get("F") == "failed", 60, "F failed")
        assert ws.cli("pause", "a").stdout.startswith("a: paused")
        added = ws.cli("add", "--id", "NEW", "--agent", "a", "--prompt", "added live")
        assert added.returncode == 0, added.stderr
        wait_until(lambda: "NEW" in ws.statuses(), 20, "the daemon to load NEW")
        assert ws.statuses()["NEW"] == "queued"
        assert next(x for x in ws.status()["agents"] if x["name"] == "a")["state"] == "paused"
        assert ws.cli("resume", "a").returncode == 0
        assert ws.cli("retry", "F").stdout.startswith("F: back in the queue")
        wait_until(
            lambda: ws.statuses().get("F") == ws.statuses().get("NEW") == "done", 60, "F, NEW"
        )
        events = lambda: [json.loads(x)["event"] for x in notes.read_text().splitlines()]  # noqa: E731
        wait_until(lambda: notes.exists() and "waiting-for-input" in events(), 30, "the note")
        assert {"failed", "done"} <= set(events())
        assert "orchestrator" in windows(ws)
    finally:
        assert ws.cli("stop").returncode == 0


def test_a_real_80_column_pane_says_why_each_task_waits(
    workspace: Workspace, terminal: str
) -> None:
    """Issue 11, item 7, on the screen of a real pane: a task that waits for another, one
    blocked by a failure, and a failed check each say why."""
    ws = workspace
    ws.sim_agents(["a"], delay=1.0, extra={"a": ["--fail", "BAD"]})
    ws.write_queue(
        "q.yaml",
        [
            {"id": "BAD", "agent": "a", "prompt": "fails", "retries": 0},
            {"id": "AFTER", "agent": "a", "prompt": "waits", "after": ["BAD"]},
        ],
    )
    command = shlex.join([sys.executable, "-m", "orchestrator", "-C", str(ws.root), "watch"])
    with ws.running():
        tmux(terminal, "-f", "/dev/null", "new-session", "-d", "-s", "term", "-x", "80", "-y",
             "30", f"env -u TMUX {command}", ";", "set-option", "-t", "term", "remain-on-exit",
             "on")  # fmt: skip

        def row(task: str, *words: str) -> Callable[[], str]:
            """The screen, once one capture of it shows the task's row with all `words`."""

            def shown() -> str:
                text = tmux(terminal, "capture-pane", "-p", "-t", "term")
                rows = [ln for ln in text.splitlines() if ln.startswith(f"{task} ")]
                return text if any(all(w in r for w in words) for r in rows) else ""

            return shown

        wait_until(row("AFTER", "waits for BAD"), 30, "AFTER waiting for BAD")
        blocked = wait_until(row("AFTER", "blocked", "waits for BAD, which"), 60, "AFTER blocked")
        wait_until(row("BAD", "failed"), 30, "BAD failed")
    assert all(len(line) <= 80 for line in blocked.splitlines())

"""tmux itself dies mid-run: the daemon says so, keeps its state, and carries on once the
session is back (it recreates it and restarts the agents that have a command)."""

from __future__ import annotations

import subprocess

import yaml

from .conftest import Workspace, simple_tasks, wait_until


def test_kill_server_mid_run_loses_nothing(workspace: Workspace) -> None:
    ws = workspace
    ws.sim_agents(["a", "b"], delay=1.5)
    config = yaml.safe_load((ws.root / "orchestrate.yaml").read_text())
    for agent in config["agents"].values():
        agent["restart"] = True
    (ws.root / "orchestrate.yaml").write_text(yaml.safe_dump(config))
    ids = [f"K-{i:03d}" for i in range(8)]
    ws.write_queue("q.yaml", simple_tasks("K", ["a", "b"], 8))
    with ws.running():
        wait_until(lambda: sum(s == "done" for s in ws.statuses().values()) >= 2, 60, "2 done")
        subprocess.run(["tmux", "-L", ws.socket, "kill-server"], check=True)
        wait_until(lambda: set(ws.statuses().values()) == {"done"}, 120, "every task done")
    assert sorted(ws.statuses()) == ids
    # each (task, attempt) reached an agent once; a task cut off by the crash got a new attempt
    markers = ws.markers()
    assert all(count == 1 for count in markers.values()), markers
    assert {m.split()[1] for m in markers} == set(ids)
    log = ws.journal(1000)
    assert "the tmux session 'orch-test' is gone (was the server stopped?); recreating it" in log
    assert "K-" in log and "restart 1;" in log


def test_without_restart_it_waits_for_the_session_to_come_back(workspace: Workspace) -> None:
    ws = workspace
    ws.sim_agents(["a"], delay=1.5)
    command = yaml.safe_load((ws.root / "orchestrate.yaml").read_text())["agents"]["a"]["command"]
    ws.write_queue("q.yaml", simple_tasks("W", ["a"], 3))
    with ws.running():
        wait_until(lambda: ws.statuses().get("W-000") == "done", 60, "W-000 done")
        subprocess.run(["tmux", "-L", ws.socket, "kill-server"], check=True)
        wait_until(lambda: "waiting for it to come back" in ws.journal(), 30, "the note")
        # the agents' states are stored as the daemon publishes them (4 times a second)
        wait_until(lambda: ws.status()["agents"][0]["state"] == "gone", 10, "a gone")
        # a person starts tmux and the agent again, in a window of its name
        subprocess.run(
            ["tmux", "-L", ws.socket, "-f", "/dev/null", "new-session", "-d", "-s", "orch-test",
             "-n", "a", command],
            check=True,
        )  # fmt: skip
        wait_until(lambda: set(ws.statuses().values()) == {"done"}, 60, "the rest done")
    assert all(count == 1 for count in ws.markers().values())
    assert "a: found in window a" in ws.journal()


def test_a_board_that_cannot_be_read_is_reported_and_retried(workspace: Workspace) -> None:
    """(As root no permission bit stops a read: a folder in the board's place does.)"""
    ws = workspace
    ws.sim_agents(["a"], delay=1.0)
    ws.write_queue("q.yaml", simple_tasks("U", ["a"], 1))
    with ws.running():
        wait_until(lambda: ws.statuses() == {"U-000": "done"}, 60, "U-000 done")
        saved = ws.board.read_bytes()
        ws.board.unlink()
        ws.board.mkdir()
        wait_until(lambda: "not a regular file" in ws.journal(), 30, "the board error")
        ws.board.rmdir()
        ws.board.write_bytes(saved)
        ws.write_queue("q.yaml", simple_tasks("U", ["a"], 2))  # work for after the trouble
        wait_until(lambda: ws.statuses().get("U-001") == "done", 60, "U-001 done after it")
    log = ws.journal()
    assert f"{ws.board} is a directory, not a regular file: replace it with a file" in log
    assert "will retry" in log
    assert "board: working again" in log
    assert all(count == 1 for count in ws.markers().values())


def test_a_queue_file_that_cannot_be_read_keeps_its_last_good_version(
    workspace: Workspace,
) -> None:
    ws = workspace
    ws.sim_agents(["a"], delay=0.5)
    queue = ws.write_queue("q.yaml", simple_tasks("R", ["a"], 1))
    with ws.running():
        wait_until(lambda: ws.statuses() == {"R-000": "done"}, 60, "R-000 done")
        saved = queue.read_bytes()
        queue.unlink()
        queue.symlink_to(ws.root / "nowhere.yaml")  # a link to nowhere: cannot be read
        wait_until(lambda: "cannot read" in ws.journal(), 30, "the queue error")
        assert ws.statuses() == {"R-000": "done"}  # nothing dropped
        queue.unlink()
        queue.write_bytes(saved)
        ws.write_queue("q.yaml", simple_tasks("R", ["a"], 2))
        wait_until(lambda: ws.statuses().get("R-001") == "done", 60, "R-001 done")
    log = ws.journal()
    assert f"{queue}:1: cannot read: No such file or directory (last good version kept)" in log
    assert "queue files are valid again" in log

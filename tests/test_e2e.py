"""End to end through the CLI (real subprocesses), real tmux, real watchdog, simulated agents."""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter

from orchestrator.cli.demo import make_workspace
from orchestrator.cli.demo import sim_command as demo_sim

from .conftest import Workspace, simple_tasks, wait_until


def assert_each_delivered_once(ws: Workspace, ids: list[str]) -> None:
    assert dict(ws.markers()) == {f"[orchestrate {i} #1]": 1 for i in ids}


def test_both_seed_queues_complete_as_in_the_demo(workspace: Workspace) -> None:
    """The demo's workspace: both seed queues, one agent saving the board by rename, one
    appending, one FAILED report answered by a retry; validation runs (as echo lines)."""
    ws = workspace
    ws.logs.mkdir()
    make_workspace(ws.root, ws.socket, 0.2, logs=ws.logs)
    result = ws.cli("start", "--plain", "--exit-when-done", timeout=180)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    ids = [
        "AUTO-001",
        "AUTO-002",
        "AUTO-003",
        "AUTO-004",
        "CODEX-003",
        "CODEX-002",
        "CODEX-001",
        "ANTI-001",
        "ANTI-002",
        "ANTI-003",
    ]
    assert ws.statuses() == dict.fromkeys(ids, "done")
    expected = Counter({f"[orchestrate {i} #1]": 1 for i in ids})
    expected["[orchestrate AUTO-003 #2]"] = 1  # the demo's agent fails AUTO-003 once
    assert ws.markers() == expected
    # chains and phases ran in order, per agent
    order = [r["marker"].split()[1] for r in ws.received() if r["agent"] == "codex"]
    assert order.index("CODEX-003") < order.index("CODEX-002") < order.index("CODEX-001")
    assert order.index("AUTO-002") < order.index("AUTO-004")
    status_md = (ws.root / "ORCHESTRATOR_STATUS.md").read_text()
    assert "| AUTO-001 | OAuth Production Setup | antigravity | ✅ DONE | 1 | ✅ 2/2 passed |" in (
        status_md
    )
    assert "**Done**: 10" in status_md
    log = ws.root / ".orchestrate" / "logs" / "AUTO-001-1.log"
    assert "(demo) would run: cargo test oauth" in log.read_text()
    # the prompt carried the marker, the playbooks, the validation and the exact header
    first = next(r["text"] for r in ws.received() if "AUTO-001" in r["marker"])
    assert first.startswith("[orchestrate AUTO-001 #1] OAuth Production Setup\n")
    assert "Use @agents_library/backend-architect.md" in first
    assert "- echo '(demo) would run: cargo test oauth'" in first
    assert "\n### TODO-AUTO-001: COMPLETED ✅\n" in first
    assert "**Fichiers modifiés**: ..." in first
    retry = next(r["text"] for r in ws.received() if r["marker"] == "[orchestrate AUTO-003 #2]")
    assert "This is attempt #2 of this task. Your attempt #1 reported FAILED:" in retry
    assert "**Reason**: simulated failed by antigravity" in retry


def test_status_json_shape_and_status_without_daemon(workspace: Workspace) -> None:
    ws = workspace
    ws.sim_agents(["a"])
    ws.write_queue("q.yaml", simple_tasks("T", ["a"], 2))
    before = ws.status()  # no daemon has ever run: the queues, all queued
    assert [t["status"] for t in before["tasks"]] == ["queued", "queued"]
    assert ws.cli("start", "--plain", "--exit-when-done", timeout=120).returncode == 0
    data = ws.status()
    assert set(data) >= {"tasks", "agents", "totals"}
    assert set(data["tasks"][0]) >= {"id", "title", "agent", "status", "attempts", "overdue"}
    assert data["agents"][0]["name"] == "a" and set(data["agents"][0]) >= {"state", "task"}
    assert data["totals"] == {
        "total": 2,
        "done": 2,
        "running": 0,
        "queued": 0,
        "failed": 0,
        "blocked": 0,
        "cancelled": 0,
    }
    table = ws.cli("status")
    assert (
        table.returncode == 0 and "T-000" in table.stdout and "daemon: not running" in table.stdout
    )


def test_stop_and_the_lock(workspace: Workspace) -> None:
    ws = workspace
    ws.sim_agents(["a"])
    ws.write_queue("q.yaml", simple_tasks("T", ["a"], 1))
    daemon = ws.start()
    try:
        wait_until(lambda: ws.statuses().get("T-000") == "done", 60, "T-000 done")
        second = ws.cli("start", "--plain")
        assert second.returncode == 1
        assert f"pid {daemon.pid}" in second.stderr
        stopped = ws.cli("stop")
        assert stopped.returncode == 0, stopped.stderr
        assert daemon.wait(timeout=20) == 0
    finally:
        if daemon.poll() is None:
            daemon.kill()
    again = ws.cli("stop")
    assert again.returncode == 1 and "no daemon runs" in again.stderr


def test_detach_without_a_window_then_stop(workspace: Workspace) -> None:
    ws = workspace
    ws.sim_agents(["a"])
    ws.write_queue("q.yaml", simple_tasks("T", ["a"], 2))
    result = ws.cli("start", "--detach", "--no-window")
    assert result.returncode == 0, result.stderr
    assert "running in the background" in result.stdout and "orchestrate" in result.stdout
    try:
        wait_until(lambda: set(ws.statuses().values()) == {"done"}, 60, "both tasks done")
        assert ws.status()["daemon"] == "running"
    finally:
        assert ws.cli("stop").returncode == 0
    assert ws.status()["daemon"] == "stopped"
    logs = ws.cli("logs", "--task", "T-001")
    assert "T-001 -> a (attempt 1)" in logs.stdout


def test_queue_edits_while_running_add_tasks_and_broken_files_keep_the_last_good(
    workspace: Workspace,
) -> None:
    ws = workspace
    ws.sim_agents(["a", "b"])
    queue = ws.write_queue("q.yaml", simple_tasks("T", ["a", "b"], 2))
    with ws.running() as daemon:
        wait_until(
            lambda: set(ws.statuses().values()) == {"done"} and len(ws.statuses()) == 2,
            60,
            "the first two tasks",
        )
        # a new file while running
        ws.write_queue("r.yaml", simple_tasks("NEW", ["b"], 2))
        wait_until(lambda: ws.statuses().get("NEW-001") == "done", 60, "new tasks to run")
        # break the first file: reported with FILE:LINE, nothing dropped, daemon alive
        queue.write_text(queue.read_text() + "  - id: BROKEN\n    prompt: [unclosed\n")
        wait_until(lambda: "queue-error" in ws.journal(), 30, "the error to be logged")
        logs = ws.journal()
        assert f"{queue}:" in logs and "YAML syntax" in logs and "last good version kept" in logs
        assert daemon.poll() is None
        # the other file still takes new tasks; then the broken one is fixed with a new task
        ws.write_queue("r.yaml", simple_tasks("NEW", ["b"], 3))
        wait_until(lambda: ws.statuses().get("NEW-002") == "done", 60, "NEW-002 after the error")
        ws.write_queue("q.yaml", simple_tasks("T", ["a", "b"], 3))
        wait_until(lambda: ws.statuses().get("T-002") == "done", 60, "T-002 after the fix")
        assert "queue files are valid again" in ws.journal()
        assert_each_delivered_once(ws, ["T-000", "T-001", "T-002", "NEW-000", "NEW-001", "NEW-002"])


def test_block_already_on_the_board_marks_the_task_done_without_sending(
    workspace: Workspace,
) -> None:
    ws = workspace
    ws.sim_agents(["a"])
    ws.write_queue("q.yaml", simple_tasks("T", ["a"], 2))
    with ws.board.open("a") as board:
        board.write("\n### TODO-T-000: COMPLETED ✅\n**Date**: yesterday\n")
    assert ws.cli("start", "--plain", "--exit-when-done", timeout=120).returncode == 0
    assert ws.statuses() == {"T-000": "done", "T-001": "done"}
    assert_each_delivered_once(ws, ["T-001"])


def test_check_command(workspace: Workspace) -> None:
    ws = workspace
    ws.sim_agents(["a"])
    ws.write_queue("q.yaml", simple_tasks("T", ["a"], 2))
    ok = ws.cli("check")
    assert ok.returncode == 0 and "ok: 2 task(s) in 1 queue file(s), 1 agent(s): a" in ok.stdout
    ws.write_queue("z-bad.yaml", [{"id": "T-000", "agent": "zz", "prompt": "p"}])
    bad = ws.cli("check")
    assert bad.returncode == 1
    lines = bad.stdout.splitlines()
    assert any(
        line.startswith(f"{ws.root / 'queues' / 'z-bad.yaml'}:2: duplicate task id")
        for line in lines
    )
    assert any("unknown agent 'zz'" in line for line in lines)


def test_usage_error_exits_2(workspace: Workspace) -> None:
    assert workspace.cli("start", "--no-such-option").returncode == 2


def test_start_without_workspace_says_what_to_do(tmp_path: object) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "orchestrator", "-C", str(tmp_path), "status"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "orchestrate init" in result.stderr


def test_unreadable_board_is_reported_once_and_the_daemon_carries_on(workspace: Workspace) -> None:
    ws = workspace
    ws.sim_agents(["a"])
    ws.write_queue("q.yaml", simple_tasks("T", ["a"], 1))
    with ws.running() as daemon:
        wait_until(lambda: ws.statuses().get("T-000") == "done", 60, "T-000 done")
        saved = ws.board.read_bytes()
        ws.board.unlink()
        ws.board.mkdir()  # reading it now fails (EISDIR), even as root
        wait_until(lambda: "board-error" in ws.journal(), 30, "the board error")
        # Several 1-second ticks later (each re-reads the board) it is still reported once.
        time.sleep(2.5)  # the claim is about repetition over time, so time must pass
        assert ws.journal().count("board-error") == 1
        assert daemon.poll() is None
        ws.board.rmdir()
        ws.board.write_bytes(saved)
        ws.write_queue("q.yaml", simple_tasks("T", ["a"], 2))
        wait_until(lambda: ws.statuses().get("T-001") == "done", 60, "T-001 after the repair")
        assert "board: working again" in ws.journal()


def test_an_agent_started_by_hand_in_an_existing_window_is_used_as_it_is(
    workspace: Workspace,
) -> None:
    """As in the seeds: the agent already runs in window 3; no command in orchestrate.yaml."""
    ws = workspace
    ws.logs.mkdir()
    log = ws.logs / "hand.jsonl"
    by_hand = demo_sim("hand", ws.board, 0.2, "append", "--log", str(log))
    tmux = ["tmux", "-L", ws.socket]
    subprocess.run(
        [*tmux, "-f", "/dev/null", "new-session", "-d", "-s", "orch-test", "-x", "120"], check=True
    )
    subprocess.run(
        [*tmux, "new-window", "-d", "-t", "orch-test:3", "-n", "handmade", by_hand], check=True
    )
    ws.write_config({"hand": {"window": 3}})
    ws.write_queue("q.yaml", simple_tasks("H", ["hand"], 2))
    result = ws.cli("start", "--plain", "--exit-when-done", timeout=120)
    assert result.returncode == 0, result.stdout[-2000:]
    assert ws.statuses() == {"H-000": "done", "H-001": "done"}
    assert_each_delivered_once(ws, ["H-000", "H-001"])
    windows = subprocess.run(
        [*tmux, "list-windows", "-t", "orch-test", "-F", "#I:#W"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert "3:handmade" in windows and len(windows) == 2  # window 0 and the agent's: no new one
    assert "window-created" not in ws.journal()


def test_a_shell_window_gets_no_prompt(workspace: Workspace) -> None:
    """A window that runs a shell (the agent not started yet) is never typed into."""
    ws = workspace
    ws.write_config({"idle": {"window": "idle"}})  # created with a shell: no command
    ws.write_queue("q.yaml", simple_tasks("S", ["idle"], 1))
    with ws.running():
        wait_until(lambda: "created window idle" in ws.journal(), 30)
        wait_until(lambda: ws.status()["agents"][0]["state"] == "shell", 30, "state shell")
        assert ws.statuses() == {"S-000": "queued"}
        assert "dispatch" not in ws.journal()


def test_a_generic_agent_gets_no_prompt_while_its_program_draws_nothing(
    workspace: Workspace,
) -> None:
    """A program that takes 3 s to load, showing a blank pane and dropping what is typed
    meanwhile (as tty.setraw does), under the generic profile (it reads no screen): its
    first prompt waits until it has drawn something, and arrives once. Typed at its
    `settle` second, the prompt was lost and the task waited for a report forever."""
    ws = workspace
    ws.sim_agents(
        ["slow"], delay=0.2, echo="none", profile="generic", extra={"slow": ["--load", "3"]}
    )
    ws.write_queue("q.yaml", simple_tasks("G", ["slow"], 2))
    result = ws.cli("start", "--plain", "--exit-when-done", timeout=120)
    assert result.returncode == 0, result.stdout[-2000:]
    assert_each_delivered_once(ws, ["G-000", "G-001"])


def test_failed_report_ends_the_run_with_exit_1(workspace: Workspace) -> None:
    ws = workspace
    ws.sim_agents(["a"], extra={"a": ["--fail", "F-001"]})
    ws.write_queue("q.yaml", simple_tasks("F", ["a"], 3))
    result = ws.cli("start", "--plain", "--exit-when-done", timeout=120)
    assert result.returncode == 1
    assert ws.statuses() == {"F-000": "done", "F-001": "failed", "F-002": "done"}
    assert "no task can make progress" in result.stdout or "stuck" in ws.journal()

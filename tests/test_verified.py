"""Verified completion end to end: simulated agents on real tmux, real validation commands."""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections import Counter

import yaml

from .conftest import Workspace, simple_tasks, wait_until

FAILS_ONCE = (
    "test -f .checked-once || { touch .checked-once; "
    "echo 'test oauth_live_flow ... FAILED'; echo 'assertion failed: token.is_valid()'; exit 101; }"
)


def prompt_of(ws: Workspace, mark: str) -> str:
    return next(str(r["text"]) for r in ws.received() if r["marker"] == mark)


def test_a_check_that_fails_once_ends_done_after_two_attempts(workspace: Workspace) -> None:
    ws = workspace
    ws.sim_agents(["a"])
    ws.write_queue("q.yaml", simple_tasks("V", ["a"], 1, validate=["true", FAILS_ONCE]))
    result = ws.finish()
    assert result.returncode == 0, result.stdout[-3000:]
    (task,) = ws.status()["tasks"]
    assert task["status"] == "done" and task["attempts"] == 2
    assert task["validation"] == "2/2 passed"
    assert task["log"].endswith(".orchestrate/logs/V-000-2.log")
    assert ws.markers() == Counter({"[orchestrate V-000 #1]": 1, "[orchestrate V-000 #2]": 1})
    second = prompt_of(ws, "[orchestrate V-000 #2]")
    assert "This is attempt #2 of this task." in second
    assert f"    {FAILS_ONCE}\nexited with code 101." in second
    assert "test oauth_live_flow ... FAILED\nassertion failed: token.is_valid()" in second
    first_log = ws.root / ".orchestrate" / "logs" / "V-000-1.log"
    assert "assertion failed: token.is_valid()" in first_log.read_text()
    history = ws.journal(task="V-000")
    for expected in (
        "V-000 -> a (attempt 1)",
        "V-000 #1: COMPLETED reported; validating (2 command(s))",
        "validation failed: `" + FAILS_ONCE + "` exited 101; retrying with attempt #2 on a",
        "V-000 -> a (attempt 2)",
        "V-000 #2: done, validation passed (2/2 passed)",
    ):
        assert expected in history
    assert "TODO-V-000: COMPLETED (board line" in history and "Agent=a" in history


def test_a_check_that_always_fails_fails_the_task_and_blocks_its_dependents(
    workspace: Workspace,
) -> None:
    ws = workspace
    ws.sim_agents(["a", "b"])
    ws.write_queue(
        "q.yaml",
        [
            {"id": "BASE", "agent": "a", "prompt": "p", "retries": 2, "validate": ["exit 1"]},
            {"id": "NEXT", "agent": "b", "prompt": "p", "after": ["BASE"]},
            {"id": "LAST", "agent": "a", "prompt": "p", "after": ["NEXT"]},
            {"id": "FREE", "agent": "b", "prompt": "p"},
        ],
    )
    result = ws.finish()
    assert result.returncode == 1
    assert ws.statuses() == {"BASE": "failed", "NEXT": "blocked", "LAST": "blocked", "FREE": "done"}
    by_id = {t["id"]: t for t in ws.status()["tasks"]}
    assert by_id["BASE"]["attempts"] == 3  # retries + 1
    assert by_id["LAST"]["blocked_by"] == "BASE"
    sent = ws.markers()
    assert sent == Counter(
        {
            "[orchestrate BASE #1]": 1,
            "[orchestrate BASE #2]": 1,
            "[orchestrate BASE #3]": 1,
            "[orchestrate FREE #1]": 1,
        }
    )
    status_md = (ws.root / "ORCHESTRATOR_STATUS.md").read_text()
    assert "❌ FAILED" in status_md and "⛔ BLOCKED (by BASE)" in status_md
    assert "❌ `exit 1` exited 1" in status_md
    assert "BASE (attempt 3): `" in status_md and "BASE-3.log" in status_md


def test_retry_on_a_running_daemon_unblocks_the_chain(workspace: Workspace) -> None:
    ws = workspace
    ws.sim_agents(["a"], extra={"a": ["--block", "GATE"]})
    ws.write_queue(
        "q.yaml",
        [
            {"id": "GATE", "agent": "a", "prompt": "p"},
            {"id": "AFTER", "agent": "a", "prompt": "p", "after": ["GATE"]},
        ],
    )
    with ws.running_here():
        wait_until(lambda: ws.statuses() == {"GATE": "blocked", "AFTER": "blocked"}, 60)
        assert "the agent is blocked: simulated blocked by a" in ws.status()["tasks"][0]["reason"]
        refused = ws.cli("retry", "AFTER")
        assert refused.returncode == 1 and "blocked by GATE: retry that one" in refused.stderr
        asked = time.monotonic()
        answer = ws.cli("retry", "GATE")
        assert answer.returncode == 0, answer.stderr
        assert "GATE: back in the queue (was blocked)" in answer.stdout
        assert time.monotonic() - asked < 5  # the daemon answers at once (watched file)
        # the simulated agent blocks GATE every time: it ends blocked again, with attempt 2
        wait_until(lambda: ws.status()["tasks"][0]["attempts"] == 2, 60)
        wait_until(lambda: ws.statuses().get("GATE") == "blocked", 60)
    assert ws.markers() == Counter({"[orchestrate GATE #1]": 1, "[orchestrate GATE #2]": 1})


def test_retry_without_a_daemon_applies_at_the_next_start(workspace: Workspace) -> None:
    ws = workspace
    ws.sim_agents(["a"])
    flag = ws.root / "fixed"
    ws.write_queue(
        "q.yaml",
        [
            {"id": "T", "agent": "a", "prompt": "p", "retries": 0, "validate": [f"test -f {flag}"]},
            {"id": "D", "agent": "a", "prompt": "p", "after": ["T"]},
        ],
    )
    assert ws.finish().returncode == 1
    assert ws.statuses() == {"T": "failed", "D": "blocked"}
    queued = ws.cli("retry", "T")
    assert queued.returncode == 0 and "applied when the daemon next starts" in queued.stdout
    flag.touch()  # the person fixed what the check needs
    assert ws.finish().returncode == 0
    assert ws.statuses() == {"T": "done", "D": "done"}  # the dependent was unblocked and sent
    log = ws.journal()
    assert "retry T: T: back in the queue (was failed)" in log
    assert "D: unblocked (T no longer stands in the way)" in log


def test_a_silent_agent_is_flagged_stalled_once(workspace: Workspace) -> None:
    ws = workspace
    ws.sim_agents(["a"], extra={"a": ["--silent", "S-000"]})
    config = (ws.root / "orchestrate.yaml").read_text()
    (ws.root / "orchestrate.yaml").write_text(config + "stall_after: 3s\n")
    ws.write_queue("q.yaml", simple_tasks("S", ["a"], 1, estimate="2s"))
    with ws.running_here():
        wait_until(
            lambda: any("stalled" in t["flags"] for t in ws.status()["tasks"]), 60, "the flag"
        )
        task = ws.status()["tasks"][0]
        assert task["status"] == "dispatched" and "overdue" in task["flags"]
        status_md = ws.root / "ORCHESTRATOR_STATUS.md"  # written just after the state commits
        wait_until(lambda: "⚠️ OVERDUE ⚠️ STALLED" in status_md.read_text(), 10, "the status file")
        time.sleep(2)  # more 1-second ticks: the flags must not be raised again
        log = ws.journal()
        assert log.count("S-000 #1: stalled") == 1 and log.count("S-000 #1: overdue") == 1


def test_missing_report_fields_are_asked_for_once(workspace: Workspace) -> None:
    ws = workspace
    ws.sim_agents(["a"], extra={"a": ["--omit", "Tests"]})
    ws.write_queue(
        "q.yaml",
        simple_tasks("R", ["a"], 1, report=["Tests", "Fichiers modifiés"], validate=["true"]),
    )
    result = ws.finish()
    assert result.returncode == 0, result.stdout[-3000:]
    assert ws.statuses() == {"R-000": "done"}
    assert ws.markers() == Counter(
        {"[orchestrate R-000 #1]": 1, "[orchestrate R-000 #1 fields]": 1}
    )
    followup = prompt_of(ws, "[orchestrate R-000 #1 fields]")
    assert "lacks Tests." in followup and "**Tests**: ..." in followup
    assert "**Fichiers modifiés**" not in followup
    history = ws.journal(task="R-000")
    assert "COMPLETED without Tests: asking for them" in history
    assert "request for missing fields submitted to a" in history
    assert "validation passed" in history


def test_a_permission_dialog_is_waited_on_and_nothing_is_typed_into_it(
    workspace: Workspace,
) -> None:
    ws = workspace
    ws.sim_agents(["a"], extra={"a": ["--ask", "P-000"]})
    ws.write_queue("q.yaml", simple_tasks("P", ["a"], 2))
    with ws.running_here():
        wait_until(
            lambda: ws.status()["agents"][0]["state"] == "waiting-for-input",
            60,
            "the agent to wait for a person",
        )
        wait_until(lambda: "waits for a person: 'Do you want to proceed?" in ws.journal(), 10)
        time.sleep(2)  # a few polling ticks: the daemon must type nothing into the dialog
        dialog_keys = [
            json.loads(line)
            for line in (ws.logs / "a.jsonl").read_text().splitlines()
            if json.loads(line)["event"] == "dialog-input"
        ]
        assert dialog_keys == []
        assert ws.statuses() == {"P-000": "dispatched", "P-001": "queued"}
        # the person answers the dialog (here: the test, through tmux)
        subprocess.run(
            ["tmux", "-L", ws.socket, "send-keys", "-t", "orch-test:a", "Enter"], check=True
        )
        wait_until(lambda: set(ws.statuses().values()) == {"done"}, 60, "both tasks done")
    assert "a: idle again" in ws.journal() or "a: busy again" in ws.journal()


def test_a_killed_agent_with_restart_is_started_again_and_gets_its_task_back(
    workspace: Workspace,
) -> None:
    ws = workspace
    ws.sim_agents(["a"], delay=3.0)
    config = yaml.safe_load((ws.root / "orchestrate.yaml").read_text())
    config["agents"]["a"]["restart"] = True
    config["notify"] = [f"cat >> {ws.root / 'notes.jsonl'}"]
    (ws.root / "orchestrate.yaml").write_text(yaml.safe_dump(config))
    ws.write_queue("q.yaml", simple_tasks("G", ["a"], 2))
    with ws.running_here():
        wait_until(lambda: ws.markers()["[orchestrate G-000 #1]"] == 1, 60, "G-000 received")
        ws.kill_agent("a")  # mid-work: no report will come from this process
        wait_until(lambda: set(ws.statuses().values()) == {"done"}, 90, "both tasks done")
    assert ws.markers() == Counter(
        {"[orchestrate G-000 #1]": 1, "[orchestrate G-000 #2]": 1, "[orchestrate G-001 #1]": 1}
    )
    second = prompt_of(ws, "[orchestrate G-000 #2]")
    assert "Your attempt #1 was interrupted: the agent's program exited" in second
    log = ws.journal()
    assert "G-000 #1: a is gone (its program exited)" in log
    assert "a: starting" in log and "(restart 1;" in log
    notes = [json.loads(line) for line in (ws.root / "notes.jsonl").read_text().splitlines()]
    assert {"gone", "done"} <= {n["event"] for n in notes}
    gone = next(n for n in notes if n["event"] == "gone")
    assert gone["task"] == "G-000" and "a is gone" in gone["message"]


def test_a_killed_agent_without_restart_is_gone_until_a_person_brings_it_back(
    workspace: Workspace,
) -> None:
    ws = workspace
    ws.sim_agents(["a"], delay=3.0)
    ws.write_queue("q.yaml", simple_tasks("H", ["a"], 1))
    command = yaml.safe_load((ws.root / "orchestrate.yaml").read_text())["agents"]["a"]["command"]
    with ws.running_here():
        wait_until(lambda: ws.markers()["[orchestrate H-000 #1]"] == 1, 60, "H-000 received")
        ws.kill_agent("a")
        wait_until(lambda: ws.status()["agents"][0]["state"] == "gone", 30, "the agent gone")
        assert ws.statuses() == {"H-000": "queued"}
        assert "restart" not in ws.journal()
        # the person starts the agent again, in a window of its name
        subprocess.run(
            ["tmux", "-L", ws.socket, "new-window", "-d", "-t", "orch-test:", "-n", "a", command],
            check=True,
        )
        wait_until(lambda: ws.statuses() == {"H-000": "done"}, 60, "H-000 done")
    assert "a: found in window a" in ws.journal()
    assert ws.markers() == Counter({"[orchestrate H-000 #1]": 1, "[orchestrate H-000 #2]": 1})


def test_a_program_that_fails_at_once_is_journaled_with_its_last_words(
    workspace: Workspace,
) -> None:
    ws = workspace
    ws.sim_agents(["a"])
    config = yaml.safe_load((ws.root / "orchestrate.yaml").read_text())
    config["agents"]["a"]["command"] = "echo 'Invalid auth method selected.' >&2; exit 41"
    (ws.root / "orchestrate.yaml").write_text(yaml.safe_dump(config))
    ws.write_queue("q.yaml", simple_tasks("E", ["a"], 1))
    said = "a: its program exited with status 41; its last lines: Invalid auth method selected."
    with ws.running_here():
        wait_until(lambda: said in ws.journal(), 30, "the exit journaled")
        wait_until(lambda: ws.status()["agents"][0]["state"] == "gone", 30, "the agent gone")
        assert ws.statuses() == {"E-000": "queued"}
        # its window stays, with what the program printed (tmux may scroll it up a little)
        screen = subprocess.run(
            ["tmux", "-L", ws.socket, "capture-pane", "-p", "-S", "-100", "-t", "orch-test:a"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert "Invalid auth method selected." in screen
    assert ws.journal().count(said) == 1


def test_on_permission_approve_answers_the_dialog(workspace: Workspace) -> None:
    ws = workspace
    ws.sim_agents(["a"], extra={"a": ["--ask", "Y-000"]})
    config = yaml.safe_load((ws.root / "orchestrate.yaml").read_text())
    config["agents"]["a"]["on_permission"] = "approve"
    (ws.root / "orchestrate.yaml").write_text(yaml.safe_dump(config))
    ws.write_queue("q.yaml", simple_tasks("Y", ["a"], 1))
    result = ws.finish()
    assert result.returncode == 0, result.stdout[-2000:]
    assert "a: approved 'Do you want to proceed? ❯ 1. Yes  2. No' with Enter" in result.stdout
    keys = [
        json.loads(line)["data"]
        for line in (ws.logs / "a.jsonl").read_text().splitlines()
        if json.loads(line)["event"] == "dialog-input"
    ]
    assert keys == ["\r"]  # Enter, once


def test_an_enter_swallowed_after_the_paste_is_pressed_once_more(workspace: Workspace) -> None:
    """Like Codex's paste-burst guard: the first Enter after a paste is taken as a newline."""
    ws = workspace
    ws.sim_agents(["a"], extra={"a": ["--swallow", "1"]})
    ws.write_queue("q.yaml", simple_tasks("E", ["a"], 2))
    result = ws.finish()
    assert result.returncode == 0, result.stdout[-2000:]
    assert ws.statuses() == {"E-000": "done", "E-001": "done"}
    assert ws.markers() == Counter({"[orchestrate E-000 #1]": 1, "[orchestrate E-001 #1]": 1})
    assert result.stdout.count("still in a's input box: pressed Enter once more") == 2
    swallowed = [
        line for line in (ws.logs / "a.jsonl").read_text().splitlines() if "swallowed" in line
    ]
    assert len(swallowed) == 2


def test_a_prompt_that_is_taken_at_once_needs_no_second_enter(workspace: Workspace) -> None:
    ws = workspace
    ws.sim_agents(["a"])
    ws.write_queue("q.yaml", simple_tasks("F", ["a"], 2))
    result = ws.finish()
    assert result.returncode == 0
    assert "pressed Enter once more" not in result.stdout
    assert "unconfirmed" not in result.stdout


def test_enter_waits_until_a_slow_paste_shows(workspace: Workspace) -> None:
    """A TUI that takes a second to take a paste in (qwen-code on a loaded machine): an Enter
    before it shows would submit a placeholder instead of the prompt."""
    ws = workspace
    ws.sim_agents(["a"], extra={"a": ["--slow-paste", "1.0"]})
    ws.write_queue("q.yaml", simple_tasks("G", ["a"], 2))
    result = ws.finish()
    assert result.returncode == 0, result.stdout[-2000:]
    assert ws.statuses() == {"G-000": "done", "G-001": "done"}
    assert [r["marker"] for r in ws.received()] == [
        "[orchestrate G-000 #1]",
        "[orchestrate G-001 #1]",
    ]
    assert "paste-unseen" not in ws.journal()


def test_a_paste_that_never_shows_is_journaled(workspace: Workspace) -> None:
    ws = workspace
    ws.sim_agents(["a"], extra={"a": ["--slow-paste", "30"]})
    ws.write_queue("q.yaml", simple_tasks("H", ["a"], 1))
    with ws.running_here():
        wait_until(lambda: "paste-unseen" in ws.journal(), 30, "the journal line")
        wait_until(ws.received, 10, "what the agent got")
    assert "H-000 #1: the paste did not show on a's screen within 3s" in ws.journal()
    (got,) = ws.received()  # the placeholder a too-early Enter submits, as qwen-code did
    assert re.fullmatch(r"\[Pasted Content \d+ chars\]", got["text"]) and got["marker"] is None

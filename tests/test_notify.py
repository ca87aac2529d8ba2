"""Notifications: commands get the event as JSON on stdin; a bad notifier holds nothing up."""

from __future__ import annotations

import json
import queue
import time
from pathlib import Path
from typing import Any

import yaml

from orchestrator.daemon.notify import Notifier, NotifyProblem

from .conftest import Workspace, simple_tasks, wait_until


def test_each_command_gets_the_event_as_json_on_stdin(tmp_path: Path) -> None:
    problems: queue.Queue[NotifyProblem] = queue.Queue()
    notifier = Notifier(["cat >> one.jsonl", "cat >> two.jsonl"], tmp_path, problems.put)
    event = {
        "event": "waiting-for-input",
        "message": "a waits: 'Do you want to proceed?'",
        "task": "T",
        "agent": "a; rm -rf / $(reboot)",
    }
    notifier.send(event)
    notifier.stop()
    for name in ("one.jsonl", "two.jsonl"):
        text = (tmp_path / name).read_text()
        assert text.endswith("\n") and text.count("\n") == 1  # one line per event
        assert json.loads(text) == event
    assert problems.empty()


def test_a_failing_and_a_hanging_notifier_are_reported_and_hold_nothing(tmp_path: Path) -> None:
    problems: queue.Queue[NotifyProblem] = queue.Queue()
    notifier = Notifier(["echo nope >&2; exit 3", "sleep 60"], tmp_path, problems.put, timeout=1)
    started = time.monotonic()
    notifier.send({"event": "done"})
    assert time.monotonic() - started < 0.5  # send() never waits for the commands
    first = problems.get(timeout=10)
    second = problems.get(timeout=10)
    notifier.stop()
    assert "exit 3 nope" in first.message
    assert "timed out after 1s" in second.message and "sleep 60" in second.message


def test_a_running_daemon_notifies_done_all_done_and_an_idle_agent_gone(
    workspace: Workspace,
) -> None:
    """With a notifier that hangs next to one that records: the queue goes on regardless."""
    ws = workspace
    ws.sim_agents(["a", "b"], delay=0.3)
    notes = ws.root / "notes.jsonl"
    config = yaml.safe_load((ws.root / "orchestrate.yaml").read_text())
    config["notify"] = [f"cat >> {notes}", "sleep 600"]
    (ws.root / "orchestrate.yaml").write_text(yaml.safe_dump(config))
    ws.write_queue("q.yaml", simple_tasks("N", ["a"], 3))

    def events() -> list[dict[str, Any]]:
        if not notes.exists():
            return []
        return [json.loads(line) for line in notes.read_text().splitlines()]

    with ws.running():
        wait_until(lambda: any(e["event"] == "all-done" for e in events()), 60, "all-done")
        ws.kill_agent("b")  # b has no task: a person still wants to know
        wait_until(lambda: any(e["event"] == "gone" for e in events()), 30, "b gone")
    done = [e for e in events() if e["event"] == "done"]
    assert [e["task"] for e in done] == ["N-000", "N-001", "N-002"]
    assert all(e["agent"] == "a" and e["session"] == "orch-test" for e in done)
    assert set(done[0]) == {"event", "message", "task", "agent", "time", "workspace", "session"}
    (all_done,) = [e for e in events() if e["event"] == "all-done"]
    assert all_done["message"] == "every task is settled: 3 done"
    gone = next(e for e in events() if e["event"] == "gone")
    assert gone["agent"] == "b" and gone["task"] is None
    # the hanging notifier (10 s timeout each) never held a dispatch back
    journal = [json.loads(line) for line in ws.journal(as_json=True).splitlines()]
    first_done = next(r["ts"] for r in journal if r["kind"] == "done")
    second_sent = next(r["ts"] for r in journal if r["kind"] == "dispatch" and r["task"] == "N-001")
    assert second_sent - first_done < 10

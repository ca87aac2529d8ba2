"""Notifications: commands get the event as JSON on stdin; a bad notifier holds nothing up."""

from __future__ import annotations

import json
import queue
import time
from pathlib import Path

from orchestrator.notify import Notifier, NotifyProblem


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

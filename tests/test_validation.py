"""Validation commands as real subprocesses: pass, fail, time out, print a lot."""

from __future__ import annotations

import queue
import time
from pathlib import Path

from orchestrator.state import ValidationDone
from orchestrator.validation import Validator


def run(tmp_path: Path, commands: list[str], timeout: float = 30) -> ValidationDone:
    events: queue.Queue[ValidationDone] = queue.Queue()
    validator = Validator(tmp_path, tmp_path / "logs", events.put)
    validator.start("T-1", 3, commands, timeout)
    try:
        return events.get(timeout=timeout + 15)
    finally:
        validator.stop()


def test_all_pass(tmp_path: Path) -> None:
    done = run(tmp_path, ["true", "echo hello"])
    assert done.ok and done.summary == "2/2 passed"
    log = Path(done.log)
    assert log == tmp_path / "logs" / "T-1-3.log"
    text = log.read_text()
    assert "$ true\n" in text and "$ echo hello\nhello\n" in text
    assert oct(log.stat().st_mode & 0o777) == "0o600"


def test_runs_in_the_workdir(tmp_path: Path) -> None:
    (tmp_path / "marker.txt").write_text("here")
    assert run(tmp_path, ["test -f marker.txt"]).ok


def test_stops_at_the_first_failure_with_its_output_tail(tmp_path: Path) -> None:
    script = "for i in $(seq 1 100); do echo line $i; done; echo boom >&2; exit 3"
    done = run(tmp_path, ["true", script, "touch never"])
    assert not done.ok
    assert done.command == script and done.exit_code == 3
    assert done.summary == f"`{script}` exited 3"
    lines = done.tail.splitlines()
    assert len(lines) == 40 and lines[-1] == "boom" and lines[0] == "line 62"
    assert not (tmp_path / "never").exists()


def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    started = time.monotonic()
    done = run(tmp_path, ["echo start; sleep 60 & sleep 60; echo never"], timeout=1)
    assert time.monotonic() - started < 15
    assert not done.ok and done.exit_code is None
    assert "timed out after 1s" in done.summary
    assert done.tail == "start"
    assert "\nnever\n" not in Path(done.log).read_text()


def test_a_lot_of_output(tmp_path: Path) -> None:
    done = run(
        tmp_path,
        ["yes 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' | head -c 20000000; exit 1"],
    )
    assert not done.ok and done.exit_code == 1
    assert Path(done.log).stat().st_size >= 20_000_000
    assert len(done.tail.splitlines()) == 40


def test_command_not_found_is_a_failure(tmp_path: Path) -> None:
    done = run(tmp_path, ["no-such-command-here"])
    assert not done.ok and done.exit_code == 127


def test_stop_kills_a_running_validation(tmp_path: Path) -> None:
    events: queue.Queue[ValidationDone] = queue.Queue()
    validator = Validator(tmp_path, tmp_path / "logs", events.put)
    validator.start("T-1", 1, ["sleep 60"], 600)
    deadline = time.monotonic() + 10
    while not (tmp_path / "logs" / "T-1-1.log").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    started = time.monotonic()
    validator.stop()
    assert time.monotonic() - started < 10
    assert validator.running() == 0
    assert events.empty()  # a stopped validation reports nothing: it runs again at the next start

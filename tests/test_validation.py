"""Validation commands as real subprocesses: pass, fail, time out, print a lot."""

from __future__ import annotations

import queue
import signal
import time
from pathlib import Path

from orchestrator.core.state import ValidationDone
from orchestrator.daemon.validation import GROUP_SUFFIX, Validator

from .conftest import Workspace, simple_tasks, wait_until


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


def _running(pid: int) -> bool:
    """Alive and not a zombie (an orphan of a killed daemon may wait to be reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def test_a_validation_left_by_a_killed_daemon_is_ended_before_its_rerun(
    workspace: Workspace,
) -> None:
    """kill -9 of the daemon while a validation runs: its process group lives on. The next
    daemon ends it before validating again, so two runs never share the workdir and log."""
    ws = workspace
    ws.sim_agents(["a"], delay=0.2)
    ran = ws.root / "ran.txt"
    # The first run starts a background child and sleeps; the re-run passes at once.
    check = 'echo $$ >> ran.txt; [ "$(wc -l < ran.txt)" -ge 2 ] || { sleep 60 & sleep 60; }'
    ws.write_queue("q.yaml", simple_tasks("L", ["a"], 1, validate=[check]))
    daemon = ws.start()
    try:
        wait_until(lambda: ran.exists() and ran.read_text().strip(), 60, "the first validation")
        # ... and the daemon's record of its process group (written just after it started:
        # a kill -9 in between leaves a group the next daemon cannot know of)
        record = ws.root / ".orchestrate" / "logs" / f"L-000-1{GROUP_SUFFIX}"
        wait_until(record.exists, 30, "the record of the validation's process group")
    finally:
        daemon.send_signal(signal.SIGKILL)
        daemon.wait(timeout=20)
    first = int(ran.read_text().split()[0])
    children = [
        int(p.name)
        for p in Path("/proc").iterdir()
        if p.name.isdigit() and _group_of(int(p.name)) == first
    ]
    assert _running(first) and len(children) >= 2  # the shell and its sleeps outlived it
    result = ws.finish()
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    assert not any(_running(pid) for pid in children)
    assert len(ran.read_text().split()) == 2  # the re-run ran once, and alone
    journal = ws.journal()
    assert "its validation was still running, left by the previous daemon" in journal
    assert ws.statuses() == {"L-000": "done"}
    assert not list((ws.root / ".orchestrate" / "logs").glob("*.pgid"))


def test_a_daemon_killed_as_a_validation_starts_leaves_nothing_running(
    workspace: Workspace,
) -> None:
    """kill -9 right after a check's shell started, before its process group is recorded
    (fault point `validating`): the shell waits for the record before it runs the check, so
    the check runs once, by the next daemon; none is left running that nobody knows of."""
    ws = workspace
    ws.sim_agents(["a"], delay=0.2)
    ran = ws.root / "ran.txt"
    ws.write_queue("q.yaml", simple_tasks("L", ["a"], 1, validate=["sleep 1; echo $$ >> ran.txt"]))
    daemon = ws.start("--exit-when-done", env={"ORCHESTRATE_FAULT": "validating:1"})
    assert daemon.wait(timeout=120) == -signal.SIGKILL, ws.daemon_log()[-3000:]
    result = ws.finish()
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    assert ws.statuses() == {"L-000": "done"}
    assert len(ran.read_text().split()) == 1  # the check ran once: the killed one never did


def _group_of(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[2])
    except (FileNotFoundError, IndexError, ValueError):
        return None

"""The state database in trouble: a full disk, a read-only or corrupt file. Every command and
the daemon say which file and what to do (never a traceback); the daemon sends nothing it
could not record, and goes on once the cause is fixed.

The full and read-only disks are real: a small tmpfs mounted on the workspace's
`.orchestrate/` (root is needed to mount; CI runs as root).
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.adapters.store import Store
from orchestrator.errors import StateError

from .conftest import Workspace, simple_tasks, wait_until


@pytest.fixture
def small_disk(workspace: Workspace) -> Iterator[Path]:
    """`.orchestrate/` on a tmpfs of 16 MB of its own, unmounted at the end."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small file system needs root")
    where = workspace.root / ".orchestrate"
    where.mkdir(mode=0o700)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m,mode=0700", "tmpfs", str(where)], check=True
    )
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(disk: Path) -> Path:
    """Write zeros until the file system is full. Unbuffered: a buffered file still holds
    the bytes of the write that failed, and its close fails again trying to write them."""
    filler = disk / "filler"
    with filler.open("wb", buffering=0) as out:
        try:
            while True:
                out.write(b"\0" * 65536)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return filler


def test_a_full_disk_holds_the_work_and_the_run_goes_on_once_there_is_room(
    workspace: Workspace, small_disk: Path
) -> None:
    ws = workspace
    ws.sim_agents(["a", "b"], delay=0.4)
    tasks = simple_tasks("F", ["a", "b"], 12)
    ws.write_queue("q.yaml", tasks)
    ids = [t["id"] for t in tasks]
    daemon = ws.start()
    try:
        wait_until(lambda: list(ws.statuses().values()).count("done") >= 2, 90, "two done")
        filler = fill(small_disk)
        wait_until(lambda: "the disk is full" in ws.daemon_log(), 60, "the full disk told")
        told = ws.daemon_log()
        assert str(small_disk / "state.db") in told
        # No prompt goes out that could not be recorded: while the disk stays full, every
        # prompt an agent received is one the store holds.
        held = len(ws.received())
        filler.unlink()
        wait_until(lambda: set(ws.statuses().values()) == {"done"}, 120, "every task done")
        assert held < len(ids)  # the disk filled mid-run, not after it
    finally:
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=30) == 0, ws.daemon_log()[-3000:]
    assert ws.markers() == Counter({f"[orchestrate {i} #1]": 1 for i in ids})
    assert "Traceback" not in ws.daemon_log()
    assert "the state database can be written again" in ws.journal()


def test_a_full_disk_at_start_is_a_message_not_a_traceback(
    workspace: Workspace, small_disk: Path
) -> None:
    ws = workspace
    ws.sim_agents(["a"], delay=0.2)
    ws.write_queue("q.yaml", simple_tasks("G", ["a"], 2))
    filler = fill(small_disk)
    result = ws.cli("start", "--plain", "--exit-when-done", timeout=60)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr + result.stdout
    assert str(small_disk) in result.stderr
    assert "the disk is full: free some space" in result.stderr
    assert ws.received() == []
    filler.unlink()
    again = ws.cli("start", "--plain", "--exit-when-done", timeout=120)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr
    assert ws.markers() == Counter({"[orchestrate G-000 #1]": 1, "[orchestrate G-001 #1]": 1})


def test_a_disk_full_as_the_daemon_starts_holds_the_start_until_there_is_room(
    workspace: Workspace, small_disk: Path
) -> None:
    """In this process, so that the disk fills at a known point: once the database is open,
    as the daemon journals its start. It says so, tries again each second, and once there
    is room starts (journaled once) and runs: before, it exited saying it would try again."""
    ws = workspace
    ws.sim_agents(["a"], delay=0.2)
    ws.write_queue("q.yaml", simple_tasks("G", ["a"], 2))
    filler: Path | None = None
    calls = 0

    def clock() -> float:
        nonlocal calls, filler
        calls += 1
        if calls == 1:  # the stamp of "daemon started"
            filler = fill(small_disk)
        elif calls == 4 and filler is not None:  # a few tries later
            filler.unlink()
        return time.time()

    daemon = ws.in_process(clock)
    assert daemon.run() == 0
    told = daemon.view.stream.getvalue()  # type: ignore[attr-defined]
    assert "the disk is full: free some space" in told
    assert ws.statuses() == {"G-000": "done", "G-001": "done"}
    assert ws.markers() == Counter({"[orchestrate G-000 #1]": 1, "[orchestrate G-001 #1]": 1})
    journal = ws.journal()
    assert journal.count("daemon started in") == 1
    assert "the state database can be written again" in journal


def test_a_read_only_state_folder_is_a_message_for_every_command(
    workspace: Workspace, small_disk: Path
) -> None:
    ws = workspace
    ws.sim_agents(["a"], delay=0.2)
    ws.write_queue("q.yaml", simple_tasks("R", ["a"], 1))
    assert ws.cli("start", "--plain", "--exit-when-done", timeout=120).returncode == 0
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    try:
        for args in (("start", "--plain", "--exit-when-done"), ("pause", "a")):
            result = ws.cli(*args, timeout=60)
            assert result.returncode == 1, (args, result.stdout, result.stderr)
            assert "Traceback" not in result.stderr + result.stdout, args
            assert str(small_disk) in result.stderr, (args, result.stderr)
            assert "make it writable" in result.stderr, (args, result.stderr)
        status = ws.cli("status", "--json")  # reading needs no writing
        assert status.returncode == 0, status.stderr
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(small_disk)], check=True)


@pytest.mark.parametrize(
    "garbage",
    [b"not a database at all\n" * 200, b"SQLite format 3\x00" + b"\xff" * 8192],
    ids=["not-a-database", "damaged"],
)
def test_a_corrupt_state_database_is_a_message_for_every_command(
    workspace: Workspace, garbage: bytes
) -> None:
    ws = workspace
    ws.sim_agents(["a"], delay=0.2)
    ws.write_queue("q.yaml", simple_tasks("C", ["a"], 1))
    assert ws.cli("start", "--plain", "--exit-when-done", timeout=120).returncode == 0
    db = ws.root / ".orchestrate" / "state.db"
    for extra in (db.with_name("state.db-wal"), db.with_name("state.db-shm")):
        extra.unlink(missing_ok=True)
    db.write_bytes(garbage)
    for args in (
        ("start", "--plain", "--exit-when-done"),
        ("status",),
        ("status", "--json"),
        ("logs",),
        ("retry", "C-000"),
        ("report",),
    ):
        result = ws.cli(*args, timeout=60)
        assert result.returncode == 1, (args, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr + result.stdout, args
        assert f"mv {db} {db}.corrupt" in result.stderr, (args, result.stderr)


def test_store_errors_name_the_file_and_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(b"garbage" * 1000)
    with pytest.raises(StateError) as caught:
        Store(path)
    assert str(caught.value).startswith(f"state database {path}: file is not a database: ")
    assert "move it aside" in str(caught.value)

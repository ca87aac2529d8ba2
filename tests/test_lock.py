"""One daemon per workspace, whatever happens to `.orchestrate/` while it runs, and an honest
`start --detach` (real daemons, real tmux, simulated agents)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from orchestrator.adapters.database import Guarded
from orchestrator.adapters.lock import Lock, holder
from orchestrator.adapters.statedir import OK, REPLACED, RESTORED, StateGuard
from orchestrator.adapters.store import Store
from orchestrator.cli.control import send_command
from orchestrator.errors import AlreadyRunning

from .conftest import Workspace, simple_tasks, wait_until


def delivered_once(ws: Workspace, ids: list[str]) -> bool:
    return ws.markers() == Counter({f"[orchestrate {i} #1]": 1 for i in ids})


def daemons_of(ws: Workspace) -> list[int]:
    """The pids of the processes running `orchestrate -C ROOT start` for this workspace."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:  # the process ended while we looked
            continue
        if str(ws.root).encode() in argv and b"start" in argv and b"orchestrator" in argv:
            found.append(int(entry.name))
    return found


def wipe(ws: Workspace, how: str) -> None:
    """Remove `.orchestrate/` as a person would, again if the running daemon wrote a file
    into it as it went (the removal then fails: 'Directory not empty')."""
    for _ in range(5):
        if how == "rm -rf":
            try:
                shutil.rmtree(ws.root / ".orchestrate")
                return
            except OSError:
                continue
        # init puts .orchestrate/ in .gitignore: git clean -fdX removes it
        done = subprocess.run(
            ["git", "clean", "-fdXq"], cwd=ws.root, capture_output=True, check=False
        )
        if done.returncode == 0:
            return
    raise AssertionError(f"{how} could not remove .orchestrate/ in 5 tries")


@pytest.mark.parametrize("how", ["rm -rf", "git clean -fdX"])
def test_a_vanished_state_folder_lets_no_second_daemon_in_and_the_run_goes_on(
    workspace: Workspace, how: str
) -> None:
    ws = workspace
    subprocess.run(["git", "init", "-q"], cwd=ws.root, check=True)
    (ws.root / ".gitignore").write_text(".orchestrate/\n", encoding="utf-8")
    ws.sim_agents(["a", "b"], delay=0.4)
    tasks = simple_tasks("T", ["a", "b"], 10)
    ws.write_queue("q.yaml", tasks)
    ids = [str(t["id"]) for t in tasks]
    with ws.running() as daemon:
        wait_until(lambda: list(ws.statuses().values()).count("done") >= 2, 60, "two tasks done")
        wipe(ws, how)
        # A command at once (in this process: before the daemon's next tick) waits for the
        # daemon to restore its state, and is answered; it makes no database of its own.
        ok, said = send_command(ws.root, "pause", "b")
        assert ok and said.startswith("b: paused"), said
        ok, said = send_command(ws.root, "resume", "b")
        assert ok and said.startswith("b: resumed"), said
        wait_until(lambda: list(ws.statuses().values()).count("done") >= 4, 60, "four tasks done")
        wipe(ws, how)  # again, the restored folder this time
        # A second daemon is refused at once, naming the first; exit 1.
        second = ws.cli("start", "--plain", "--exit-when-done", timeout=60)
        assert second.returncode == 1, second.stdout[-2000:] + second.stderr
        assert "a daemon already runs" in second.stderr and f"pid {daemon.pid}" in second.stderr
        detached = ws.cli("start", "--detach", "--no-window")
        assert detached.returncode == 1 and f"pid {daemon.pid}" in detached.stderr
        assert ws.status()["daemon"] == "running"
        wait_until(lambda: set(ws.statuses().values()) == {"done"}, 90, "every task done")
        assert (ws.root / ".orchestrate" / "state.db").exists()
        assert (ws.root / ".orchestrate").stat().st_mode & 0o777 == 0o700
        assert holder(ws.root / ".orchestrate" / "daemon.lock") == daemon.pid
        assert daemon.poll() is None
    assert daemon.returncode == 0, ws.daemon_log()[-3000:]
    assert delivered_once(ws, ids), ws.markers()
    logs = ws.journal(100000)
    assert "state-restored" in logs
    # Nothing recorded before the deletion was lost: the first dispatches are in the journal.
    assert "T-000 -> a (attempt 1)" in logs and "daemon started" in logs
    assert "b: paused by the operator" in logs
    assert ws.status()["daemon"] == "stopped"


def test_stop_finds_the_daemon_when_its_pid_file_is_gone(workspace: Workspace) -> None:
    ws = workspace
    ws.sim_agents(["a"], delay=0.3)
    ws.write_queue("q.yaml", simple_tasks("T", ["a"], 1))
    daemon = ws.start()
    try:
        lock = ws.root / ".orchestrate" / "daemon.lock"
        wait_until(lambda: holder(lock) == daemon.pid, 30, "the daemon to hold the lock")
        wipe(ws, "rm -rf")  # again if the daemon wrote into it meanwhile
        stopped = ws.cli("stop")
        assert stopped.returncode == 0, stopped.stderr
        assert f"pid {daemon.pid}" in stopped.stdout
        assert daemon.wait(timeout=20) == 0
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait(timeout=20)
    assert ws.cli("stop").returncode == 1


def test_a_replaced_state_folder_stops_the_daemon_and_keeps_its_state(
    workspace: Workspace, tmp_path: Path
) -> None:
    """Another database put in place of the daemon's: it stops typing and says what to do;
    its own state is kept, and with it the run goes on: every task once."""
    ws = workspace
    ws.sim_agents(["a", "b"], delay=0.4)
    tasks = simple_tasks("T", ["a", "b"], 10)
    ws.write_queue("q.yaml", tasks)
    ids = [str(t["id"]) for t in tasks]
    state = ws.root / ".orchestrate"
    other = tmp_path / "other"
    daemon = ws.start()
    try:
        wait_until(lambda: "done" in ws.statuses().values(), 60, "a task done")
        # An older copy of the state (a backup, another checkout's) is put back in place.
        source = sqlite3.connect(state / "state.db")
        with closing(sqlite3.connect(other)) as copy:
            source.backup(copy)
        source.close()
        shutil.rmtree(state)
        state.mkdir()
        shutil.copy(other, state / "state.db")
        assert daemon.wait(timeout=30) == 1, ws.daemon_log()[-3000:]
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait(timeout=20)
    said = ws.daemon_log()
    assert "was replaced" in said and "Traceback" not in said, said[-3000:]
    (kept,) = state.glob("state-kept-*.db")
    assert str(kept) in said
    assert ws.status()["daemon"] == "stopped"
    # What the message says to do: go on with the daemon's own state.
    for stale in ("state.db", "state.db-wal", "state.db-shm"):
        (state / stale).unlink(missing_ok=True)
    kept.rename(state / "state.db")
    result = ws.cli("start", "--plain", "--exit-when-done", timeout=180)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    assert ws.statuses() == dict.fromkeys(ids, "done")
    assert delivered_once(ws, ids), ws.markers()


def test_a_detached_daemon_goes_on_logging_into_its_restored_folder(workspace: Workspace) -> None:
    ws = workspace
    ws.sim_agents(["a"], delay=0.3)
    ws.write_queue("q.yaml", simple_tasks("T", ["a"], 3))
    assert ws.cli("start", "--detach", "--no-window").returncode == 0
    log = ws.root / ".orchestrate" / "daemon.log"
    try:
        wait_until(lambda: "done" in ws.statuses().values(), 60, "a task done")
        shutil.rmtree(ws.root / ".orchestrate")
        wait_until(lambda: log.exists() and "state-restored" in log.read_text(), 20, "the log")
        wait_until(lambda: set(ws.statuses().values()) == {"done"}, 60, "every task done")
    finally:
        assert ws.cli("stop").returncode == 0
    assert "daemon-stop" in log.read_text()  # written after the restore, into the new log
    assert delivered_once(ws, ["T-000", "T-001", "T-002"]), ws.markers()


@pytest.mark.parametrize("where", ["--window", "--no-window"])
def test_start_detach_five_times_at_once_runs_one_daemon_and_refuses_four(
    workspace: Workspace, where: str
) -> None:
    ws = workspace
    ws.sim_agents(["a"], delay=0.3)
    ws.write_queue("q.yaml", simple_tasks("T", ["a"], 2))
    argv = [sys.executable, "-m", "orchestrator", "-C", str(ws.root), "start", "--detach", where]

    def launch(_: int) -> subprocess.CompletedProcess[str]:
        return subprocess.run(argv, capture_output=True, text=True, timeout=90, check=False)

    try:
        with ThreadPoolExecutor(5) as pool:
            results = list(pool.map(launch, range(5)))
        pid = holder(ws.root / ".orchestrate" / "daemon.lock")
        assert pid is not None and pid > 0
        said = "\n".join(r.stdout + r.stderr for r in results)
        started = [r for r in results if r.returncode == 0]
        refused = [r for r in results if r.returncode != 0]
        assert len(started) == 1, said
        assert f"running {'in the background' if where == '--no-window' else 'in tmux'}" in (
            started[0].stdout
        )
        assert f"(pid {pid})" in started[0].stdout, said
        assert len(refused) == 4, said
        for r in refused:
            assert r.returncode == 1 and "running" not in r.stdout, said
            assert "a daemon already runs" in r.stderr and f"pid {pid}" in r.stderr, said
        # Only that one daemon runs (a refused launch leaves no process behind).
        wait_until(lambda: daemons_of(ws) == [pid], 20, f"only pid {pid}: {daemons_of(ws)}")
        wait_until(lambda: set(ws.statuses().values()) == {"done"}, 60, "the tasks done")
    finally:
        stopped = ws.cli("stop")
    assert stopped.returncode == 0, stopped.stderr
    wait_until(lambda: not daemons_of(ws), 20, "no daemon left")
    assert delivered_once(ws, ["T-000", "T-001"]), ws.markers()


def test_holder_names_the_daemon_when_its_pid_file_is_gone(tmp_path: Path) -> None:
    pid_file = tmp_path / ".orchestrate" / "daemon.lock"
    lock = Lock(pid_file)
    lock.acquire()
    try:
        assert holder(pid_file) == os.getpid()
        shutil.rmtree(pid_file.parent)
        assert holder(pid_file) == os.getpid()  # the lock is the workspace folder's
        with pytest.raises(AlreadyRunning, match=f"pid {os.getpid()}"):
            Lock(pid_file).acquire()
        assert lock.mark() and pid_file.read_text() == f"{os.getpid()}\n"
        assert not lock.mark()  # already ours: not written again
    finally:
        lock.release()
    assert holder(pid_file) is None


def opened(tmp_path: Path) -> tuple[Store, StateGuard]:
    store = Store(tmp_path / ".orchestrate" / "state.db")
    with store.transaction():
        store.set_meta("started", "1.0")
        store.add_command("pause", "before")
    return store, StateGuard(store)


def test_a_vanished_database_is_restored_from_the_open_one_with_all_it_recorded(
    tmp_path: Path,
) -> None:
    store, guard = opened(tmp_path)
    try:
        assert guard.check().kind == OK
        shutil.rmtree(store.path.parent)
        with store.transaction():  # recorded after the deletion, before the check
            store.add_command("pause", "during")
        found = guard.check()
        assert found.kind == RESTORED and "deleted or moved" in found.message
        with store.transaction():
            store.add_command("pause", "after")
        assert guard.check().kind == OK
        assert store.path.parent.stat().st_mode & 0o777 == 0o700
        reader = Store(store.path, readonly=True)  # what every command reads
        try:
            targets = [t for _, _, t in reader.pending_commands()]
        finally:
            reader.close()
        assert targets == ["before", "during", "after"]
    finally:
        store.close()


def test_a_database_made_by_a_command_meanwhile_is_replaced_its_commands_carried(
    tmp_path: Path,
) -> None:
    store, guard = opened(tmp_path)
    try:
        shutil.rmtree(store.path.parent)
        stray = Store(store.path)  # an older `orchestrate pause` while the folder was gone
        with stray.transaction():
            stray.add_command("pause", "stray")
        stray.close()
        found = guard.check()
        assert found.kind == RESTORED and "1 queued command(s) carried over" in found.message
        assert [t for _, _, t in store.pending_commands()] == ["before", "stray"]
        assert store.get_meta("started") == "1.0"
    finally:
        store.close()


def test_another_state_put_in_place_is_left_alone_and_ours_is_kept(tmp_path: Path) -> None:
    store, guard = opened(tmp_path)
    try:
        shutil.rmtree(store.path.parent)
        other = Store(store.path)  # another daemon's state, still open (its WAL in use)
        with other.transaction():
            other.set_meta("started", "2.0")
            other.add_command("pause", "theirs")
        found = guard.check()
        assert found.kind == REPLACED and found.kept is not None
        assert "was replaced" in found.message and str(found.kept) in found.message
        guard.keep(found.kept, found.message)
        assert found.message in (store.path.parent / "daemon.log").read_text()
        assert guard.check().kind == OK  # said once
        store.close()  # sqlite must not checkpoint into, or delete, the other's files
        with other.transaction():
            other.add_command("pause", "theirs-again")
        other.close()
        for path, targets in ((store.path, ["theirs", "theirs-again"]), (found.kept, ["before"])):
            reader = Store(path, readonly=True)
            try:
                assert [t for _, _, t in reader.pending_commands()] == targets
            finally:
                reader.close()
    finally:
        store.close()


def test_a_state_folder_gone_before_the_watch_starts_is_left_out(tmp_path: Path) -> None:
    """The folder deleted between the watch's schedule and its start (what a daemon met
    when `.orchestrate/` was removed as it started): the watch starts without it, the board
    is still watched, and nothing is left running once it stops."""
    from orchestrator.adapters.watcher import BoardChanged, Watcher

    (tmp_path / "queues").mkdir()
    (tmp_path / ".orchestrate").mkdir()
    board = tmp_path / "CLAUDE.md"
    board.write_text("# Board\n")
    seen: list[object] = []
    watcher = Watcher(
        board, tmp_path / "queues", tmp_path / ".orchestrate" / "control", seen.append
    )
    shutil.rmtree(tmp_path / ".orchestrate")
    watcher.start()
    try:
        with board.open("a") as handle:
            handle.write("### TODO-X: COMPLETED\n")
        wait_until(lambda: any(isinstance(e, BoardChanged) for e in seen), 20, "a board event")
    finally:
        watcher.stop()
    Watcher(board, tmp_path / "queues", tmp_path / "nowhere" / "control", seen.append).stop()


@pytest.mark.parametrize("statement", [1, 2, 3, 8])
def test_a_state_folder_deleted_as_the_daemon_opens_it_is_made_again(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch, statement: int
) -> None:
    """In this process, so that the folder goes at a known point: at one of the first
    statements on the new database (its first three then fail with a disk I/O error: seen
    once in a loaded run, where the daemon exited saying it would try again)."""
    ws = workspace
    ws.sim_agents(["a"], delay=0.2)
    ws.write_queue("q.yaml", simple_tasks("T", ["a"], 2))
    execute, calls = Guarded.execute, 0

    def deleting(self: Guarded, sql: str, args: Any = ()) -> Any:
        nonlocal calls
        calls += 1
        if calls == statement:
            shutil.rmtree(ws.root / ".orchestrate")
        return execute(self, sql, args)

    monkeypatch.setattr(Guarded, "execute", deleting)
    assert ws.in_process().run() == 0
    monkeypatch.undo()
    assert ws.statuses() == {"T-000": "done", "T-001": "done"}
    assert delivered_once(ws, ["T-000", "T-001"])
    assert ws.journal().count("daemon started in") == 1

"""Running the daemon and reaching it: started (`start`: in the foreground, or detached in
its tmux window or in the background), followed read-only (`watch`), shown (`attach`)."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from ..adapters.lock import UNKNOWN, holder, launching
from ..adapters.procs import have_proc, stat_fields
from ..config import queueset
from ..config import settings as config
from ..errors import ConfigError, OrchestrateError
from ..paths import PACKAGE_HOME
from ..views.snapshot import read_snapshot

if TYPE_CHECKING:
    from ..views.dashboard import View


def start(
    root: Path, detached: bool, exit_when_done: bool, window: bool, plain: bool
) -> tuple[int, list[str]]:
    """`start`: the daemon run here until it stops, or `detached` (started away from this
    terminal). The exit code, and the lines to print (on stderr unless the code is 0)."""
    # Fail early, with every FILE:LINE, on a broken orchestrate.yaml or queue file: at start
    # there is no last good version to keep.
    _, problems = queueset.check_workspace(root, board=False)
    if problems:
        raise ConfigError(problems)
    running = holder(root / ".orchestrate" / "daemon.lock")
    if running is not None:
        return 1, [already_runs(root, running)]
    if detached:
        ok, lines = detach(root, exit_when_done, window)
        return (0 if ok else 1), lines
    from ..views.dashboard import view_for  # rich: imported by the commands that draw with it

    return run_daemon(root, view_for(plain), exit_when_done), []


def run_daemon(root: Path, view: View, exit_when_done: bool) -> int:
    from ..adapters.tmux import Tmux, server_for
    from ..daemon.loop import Daemon

    settings = config.load_settings(root)
    daemon = Daemon(root, Tmux(server_for(settings.socket)), view, exit_when_done=exit_when_done)

    def on_signal(signum: int, frame: object) -> None:
        # Not from the handler itself: the main thread may hold the queue's lock.
        threading.Thread(target=daemon.stop, daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    try:
        return daemon.run()
    finally:
        view.close()


DAEMON_WINDOW = config.DAEMON_WINDOW


def already_runs(root: Path, pid: int) -> str:
    """Why a second daemon may not start: who holds the workspace."""
    pid_file = root / ".orchestrate" / "daemon.lock"
    if pid == UNKNOWN:
        who = f"its pid file {pid_file} is gone; it writes it again within a second"
    else:
        who = f"pid {pid} holds {pid_file}"
    return f"a daemon already runs for {root} ({who}); `orchestrate stop` stops it"


def detach(root: Path, exit_when_done: bool, window: bool) -> tuple[bool, list[str]]:
    """Start the daemon away from this terminal: in a tmux window of the agents' session
    (attaching shows its dashboard beside the agents), or as a background process. Says
    "running" only once the daemon it started holds the lock; launches never overlap."""
    state_dir = root / ".orchestrate"
    pid_file = state_dir / "daemon.lock"
    with launching(state_dir):
        running = holder(pid_file)
        if running is not None:
            return False, [already_runs(root, running)]
        log_path = state_dir / "daemon.log"
        argv = [sys.executable, "-m", "orchestrator", "-C", str(root), "start"]
        if exit_when_done:
            argv.append("--exit-when-done")
        fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.close(fd)
        if window:
            where, child = start_in_window(root, argv, log_path)
        else:
            with log_path.open("a") as log_file:
                proc = subprocess.Popen(
                    [*argv, "--plain"],
                    stdin=subprocess.DEVNULL,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            where, child = "in the background", proc.pid
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            running = holder(pid_file)
            if running == child:
                on = f"-C {root} " if root != Path.cwd() else ""
                lines = [f"orchestrate daemon running {where} (pid {child})"]
                if window:
                    lines.append(f"  watch:   orchestrate {on}attach {DAEMON_WINDOW}")
                lines += [
                    f"  follow:  orchestrate {on}logs -f",
                    f"  status:  orchestrate {on}status",
                    f"  stop:    orchestrate {on}stop",
                    f"  log:     {log_path}",
                ]
                return True, lines
            if not (_alive(child) if window else proc.poll() is None):
                if running is not None:  # another start got there first: ours was refused
                    return False, [already_runs(root, running)]
                break
            time.sleep(0.05)
        else:
            return False, [
                f"the daemon (pid {child}) did not take the workspace's lock within 20 s; "
                f"its errors go to {log_path}",
                *_tail(log_path),
            ]
    return False, [f"the daemon did not start (its errors go to {log_path}):", *_tail(log_path)]


def _tail(log_path: Path) -> list[str]:
    return [f"  {line}" for line in log_path.read_text(errors="replace").splitlines()[-15:]]


def _alive(pid: int) -> bool:
    """Whether a process (not our child: the tmux server's) still runs; a zombie does not."""
    fields = stat_fields(pid)
    if fields is None and not have_proc():  # ask the kernel (a zombie then counts as running)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return fields is not None and fields[:1] not in (["Z"], ["X"])


def start_in_window(root: Path, argv: list[str], log_path: Path) -> tuple[str, int]:
    """Run `argv` in the session's window DAEMON_WINDOW (created after the agents' windows,
    or reused); its errors are appended to the log. Only our own paths are in the line.
    Where it runs, and its pid (the pane's: the shell execs it), 0 if it ended at once."""
    from ..adapters.tmux import Tmux, server_for

    settings = config.load_settings(root)
    tmux = Tmux(server_for(settings.socket))
    session = tmux.ensure_session(settings.session, settings.workdir)
    package = PACKAGE_HOME
    command = (
        f"exec env PYTHONPATH={shlex.quote(str(package))} {shlex.join(argv)} "
        f"2>>{shlex.quote(str(log_path))}"
    )
    pane = tmux.find_window(session, DAEMON_WINDOW)
    if pane is not None:
        tmux.respawn(pane, command, root)
    else:
        taken = [*tmux.window_indexes(session)]
        taken += [int(a.window) for a in settings.agents if str(a.window).isdigit()]
        index = max(taken, default=0) + 1
        pane = tmux.create_window(session, index, DAEMON_WINDOW, command, root, keep=False)
    info = tmux.panes().get(pane)
    pid = info.pid if info is not None and not info.dead else 0
    return f"in tmux window '{DAEMON_WINDOW}' of session {settings.session}", pid


def follow(root: Path, view: View, interval: float) -> None:
    """`watch`: draw a daemon's state and journal from the store (read-only) until Ctrl-C."""
    from ..adapters.store import Store
    from ..views.dashboard import EVENTS_SHOWN

    db = config.load_settings(root).state_dir / "state.db"
    store: Store | None = None
    after = 0
    try:
        while True:
            if store is None and db.exists():
                store = Store(db, readonly=True)
                # The last few events once, then only what comes after them (one query: an
                # event that lands in between is neither lost nor shown twice).
                recent = store.events(limit=EVENTS_SHOWN)
                for e in recent:
                    view.event(e.kind, e.message, e.task, e.agent, e.ts)
                after = recent[-1].seq if recent else 0
            if store is not None:
                for e in store.events(after=after):
                    view.event(e.kind, e.message, e.task, e.agent, e.ts)
                    after = e.seq
            view.update(read_snapshot(root, time.time()))
            time.sleep(interval)
    except KeyboardInterrupt:
        return
    finally:
        view.close()
        if store is not None:
            store.close()


def show(root: Path, agent: str | None) -> None:
    """`attach`: bring the person to an agent's window (or the daemon's, or the session)."""
    from ..adapters.store import Store
    from ..adapters.tmux import Tmux, server_for

    settings = config.load_settings(root)
    tmux = Tmux(server_for(settings.socket))
    session = tmux.session_id(settings.session)
    if session is None:
        raise OrchestrateError(
            f"no tmux session {settings.session!r}: `orchestrate start` creates it"
        )
    pane: str | None = None
    if agent is None:
        pane = tmux.find_window(session, DAEMON_WINDOW)
        if pane is None:
            pane = next((p.id for p in tmux.panes().values() if p.session == session), None)
    elif agent == DAEMON_WINDOW:
        pane = tmux.find_window(session, DAEMON_WINDOW)
    else:
        db = settings.state_dir / "state.db"
        if db.exists():
            store = Store(db, readonly=True)
            try:
                pane = store.panes().get(agent)
            finally:
                store.close()
        if pane is None or pane not in tmux.panes():
            known = settings.agent(agent)
            pane = tmux.find_window(session, known.window if known else agent)
    if pane is None:
        names = [a.name for a in settings.agents] or _stored_agents(settings)
        listed = f"agents: {', '.join(names)}" if names else "no agent is declared"
        raise OrchestrateError(
            f"no window for {agent!r} in session {settings.session!r} ({listed}; "
            f"or {DAEMON_WINDOW!r}, the daemon's window under `start --detach`)"
        )
    tmux.show(pane)


def _stored_agents(settings: config.Settings) -> list[str]:
    """The agents the daemon last knew (those a queue named, when none is declared)."""
    from ..adapters.store import Store

    db = settings.state_dir / "state.db"
    if not db.exists():
        return []
    store = Store(db, readonly=True)
    try:
        return sorted(store.panes())
    finally:
        store.close()

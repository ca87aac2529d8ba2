"""The operator's hand on a daemon: `stop` (the daemon signalled, its lock waited for), and
the commands `retry`, `cancel`, `dispatch`, `pause` and `resume`, queued in the state for
the daemon to answer (with no daemon running, refused at once if the stored state already
refuses them, else kept for the next start)."""

from __future__ import annotations

import os
import signal
import time
from contextlib import suppress
from pathlib import Path

from ..adapters.lock import UNKNOWN, holder, touch_private
from ..errors import OrchestrateError


def stop(root: Path) -> tuple[bool, str]:
    """`stop`: SIGTERM to the running daemon, then its lock waited for (30 s). Whether it
    stopped, and what to say (on stderr if not)."""
    lock = root / ".orchestrate" / "daemon.lock"
    pid = daemon_pid(lock)
    if pid is None:
        return False, f"no daemon runs for {root}"
    if pid == UNKNOWN:
        return False, (
            f"a daemon runs for {root}, but its pid file {lock} is gone and it has not written "
            f"it again: find it with `ps -ef | grep 'orchestrator -C {root}'` and `kill` it"
        )
    with suppress(ProcessLookupError):  # it ended meanwhile: the wait sees the lock free
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if holder(lock) is None:
            return True, f"stopped the daemon (pid {pid})"
        time.sleep(0.05)
    return False, f"the daemon (pid {pid}) did not stop within 30 s"


def daemon_pid(lock: Path) -> int | None:
    """The running daemon's pid, None if none runs, UNKNOWN if its pid cannot be told. A
    daemon whose pid file went with its folder writes it again at its next tick: waited
    for, a few seconds."""
    deadline = time.monotonic() + 5
    while (pid := holder(lock)) == UNKNOWN and time.monotonic() < deadline:
        time.sleep(0.05)
    return pid


def send_command(root: Path, command: str, target: str) -> tuple[bool, str]:
    """Queue an operator's command in the state; the daemon's answer if one runs (within
    10 s). With no daemon, a command the stored state already refuses is not queued; the
    others wait for the next start."""
    from ..adapters.store import Store

    state_dir = root / ".orchestrate"
    running = holder(state_dir / "daemon.lock")
    if running is not None and not (state_dir / "state.db").exists():
        # Its folder was deleted: the daemon restores it at its next tick (within a second).
        # Never a new database beside the daemon's: the command would be lost in it.
        deadline = time.monotonic() + 5
        while not (state_dir / "state.db").exists():
            if time.monotonic() > deadline:
                return False, (
                    f"{state_dir / 'state.db'} is missing and the daemon running for {root} "
                    f"has not restored it within 5 s: its log ({state_dir / 'daemon.log'}, or "
                    "its window or terminal) says why; nothing queued"
                )
            time.sleep(0.05)
    if running is None:
        try:
            refused = _refusal(root, command, target)
        except OrchestrateError:
            refused = ""  # a workspace it cannot read: the daemon will say so when it starts
        if refused:
            return False, f"{refused} (no daemon runs; nothing queued)"
    store = Store(state_dir / "state.db")
    try:
        with store.transaction():
            seq = store.add_command(command, target)
        touch_private(state_dir / "control")
        if holder(state_dir / "daemon.lock") is None:
            return True, f"{command} {target}: queued; applied when the daemon next starts"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            answer = store.command_answer(seq)
            if answer is not None:
                return answer
            time.sleep(0.05)
    finally:
        store.close()
    return False, f"{command} {target}: queued, but the daemon has not answered within 10 s"


def _refusal(root: Path, command: str, target: str) -> str:
    """Why the daemon would refuse `command target` on the stored state, after the commands
    already waiting for it, with the tasks of the queue files it has not read yet ('' if it
    would not)."""
    from ..core import state as st
    from ..core.controls import on_control
    from ..views.snapshot import read_stored

    stored = read_stored(root, queues=True)
    state = stored.state
    now = time.time()
    for earlier in stored.commands:
        state = st.fold(state, on_control(state, st.Control(*earlier)), now)
    answers = [
        a for a in on_control(state, st.Control(command, target)) if isinstance(a, st.Answer)
    ]
    return "" if all(a.ok for a in answers) else "; ".join(a.message for a in answers)

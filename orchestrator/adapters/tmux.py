"""Every tmux call goes through here; the only module that imports libtmux.

Panes are addressed by their ids (`%N`), never by names tmux could prefix-match. What is
typed into a pane (a paste, Enter, keys) is keys.py's, which is given the calls made here
(`_run`, and `_argv` for the one call that needs stdin).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import libtmux

from ..errors import TmuxError
from .keys import Keys
from .procs import stat_fields

T = TypeVar("T")
CLIENTS = 16  # tmux calls made at once by `submit`


@dataclass(frozen=True)
class PaneInfo:
    id: str
    dead: bool
    in_mode: bool
    pid: int
    command: str
    session: str
    window: str
    label: str  # "index:name" of its window
    activity: float  # when its window last printed anything (epoch seconds)
    dead_status: str = ""  # a dead pane's exit status, when known (see exit_status_of)


def exit_status_of(pid: int, server_pid: str) -> str:
    """The exit status of a dead pane's process that its tmux server has not collected: read
    from the zombie's /proc entry (Linux; "" elsewhere, or when it did not exit normally).

    tmux 3.3a sometimes misses the SIGCHLD of a command that exits within milliseconds: the
    pane is dead, its process a zombie that nothing reaps, and `pane_dead_status` stays empty
    until another child of the server dies."""
    fields = stat_fields(pid) or []  # from field 3 (state) on
    if len(fields) < 50 or fields[:2] != ["Z", server_pid] or not fields[49].isdigit():
        return ""
    status = int(fields[49])  # field 52, exit_code: the status as waitpid reports it
    return str(status >> 8 & 0xFF) if status & 0x7F == 0 else ""


def server_for(socket: str | None) -> libtmux.Server:
    """The tmux server named by `socket` (-L), or the user's default server."""
    return libtmux.Server(socket_name=socket) if socket else libtmux.Server()


class Tmux:
    """A thin, typed face over one tmux server; `keys` types into its panes."""

    def __init__(self, server: libtmux.Server) -> None:
        self.server = server
        self.keys = Keys(self._run, self._argv)
        self._pool: ThreadPoolExecutor | None = None

    # ----------------------------------------------------------------- plumbing

    def submit(self, call: Callable[[], T]) -> Future[T | TmuxError]:
        """Make the call in a thread of a small pool (its tmux clients start meanwhile, one
        pane's call not waiting for another's); its future holds the result, or the
        TmuxError it raised."""

        def guarded() -> T | TmuxError:
            try:
                return call()
            except TmuxError as exc:
                return exc

        if self._pool is None:
            self._pool = ThreadPoolExecutor(CLIENTS, thread_name_prefix="tmux")
        return self._pool.submit(guarded)

    def close(self) -> None:
        """End the threads of `submit`, once the calls under way have returned."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def _argv(self) -> list[str]:
        binary = self.server.tmux_bin or shutil.which("tmux")
        if binary is None:
            raise TmuxError("tmux is not installed (tmux >= 3.2 is required)")
        argv = [binary]
        if self.server.socket_name:
            argv.append(f"-L{self.server.socket_name}")
        if self.server.socket_path:
            argv.append(f"-S{self.server.socket_path}")
        return argv

    def _run(self, *args: str) -> list[str]:
        result = self.server.cmd(*args)
        if result.returncode != 0:
            detail = " ".join(result.stderr) or f"exit {result.returncode}"
            raise TmuxError(f"tmux {args[0]} failed: {detail}")
        return list(result.stdout)

    def alive(self) -> bool:
        return bool(self.server.is_alive())

    # ----------------------------------------------------------------- sessions and windows

    def session_id(self, name: str) -> str | None:
        if not self.alive():
            return None
        result = self.server.cmd("list-sessions", "-F", "#{session_id}\t#{session_name}")
        if result.returncode != 0:
            return None
        for line in result.stdout:
            sid, _, sname = line.partition("\t")
            if sname == name:
                return sid
        return None

    def ensure_session(self, name: str, workdir: Path) -> str:
        """The id of session `name`, created (detached, 200x50) if missing."""
        existing = self.session_id(name)
        if existing:
            return existing
        out = self._run(
            "new-session",
            "-d",
            "-s",
            name,
            "-c",
            str(workdir),
            "-x",
            "200",
            "-y",
            "50",
            "-P",
            "-F",
            "#{session_id}",
        )
        return out[0]

    def find_window(self, session_id: str, window: int | str) -> str | None:
        """The active pane of a window given by index or exact name, or None. Of two windows of
        one name, the one whose program lives (a dead pane kept by remain-on-exit comes last)."""
        lines = self._run(
            "list-windows",
            "-t",
            session_id,
            "-F",
            "#{window_id}\t#{pane_dead}\t#{window_index}\t#{window_name}",
        )
        wanted = str(window)
        by_index = isinstance(window, int) or wanted.isdigit()
        found = []
        for line in lines:
            wid, dead, index, name = line.split("\t", 3)
            if (by_index and index == wanted) or (not by_index and name == wanted):
                found.append((dead == "1", wid))
        found.sort(key=lambda f: f[0])  # stable: in window order, the living first
        return self._active_pane(found[0][1]) if found else None

    def window_indexes(self, session_id: str) -> list[int]:
        lines = self._run("list-windows", "-t", session_id, "-F", "#{window_index}")
        return [int(line) for line in lines if line.strip().isdigit()]

    def _active_pane(self, window_id: str) -> str:
        for line in self._run("list-panes", "-t", window_id, "-F", "#{pane_id}\t#{pane_active}"):
            pane, active = line.split("\t")
            if active == "1":
                return pane
        raise TmuxError(f"window {window_id} has no pane")

    def create_window(
        self,
        session_id: str,
        window: int | str,
        name: str,
        command: str | None,
        workdir: Path,
        keep: bool = True,
    ) -> str:
        """A new window at the given index (or the next free one for a name); its pane id.

        With `keep`, a window running a command keeps its pane when the command exits
        (remain-on-exit, set in the same tmux call, so even a command that fails at once is
        caught): what it printed stays readable, for the journal and for a person attaching."""
        numbered = isinstance(window, int) or str(window).isdigit()
        title = name if numbered else str(window)
        index = int(window) if numbered else self._free_index(session_id)
        args = ["new-window", "-d", "-t", f"{session_id}:{index}", "-n", title]
        args += ["-c", str(workdir), "-P", "-F", "#{pane_id}"]
        if command:
            args.append(command)
        if command and keep:
            itself = f"{session_id}:{index}"
            args += [";", "set-option", "-w", "-t", itself, "remain-on-exit", "on"]
        return self._run(*args)[0]

    def _free_index(self, session_id: str) -> int:
        """The index tmux would give a new window: the first free one from the lowest."""
        taken = set(self.window_indexes(session_id))
        index = min(taken, default=0)
        while index in taken:
            index += 1
        return index

    # ----------------------------------------------------------------- panes

    def panes(self) -> dict[str, PaneInfo]:
        """Every pane of the server, in one call (cheap enough to poll)."""
        if not self.alive():
            return {}
        result = self.server.cmd(
            "list-panes",
            "-a",
            "-F",
            "#{pane_id}\t#{pane_dead}\t#{pane_in_mode}\t#{pane_pid}\t#{pane_current_command}"
            "\t#{session_id}\t#{window_id}\t#{window_activity}\t#{pane_dead_status}"
            "\t#{pid}\t#{window_index}:#{window_name}",
        )
        if result.returncode != 0:
            return {}
        panes = {}
        for line in result.stdout:
            parts = line.split("\t")
            if len(parts) < 11:
                continue
            pid = int(parts[3]) if parts[3].isdigit() else 0
            dead_status = parts[8] or (
                exit_status_of(pid, parts[9]) if parts[1] == "1" and pid else ""
            )
            panes[parts[0]] = PaneInfo(
                parts[0],
                parts[1] == "1",
                parts[2] == "1",
                pid,
                parts[4],
                parts[5],
                parts[6],
                "\t".join(parts[10:]),
                float(parts[7]) if parts[7].isdigit() else 0.0,
                dead_status,
            )
        return panes

    def capture(self, pane_id: str, history: int = 200) -> str:
        """The visible screen and up to `history` lines above it, as plain text."""
        return "\n".join(self._run("capture-pane", "-p", "-J", "-S", f"-{history}", "-t", pane_id))

    def last_lines(self, pane_id: str, count: int = 5) -> list[str]:
        """The last non-blank lines a pane shows (a dead pane's last words), without tmux's own
        "Pane is dead" line."""
        lines = [ln.strip() for ln in self.capture(pane_id, history=100).splitlines()]
        said = [ln for ln in lines if ln and not ln.startswith("Pane is dead")]
        return said[-count:]

    def respawn(self, pane_id: str, command: str, workdir: Path) -> None:
        """Start `command` again in the pane, killing whatever runs there (a shell, a corpse)."""
        self._run("respawn-pane", "-k", "-t", pane_id, "-c", str(workdir), command)

    def kill_server(self) -> None:
        if self.alive():
            self.server.kill()

    # ----------------------------------------------------------------- people

    def show(self, pane_id: str) -> None:
        """Bring a person to the pane's window: switch the tmux client this runs in, when it
        runs inside this server; else attach this terminal (replacing this process)."""
        self._run("select-window", "-t", pane_id)
        self._run("select-pane", "-t", pane_id)
        ours = self._run("display-message", "-p", "-t", pane_id, "#{socket_path}")[0]
        inside = os.environ.get("TMUX", "").split(",")[0]
        if inside and os.path.realpath(inside) == os.path.realpath(ours):
            self._run("switch-client", "-t", pane_id)
            return
        env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "TMUX_PANE")}
        argv = [*self._argv(), "attach-session", "-t", pane_id]
        os.execvpe(argv[0], argv, env)

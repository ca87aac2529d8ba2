"""Every tmux call goes through here; the only module that imports libtmux.

Panes are addressed by their ids (`%N`), never by names tmux could prefix-match.
A prompt is delivered the way AGENT_CLIS.md measured to work for every CLI: the text
on stdin to `load-buffer`, `paste-buffer -p -d` (bracketed paste when the program asked
for it), a short gap, then `Enter` as a separate key.
"""

from __future__ import annotations

import itertools
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import libtmux

from ..errors import TmuxError
from .procs import stat_fields

# Programs that are shells: a pane running one has no agent in it, and typing there would
# run the text as commands.
SHELLS = frozenset(
    {"bash", "zsh", "sh", "dash", "fish", "ksh", "mksh", "tcsh", "csh", "ash", "nu", "xonsh"}
)


def _any(conditions: list[str]) -> str:
    """One tmux format that is 1 when any of `conditions` is (`||` takes two at a time)."""
    return (
        conditions[0] if len(conditions) == 1 else f"#{{||:{conditions[0]},{_any(conditions[1:])}}}"
    )


# A pane that must not be typed into the fast way: dead (pasting there crashes tmux 3.3a),
# in copy-mode (keys would go to copy-mode), or running a shell (it would run the text).
_UNFIT = _any(
    ["#{pane_dead}", "#{pane_in_mode}"]
    + [f"#{{==:#{{pane_current_command}},{shell}}}" for shell in sorted(SHELLS)]
)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x80-\x9f]")
# A pane option naming the paste that waits there for its Enter, set by the tmux command that
# pastes and unset by the one that presses Enter: after a crash it says what the pane got.
PASTE_TAG = "@orchestrate-paste"
_buffer_names = itertools.count(1)
T = TypeVar("T")
CLIENTS = 16  # tmux calls made at once by `submit`


def normalize(text: str) -> str:
    """What a pasted prompt may contain: CRLF and CR become LF; other controls are dropped.

    ESC goes too, so no text can end a bracketed paste early or send a key sequence.
    Tabs stay. The result is what the agent receives, byte for byte (tmux turns LF into
    CR on the way in, which terminals read back as a newline inside a paste).
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", text)


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
    """A thin, typed face over one tmux server."""

    def __init__(self, server: libtmux.Server) -> None:
        self.server = server
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

    def _ready_for_input(self, pane_id: str) -> None:
        """Refuse a pane that is gone, dead or back to a shell; leave copy-mode. One call."""
        fields = "#{pane_id}\t#{pane_dead}\t#{pane_in_mode}\t#{pane_current_command}"
        result = self.server.cmd("list-panes", "-t", pane_id, "-F", fields)
        lines = list(result.stdout) if result.returncode == 0 else []
        row = next((ln.split("\t") for ln in lines if ln.split("\t")[0] == pane_id), None)
        if row is None or len(row) < 4:
            raise TmuxError(f"pane {pane_id} is gone")
        _, dead, in_mode, command = row[:4]
        if dead == "1":
            # tmux 3.3a crashes when pasting into a dead pane: never do it.
            raise TmuxError(f"pane {pane_id} is dead (its program exited)")
        if command in SHELLS:
            # A shell would run the text as commands.
            raise TmuxError(f"pane {pane_id} runs a shell ({command}), not its agent")
        if in_mode == "1":
            self._run("send-keys", "-t", pane_id, "-X", "cancel")

    def _guarded(
        self, pane_id: str, command: list[str], before: list[str], data: bytes, then: list[str]
    ) -> bool:
        """Run `before` (e.g. load-buffer) and then `command` and `then` on the pane in one
        tmux call, `command` and `then` only if the pane is alive, not in copy-mode and not
        running a shell (`then` only if `command` worked). True if they ran; False if the pane
        needs the slow path. Every word is ours: no text from a prompt is ever part of the
        line (it travels on stdin)."""
        sequence = [*before, ";"] if before else []
        check = ["if-shell", "-F", "-t", pane_id, _UNFIT, "display-message -p unfit"]
        run = shlex.join(command) + (" ; " + shlex.join(then) if then else "")
        result = subprocess.run(
            [*self._argv(), *sequence, *check, run],
            input=data,
            capture_output=True,
            check=False,
        )
        if result.returncode != 0:
            detail = result.stderr.decode(errors="replace").strip()
            if "can't find pane" in detail:
                raise TmuxError(f"pane {pane_id} is gone")
            raise TmuxError(f"tmux {command[0]} failed: {detail}")
        return b"unfit" not in result.stdout

    def _deliver(
        self,
        pane_id: str,
        command: list[str],
        before: list[str],
        data: bytes,
        what: str,
        then: list[str] | None = None,
    ) -> None:
        """`command` on the pane the fast way; a pane unfit for it takes the slow path, which
        refuses it (gone, dead, a shell) or takes it out of copy-mode, then tries once more
        (`before` has run already by then)."""
        if self._guarded(pane_id, command, before, data, then or []):
            return
        self._ready_for_input(pane_id)
        if not self._guarded(pane_id, command, [], b"", then or []):
            raise TmuxError(f"pane {pane_id} cannot take {what}")

    def paste(self, pane_id: str, text: str, tag: str = "") -> None:
        """Put `text` into the pane's input as one bracketed paste. No Enter.

        One tmux call loads the buffer from stdin, checks the pane and pastes; a pane that is
        dead, back to a shell or in copy-mode takes the slow path (refused, or taken out of
        copy-mode first). With `tag`, the same tmux command that pastes records it on the
        pane (see `pending_paste`)."""
        name = f"orchestrate-{os.getpid()}-{next(_buffer_names)}"
        data = normalize(text).encode("utf-8")
        load = ["load-buffer", "-b", name, "-"]
        paste = ["paste-buffer", "-p", "-d", "-b", name, "-t", pane_id]
        # the program's pid goes with the tag: a program started again in the pane has not
        # got the paste, whatever the pane's options say
        record = ["set-option", "-p", "-F", "-t", pane_id, PASTE_TAG, tag + "|#{pane_pid}"]
        try:
            self._deliver(pane_id, paste, load, data, "a paste", record if tag else None)
        except TmuxError:
            self.server.cmd("delete-buffer", "-b", name)
            raise

    def press_enter(self, pane_id: str) -> None:
        """Enter, and in the same tmux command the pane's record of a paste waiting for it
        goes."""
        forget = ["set-option", "-p", "-u", "-t", pane_id, PASTE_TAG]
        self._deliver(pane_id, ["send-keys", "-t", pane_id, "Enter"], [], b"", "keys", forget)

    def pending_paste(self, pane_id: str) -> tuple[str, bool]:
        """The tag of the last paste into the pane that has had no Enter since ("" if none),
        and whether the program it went to still runs there (not started again since)."""
        out = self._run("display-message", "-p", "-t", pane_id, f"#{{{PASTE_TAG}}}|#{{pane_pid}}")
        recorded, _, now = (out[0] if out else "").rpartition("|")
        tag, _, pid = recorded.rpartition("|")
        return tag, pid == now

    def send_keys(self, pane_id: str, *keys: str) -> None:
        self._deliver(pane_id, ["send-keys", "-t", pane_id, *keys], [], b"", "keys")

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

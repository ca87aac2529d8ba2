"""Typing into a pane: pastes, Enter and other keys, each refused where it would do harm.

A prompt is delivered the way AGENT_CLIS.md measured to work for every CLI: the text
on stdin to `load-buffer`, `paste-buffer -p -d` (bracketed paste when the program asked
for it), a short gap, then `Enter` as a separate key. tmux is reached through the calls
tmux.py gives it (this module does not import libtmux).
"""

from __future__ import annotations

import itertools
import os
import re
import shlex
import subprocess
from collections.abc import Callable
from contextlib import suppress

from ..errors import TmuxError

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


def normalize(text: str) -> str:
    """What a pasted prompt may contain: CRLF and CR become LF; other controls are dropped.

    ESC goes too, so no text can end a bracketed paste early or send a key sequence.
    Tabs stay. The result is what the agent receives, byte for byte (tmux turns LF into
    CR on the way in, which terminals read back as a newline inside a paste).
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", text)


class Keys:
    """What is typed into the panes of one tmux server. `run` makes a tmux call (its output
    lines; TmuxError if it failed), `argv` is the command line that starts a tmux client of
    the server (for a call that needs stdin)."""

    def __init__(self, run: Callable[..., list[str]], argv: Callable[[], list[str]]) -> None:
        self._run = run
        self._argv = argv

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
            with suppress(TmuxError):
                self._run("delete-buffer", "-b", name)
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

    # ----------------------------------------------------------------- the two paths

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

    def _ready_for_input(self, pane_id: str) -> None:
        """Refuse a pane that is gone, dead or back to a shell; leave copy-mode. One call."""
        fields = "#{pane_id}\t#{pane_dead}\t#{pane_in_mode}\t#{pane_current_command}"
        try:
            lines = self._run("list-panes", "-t", pane_id, "-F", fields)
        except TmuxError:
            lines = []
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

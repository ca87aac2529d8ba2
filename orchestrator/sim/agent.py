"""A simulated coding agent: a terminal program that behaves like the real TUIs where it matters.

It turns bracketed paste on, shows an idle prompt (`> `), shows what was pasted in its
input line until CR submits it (`--echo`: the text's first line, as most TUIs do; a
`[Pasted text #N +M lines]` placeholder, as Claude Code does; or nothing at all), shows a
busy line while it "works", and then appends the
report block that the prompt asked for to the board: by append, by two split writes, or
by writing a temporary file and renaming it over the board (as Claude Code's Edit tool
does). Options make it fail, block or stay silent for chosen tasks. Every submitted
prompt is logged (JSON lines) so that tests can check what arrived, byte for byte.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import select
import shutil
import signal
import sys
import termios
import time
import tty
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..prompt import MARKER
from .inputbox import InputBox

PASTE_START = b"\x1b[200~"
PASTE_END = b"\x1b[201~"
_HEADER = re.compile(r"^#{2,4} .*COMPLETED.*$", re.MULTILINE)
_FIELD = re.compile(r"^\*\*(?P<name>[^*]+)\*\*:", re.MULTILINE)

BUSY_LINE = "✻ Working… (esc to interrupt)"
DIALOG_LINE = "Do you want to proceed? ❯ 1. Yes  2. No"
LIMIT_NOTICE = "usage limit reached · resets in 5s"
ECHOES = ("full", "placeholder", "none")


@dataclass
class SimOptions:
    name: str
    board: Path
    delay: float = 1.0
    write: str = "append"  # append | split | rename
    fail: set[str] = field(default_factory=set)
    fail_once: set[str] = field(default_factory=set)
    block: set[str] = field(default_factory=set)
    silent: set[str] = field(default_factory=set)
    omit: set[str] = field(default_factory=set)  # fields left out of first reports
    ask: set[str] = field(default_factory=set)  # a permission dialog before working on these
    swallow: int = 0  # Enters ignored right after each paste (as Codex's paste-burst does)
    slow_paste: float = 0.0  # seconds before a paste is taken in and shown (a busy TUI); an
    # Enter before that submits a placeholder instead of the text, as qwen-code did
    limit: set[str] = field(default_factory=set)  # a usage-limit notice while working on these
    limit_notice: str = LIMIT_NOTICE
    log: Path | None = None
    echo: str = "full"  # what the input line shows of a paste: one of ECHOES
    hold: Path | None = None  # while this file exists, its work goes on (tests: in flight)
    load: float = 0.0  # seconds it loads, drawing nothing, before it takes the terminal (and
    # drops what was typed meanwhile: tty.setraw flushes, as a CLI that starts slowly may)


def report_for(prompt: str, options: SimOptions, attempt_failures: dict[str, int]) -> str | None:
    """The block an obedient agent appends for `prompt`, or None (silent / nothing asked)."""
    header_match = _HEADER.search(prompt)
    marker = MARKER.search(prompt)
    if header_match is None:
        return None
    task = marker["id"] if marker else ""
    followup = bool(marker and marker["kind"])
    if task in options.silent:
        return None
    header = header_match.group(0).strip()
    after = prompt[header_match.end() :].split("\n\n", 1)[0]
    fields = [m["name"] for m in _FIELD.finditer(after)]
    if not followup:
        fields = [name for name in fields if name not in options.omit]
    status = "COMPLETED"
    if task in options.block:
        status = "BLOCKED"
    elif followup:
        pass  # a follow-up asks only for the missing fields
    elif task in options.fail or (task in options.fail_once and not attempt_failures.get(task)):
        status = "FAILED"
        attempt_failures[task] = attempt_failures.get(task, 0) + 1
    header = header.replace("COMPLETED", status)
    values = {"Date": time.strftime("%Y-%m-%d %H:%M"), "Agent": options.name}
    lines = [header]
    for name in fields:
        lines.append(f"**{name}**: {values.get(name, 'simulated')}")
    if status != "COMPLETED":
        lines.append(f"**Reason**: simulated {status.lower()} by {options.name}")
    return "\n".join(lines) + "\n\n"


def write_report(board: Path, block: str, how: str) -> None:
    """Append the block to the board, as `how` says. Simulated agents take turns through a
    lock file beside the board: two of them writing at once, one by rename, would otherwise
    lose the other's block (as two real agents can; one simulated crew should not)."""
    lock = os.open(board.with_name(f".{board.name}.sim-lock"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _write_report(board, block.encode("utf-8"), how)
    finally:
        os.close(lock)


def _write_report(board: Path, data: bytes, how: str) -> None:
    if how == "rename":
        old = board.read_bytes() if board.exists() else b""
        sep = b"" if not old or old.endswith(b"\n") else b"\n"
        tmp = board.with_name(f".{board.name}.{os.getpid()}.tmp")
        tmp.write_bytes(old + sep + data)
        os.replace(tmp, board)
        return
    fd = os.open(board, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            data = b"\n" + data  # start on a line of its own, as a careful agent does
        if how == "split":
            cut = len(data) // 2
            os.write(fd, data[:cut])
            time.sleep(0.05)
            os.write(fd, data[cut:])
        else:
            os.write(fd, data)
    finally:
        os.close(fd)


class SimAgent:
    def __init__(self, options: SimOptions) -> None:
        self.o = options
        self.box = InputBox(placeholders=options.echo == "placeholder")
        self.in_paste = False
        self.pending = b""
        self.jobs: deque[str] = deque()
        self.busy_until: float | None = None
        self.current: str | None = None
        self.failures: dict[str, int] = {}
        self.asking = False  # a permission dialog is up: Enter, y or 1 approves
        self.to_swallow = 0
        self.landing = ""  # a paste not taken in yet (slow_paste)
        self.lands_at: float | None = None

    # ------------------------------------------------------------------ screen

    def out(self, text: str) -> None:
        os.write(1, text.replace("\n", "\r\n").encode("utf-8"))

    def status_line(self) -> str:
        if self.asking:
            return DIALOG_LINE
        if self.current is not None:
            return BUSY_LINE
        if not self.box.parts or self.o.echo == "none":
            return "> "
        first, *rest = self.box.shown.split("\n")
        width = max(20, shutil.get_terminal_size((100, 40)).columns - 20)
        more = f"  [+{len(rest)} lines]" if rest else ""
        return "> " + first[:width] + more

    def redraw(self) -> None:
        self.out("\r\x1b[K" + self.status_line())

    def say(self, line: str) -> None:
        self.out("\r\x1b[K" + line + "\n")
        self.redraw()

    # ------------------------------------------------------------------ input

    def feed(self, data: bytes) -> None:
        if self.asking:
            self.answer(data)
            return
        buf = self.pending + data
        self.pending = b""
        text_parts: list[bytes] = []
        i = 0
        while i < len(buf):
            if self.in_paste:
                end = buf.find(PASTE_END, i)
                if end == -1:
                    # keep a possible partial end marker for the next read
                    keep = next(
                        (
                            k
                            for k in range(len(PASTE_END) - 1, 0, -1)
                            if buf.endswith(PASTE_END[:k])
                        ),
                        0,
                    )
                    text_parts.append(buf[i : len(buf) - keep])
                    self.pending = buf[len(buf) - keep :]
                    break
                text_parts.append(buf[i:end])
                self._paste_text(b"".join(text_parts))
                text_parts = []
                self.in_paste = False
                self.to_swallow = self.o.swallow
                i = end + len(PASTE_END)
                continue
            if buf.startswith(PASTE_START, i):
                self.in_paste = True
                i += len(PASTE_START)
                continue
            byte = buf[i : i + 1]
            if byte == b"\x1b":
                if len(buf) - i < len(PASTE_START) and PASTE_START.startswith(buf[i:]):
                    self.pending = buf[i:]
                    break
                i += 1  # other escape sequences: ignored
                continue
            if byte == b"\r" and self.to_swallow:
                self.to_swallow -= 1
                self.log({"event": "swallowed-enter"})
            elif byte == b"\r":
                self.submit()
            elif byte in (b"\x7f", b"\x08"):
                self.box.backspace()
            elif byte == b"\x03":
                self.box.clear()
            elif byte == b"\x04" and not self.box.parts:
                raise SystemExit(0)
            elif byte >= b" " or byte in (b"\n", b"\t"):
                # a UTF-8 sequence arrives whole most of the time; decode leniently
                j = i + 1
                while j < len(buf) and 0x80 <= buf[j] < 0xC0:
                    j += 1
                self.box.type(buf[i:j].decode("utf-8", errors="replace"))
                i = j
                continue
            i += 1
        if text_parts:
            self._paste_text(b"".join(text_parts), partial=True)
        self.redraw()

    def _paste_text(self, data: bytes, partial: bool = False) -> None:
        text = data.decode("utf-8", errors="replace").replace("\r", "\n")
        if self.o.slow_paste <= 0:
            self.box.paste(text, partial)
            return
        self.landing += text
        self.lands_at = time.monotonic() + self.o.slow_paste

    def land(self) -> None:
        """The slow paste is taken in at last: it shows in the input line."""
        self.box.paste(self.landing)
        self.landing, self.lands_at = "", None
        self.redraw()

    def submit(self) -> None:
        if self.lands_at is not None:  # too soon: what is submitted is a placeholder
            self.box.type(f"[Pasted Content {len(self.landing)} chars]")
            self.landing, self.lands_at = "", None
        text, shown = self.box.text, self.box.shown
        self.box.clear()
        if not text.strip():
            return  # an empty input box ignores Enter, as every measured CLI does
        marker = MARKER.search(text)
        self.log({"event": "received", "marker": marker.group(0) if marker else None, "text": text})
        if self.o.echo == "none":
            label = "a message"
        elif self.o.echo == "placeholder":
            label = shown.split("\n", 1)[0][:60]  # the transcript shows what the box showed
        else:
            label = marker.group(0) if marker else text.split("\n", 1)[0][:60]
        self.say(f"● received {label} ({len(text)} chars)")
        self.jobs.append(text)
        self.start_next()

    # ------------------------------------------------------------------ work

    def start_next(self) -> None:
        if self.current is None and self.jobs:
            self.current = self.jobs.popleft()
            marker = MARKER.search(self.current)
            if marker and marker["id"] in self.o.limit and not marker["kind"]:
                # the notice stays on screen; the work goes on and new prompts are taken,
                # so only the daemon's hold keeps the next prompt back
                self.say(self.o.limit_notice)
                self.log({"event": "limit-notice"})
            if marker and marker["id"] in self.o.ask and not marker["kind"]:
                self.asking = True  # wait for a person: Enter approves, as in Claude Code
            else:
                self.busy_until = time.monotonic() + self.o.delay
            self.redraw()

    def answer(self, data: bytes) -> None:
        """Keys typed into the permission dialog: logged, since nothing should come here
        but a person's answer."""
        self.log({"event": "dialog-input", "data": data.decode("utf-8", errors="replace")})
        if any(key in data for key in (b"\r", b"y", b"1")):
            self.asking = False
            self.say("✓ approved")
            self.busy_until = time.monotonic() + self.o.delay
        elif any(key in data for key in (b"n", b"2", b"\x1b")):
            self.asking = False
            self.current = None
            self.say("✗ denied")
            self.start_next()
        self.redraw()

    def finish(self) -> None:
        if self.o.hold is not None and self.o.hold.exists():
            self.busy_until = time.monotonic() + 0.1  # held: its work goes on
            return
        text, self.current, self.busy_until = self.current or "", None, None
        block = report_for(text, self.o, self.failures)
        if block is None:
            self.say("○ done, nothing reported")
        else:
            write_report(self.o.board, block, self.o.write)
            self.say("✓ reported " + block.split("\n", 1)[0])
            self.log({"event": "reported", "block": block})
        self.start_next()

    def log(self, record: dict[str, Any]) -> None:
        if self.o.log is None:
            return
        record = {"ts": time.time(), "agent": self.o.name, **record}
        with self.o.log.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")

    # ------------------------------------------------------------------ loop

    def run(self) -> int:
        fd = sys.stdin.fileno()
        saved = termios.tcgetattr(fd) if os.isatty(fd) else None
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        signal.signal(signal.SIGHUP, lambda *_: sys.exit(0))
        try:
            time.sleep(self.o.load)
            if saved is not None:
                tty.setraw(fd)
            self.out("\x1b[?2004h")  # bracketed paste on
            self.out(f"sim-agent {self.o.name}: a simulated coding agent (orchestrate)\n")
            self.out(f"board: {self.o.board}\n")
            self.redraw()
            while True:
                due = [t for t in (self.busy_until, self.lands_at) if t is not None]
                timeout = max(0.0, min(due) - time.monotonic()) if due else None
                readable, _, _ = select.select([fd], [], [], timeout)
                if readable:
                    data = os.read(fd, 65536)
                    if not data:
                        return 0
                    self.feed(data)
                if self.lands_at is not None and time.monotonic() >= self.lands_at:
                    self.land()
                if self.busy_until is not None and time.monotonic() >= self.busy_until:
                    self.finish()
        finally:
            self.out("\x1b[?2004l")
            if saved is not None:
                termios.tcsetattr(fd, termios.TCSADRAIN, saved)

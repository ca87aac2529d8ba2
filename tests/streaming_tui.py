"""A scripted agent TUI that goes on writing after it reports, as Codex 0.169 does: a prompt
submitted by a bracketed paste and CR shows `• Working (esc to interrupt)` for a moment, the
report block is appended to the board, and then answer lines stream for `--stream` seconds
under no busy line, the input line `› Ask me anything` showing all along. With `--end-line`
the turn ends with Codex's `Worked for Ns`. Its report has no `Summary` field until it is asked
for the fields it lacked. Every event is logged (JSON lines with times).

Usage: python streaming_tui.py BOARD LOG [--stream SECONDS] [--end-line]
"""

from __future__ import annotations

import json
import os
import re
import select
import sys
import time
import tty

PASTE_START, PASTE_END = b"\x1b[200~", b"\x1b[201~"
MARKER = re.compile(r"\[orchestrate ([A-Za-z0-9_.-]+) #\d+( fields)?\]")
IDLE, BUSY = "› Ask me anything", "• Working (0s • esc to interrupt)"
EVERY = 0.2  # seconds between two streamed lines


def main() -> None:
    board, log = sys.argv[1], open(sys.argv[2], "a", buffering=1, encoding="utf-8")  # noqa: SIM115
    stream = float(sys.argv[sys.argv.index("--stream") + 1]) if "--stream" in sys.argv else 2.0
    end_line = "--end-line" in sys.argv

    def note(event: str, **more: object) -> None:
        log.write(json.dumps({"ts": time.time(), "event": event, **more}) + "\n")

    def say(line: str, status: str = IDLE) -> None:
        os.write(1, f"\r\x1b[K{line}\r\n\x1b[K{status}".encode())

    tty.setraw(0)
    os.write(1, f"\x1b[?2004hstreaming-tui\r\n{IDLE}".encode())
    pending = b""
    while True:
        pending += os.read(0, 65536)
        pasted = pending.split(PASTE_START)[-1]
        if PASTE_START in pending and PASTE_END not in pasted:
            continue  # the rest of the paste is on its way (its lines end in CR)
        text = pasted.split(PASTE_END)[0].decode(errors="replace").replace("\r", "\n")
        if b"\r" not in pending.rpartition(PASTE_END)[2]:
            os.write(1, f"\r\x1b[K› {text.splitlines()[0] if text else ''}".encode())
            continue
        pending, found = b"", MARKER.search(text)
        task = found.group(1) if found else "?"
        asked = bool(found and found.group(2))  # a request for the fields its report lacked
        note("asked" if asked else "received", task=task)
        say(f"› {found.group(0) if found else text[:40]}", BUSY)
        time.sleep(0.3)
        with open(board, "a", encoding="utf-8") as handle:
            more = "**Summary**: given when asked\n" if asked else ""
            handle.write(f"\n### TODO-{task}: COMPLETED ✅\n**Tests**: streamed\n{more}\n")
        note("reported", task=task)
        say(f"• Ran the report for {task}")
        lines = max(1, round(stream / EVERY))
        for i in range(1, lines + 1):
            time.sleep(EVERY)
            if select.select([0], [], [], 0)[0]:
                note("typed-into-turn", task=task)  # a prompt came while the turn ran
            say(f"  Answer line {i} of {lines} for {task}")
        note("last-output", task=task)
        if end_line:
            say(f"\r\n  Worked for {stream:.0f}s • 12:00")
            note("turn-end", task=task)


if __name__ == "__main__":
    main()

"""A bench agent: a terminal program that logs, for each prompt, when the first byte of its
paste arrived and when the Enter that submitted it arrived (JSON lines). It does no work:
the bench writes the reports on the board itself, at times it chooses.

Usage: python -m bench.agent LOG
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
import tty

MARKER = re.compile(rb"\[orchestrate ([A-Za-z0-9_.-]+) #\d+")


def main() -> None:
    log = open(sys.argv[1], "a", buffering=1, encoding="utf-8")  # noqa: SIM115
    tty.setraw(0)
    os.write(1, b"\x1b[?2004h> ")  # bracketed paste on, like the real TUIs
    pending: bytes = b""
    pasted: float | None = None
    while True:
        data = os.read(0, 65536)
        now = time.time()
        if not data:
            return
        if pasted is None:
            pasted = now  # the first byte of a text
        pending += data
        # An Enter is a CR outside the bracketed paste (a CR inside it is a line of the text).
        outside = pending[pending.rfind(b"\x1b[201~") + 6 :] if b"\x1b[201~" in pending else b""
        if b"\x1b[200~" not in pending:
            outside = pending
        if b"\r" in outside:
            found = MARKER.search(pending)
            task = found.group(1).decode() if found else None
            log.write(json.dumps({"task": task, "paste": pasted, "enter": now}) + "\n")
            pending, pasted = b"", None
            os.write(1, b"\r\n> ")


if __name__ == "__main__":
    main()

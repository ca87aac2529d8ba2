"""The floor: the least a tmux orchestrator can do. Raw inotify through ctypes on the board;
on each change, read the new bytes, and for each COMPLETED header send that agent its next
prompt with load-buffer + paste-buffer -p + send-keys Enter, in a thread of its own: the
agents' deliveries overlap, each waits only its own gap. No framework, no state.

Usage: python -m bench.floor SOCKET BOARD GAP PLAN_JSON   (plan: {pane: [[id, text], ...]})
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

IN_MODIFY, IN_CLOSE_WRITE = 0x2, 0x8
HEADER = re.compile(rb"^#{2,4} TODO-([A-Za-z0-9_.-]+): COMPLETED", re.MULTILINE)


def send(socket: str, pane: str, text: str, gap: float) -> None:
    tmux = ["tmux", "-L", socket]
    name = f"floor-{pane}"
    subprocess.run([*tmux, "load-buffer", "-b", name, "-"], input=text.encode(), check=True)
    subprocess.run([*tmux, "paste-buffer", "-p", "-d", "-b", name, "-t", pane], check=True)
    time.sleep(gap)
    subprocess.run([*tmux, "send-keys", "-t", pane, "Enter"], check=True)


def deliver(socket: str, pane: str, text: str, gap: float) -> None:
    """A thread per delivery: each waits only its own gap, and the board is read meanwhile."""
    threading.Thread(target=send, args=(socket, pane, text, gap)).start()


def main() -> None:
    socket, board, gap, plan = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
    queues = {pane: list(items) for pane, items in json.loads(Path(plan).read_text()).items()}
    owner = {item[0]: pane for pane, items in queues.items() for item in items}
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.inotify_init()
    libc.inotify_add_watch(fd, board.encode(), IN_MODIFY | IN_CLOSE_WRITE)
    offset = os.path.getsize(board)
    for pane, items in queues.items():
        deliver(socket, pane, items.pop(0)[1], gap)
    while any(queues.values()):
        os.read(fd, 4096)  # blocks until the board changes
        with open(board, "rb") as handle:
            handle.seek(offset)
            new = handle.read()
        offset += len(new)
        for match in HEADER.finditer(new):
            pane = owner.get(match.group(1).decode())
            if pane and queues[pane]:
                deliver(socket, pane, queues[pane].pop(0)[1], gap)


if __name__ == "__main__":
    main()

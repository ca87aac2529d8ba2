"""Work done in a forked child, for what it would leave behind here.

A parse allocates far more than it keeps: a 10,000-task queue file builds hundreds of
thousands of short-lived objects between the long-lived tasks. Freed, they leave the
allocator's arenas partly used, so a daemon that re-reads its queues grows with every
reload although it holds no more objects. Run in a child, the garbage dies with the child;
this process only unpickles the result.
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import time
import warnings
from collections.abc import Callable
from typing import TypeVar, cast

T = TypeVar("T")

# Python 3.12 warns on every fork of a process with threads (the daemon's watchers). The child
# here runs only `fn` and `os._exit`s, and any failure or delay of it is met by running `fn`
# in this process instead.
warnings.filterwarnings(
    "ignore", message=r".*use of fork\(\) may lead to deadlocks", category=DeprecationWarning
)

CHILD_TIMEOUT = 120.0  # seconds; then the child is killed and `fn` runs here


def run(fn: Callable[[], T], timeout: float = CHILD_TIMEOUT) -> T:
    """`fn()`, computed in a forked child and brought back pickled. It runs in this process
    instead when there is no fork, or when the child raised, died or took over `timeout`
    seconds: then `fn` returns or raises here exactly as it would have without a child."""
    if not hasattr(os, "fork"):
        return fn()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: nothing of the parent's (handlers, atexit, buffers) runs here
        _child(fn, read_end, write_end)
    os.close(write_end)
    blob = None
    try:
        blob = _read_within(read_end, time.monotonic() + timeout)
    finally:
        os.close(read_end)
        ok = _reap(pid, kill=blob is None) == 0
    if blob is None or not ok:
        return fn()
    return cast(T, pickle.loads(blob))


def _child(fn: Callable[[], object], read_end: int, write_end: int) -> None:
    code = 1
    try:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
        os.close(read_end)
        data = memoryview(pickle.dumps(fn(), protocol=pickle.HIGHEST_PROTOCOL))
        while data:
            data = data[os.write(write_end, data) :]
        code = 0
    finally:
        os._exit(code)


def _read_within(fd: int, deadline: float) -> bytes | None:
    """Everything until end of file, or None at the deadline."""
    chunks: list[bytes] = []
    while (left := deadline - time.monotonic()) > 0:
        if not select.select([fd], [], [], left)[0]:
            continue
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
    return None


def _reap(pid: int, kill: bool) -> int:
    """The child's exit code (negative: the signal that ended it), killed first if `kill`.
    Its output ended, so it is exiting: the wait is short."""
    if kill:
        os.kill(pid, signal.SIGKILL)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])

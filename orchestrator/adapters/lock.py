"""One daemon per workspace.

The lock is an flock on the workspace folder itself, held for the daemon's life: deleting or
replacing `.orchestrate/` (`rm -rf`, `git clean -fdX`) cannot free it. Beside it, the pid
file `.orchestrate/daemon.lock` says who holds it; the daemon writes it again if it goes.
Launches (`start --detach`) are serialized by a second flock, so that each can tell whether
the daemon that runs afterwards is the one it started.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import AlreadyRunning, StateError, disk_problem
from ..paths import private_dir

UNKNOWN = -1  # what `holder` says when a daemon holds the lock but its pid cannot be read
_PROBE_GRACE = 0.5  # `holder` holds the lock shared for microseconds: a start retries that long


def workspace_of(pid_file: Path) -> Path:
    """The folder whose flock is the lock: `pid_file` is `<workspace>/.orchestrate/daemon.lock`."""
    return pid_file.parent.parent


class Lock:
    def __init__(self, path: Path) -> None:
        self.path = path  # the pid file
        self._fd: int | None = None

    def acquire(self) -> None:
        folder = workspace_of(self.path)
        try:
            fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        except OSError as exc:
            raise StateError(f"cannot lock the workspace {folder}: {exc}") from exc
        if not _flock_within(fd, _PROBE_GRACE):
            os.close(fd)
            pid = holder(self.path)
            raise AlreadyRunning(self.path, pid if pid and pid > 0 else None)
        self._fd = fd
        try:
            self.mark()
        except OSError as exc:
            self.release()
            raise StateError(disk_problem(exc, self.path)) from exc

    def mark(self) -> bool:
        """Write our pid in the pid file unless it holds it already; True if it was written.
        Called at every tick: the file may have been deleted with its folder."""
        mine = f"{os.getpid()}\n"
        try:
            if self.path.read_text(errors="replace") == mine:
                return False
        except FileNotFoundError:
            pass
        private_dir(self.path.parent)
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, mine.encode())
        finally:
            os.close(fd)
        os.replace(temporary, self.path)
        return True

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def holder(path: Path) -> int | None:
    """The pid of the daemon holding the lock (`path`: the pid file), None if no daemon runs,
    UNKNOWN if one runs whose pid neither the kernel's lock table nor the pid file gives."""
    folder = workspace_of(path)
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:  # no such folder (or not one we may read): no daemon of ours in it
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _locker(folder) or _pid_in(path) or UNKNOWN
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _locker(folder: Path) -> int | None:
    """The pid holding an exclusive flock on `folder`, from /proc/locks (Linux), if listed.
    It is the truth when the pid file is gone, or is a stale copy put back in place."""
    try:
        st = os.stat(folder)
        table = Path("/proc/locks").read_text()
    except OSError:
        return None
    device = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    for line in table.splitlines():
        parts = line.split()  # "1: FLOCK  ADVISORY  WRITE 5243 fe:00:2146838 0 EOF"
        flock = len(parts) >= 6 and parts[1:4] == ["FLOCK", "ADVISORY", "WRITE"]
        if flock and parts[5] == device and parts[4].isdigit() and int(parts[4]) > 0:
            return int(parts[4])
    return None


def _pid_in(path: Path) -> int | None:
    try:
        text = path.read_text(errors="replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() and int(text) > 0 else None


@contextmanager
def launching(state_dir: Path, timeout: float = 60.0) -> Iterator[None]:
    """Held by a `start --detach` from its check that no daemon runs until it knows whether
    the daemon it started holds the lock: two launches never overlap."""
    private_dir(state_dir)
    fd = os.open(state_dir / "launch.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if not _flock_within(fd, timeout):
            raise StateError(
                f"another `orchestrate start --detach` has held {state_dir}/launch.lock "
                f"for {timeout:.0f} s; try again once it has finished"
            )
        yield
    finally:
        os.close(fd)


def _flock_within(fd: int, seconds: float) -> bool:
    """Take an exclusive flock on `fd`, trying for up to `seconds`; False if held still."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)


def touch_private(path: Path) -> None:
    """Create `path` readable by its owner only, or mark it modified (a wake-up signal)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        os.utime(fd)
    finally:
        os.close(fd)

"""Running a task's `validate` commands: in the workspace, in order, each with a timeout.

The commands come from the queue files (the operator's) and nothing else; they run through
the shell as written there. Each runs in its own process group so that a timeout kills
everything it started. Output goes to `.orchestrate/logs/TASK-ATTEMPT.log`; the last lines
of a failing command are returned for the retry prompt. Runs happen on worker threads that
only post a `ValidationDone` event: the daemon's loop is never blocked.

While a command runs, `TASK-ATTEMPT.pgid` beside its log names its process group and the
leader's start time; the command waits for that record before it runs. A daemon killed with
SIGKILL leaves that file behind: the next daemon ends the group (`end_leftovers`) before it
runs the validation again, so two runs never share a workdir and a log.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..adapters.procs import stat_fields
from ..core.state import ValidationDone
from ..paths import private_dir

TAIL_LINES = 40
KILL_GRACE = 3.0
GROUP_SUFFIX = ".pgid"
RETRY_AFTER = 2.0  # seconds before a validation whose log could not be written runs again


def _tail(path: Path, start: int, lines: int = TAIL_LINES) -> str:
    """The last `lines` lines written to `path` after byte `start`."""
    with path.open("rb") as handle:
        size = handle.seek(0, os.SEEK_END)
        begin = max(start, size - 64 * 1024)
        handle.seek(begin)
        text = handle.read().decode("utf-8", errors="replace")
    return "\n".join(text.splitlines()[-lines:])


class Validator:
    """Runs validations on threads; `stop()` kills what still runs."""

    def __init__(
        self,
        workdir: Path,
        logs: Path,
        post: Callable[[ValidationDone], None],
        reached: Callable[[str], None] = lambda point: None,
    ) -> None:
        self.workdir = workdir
        self.logs = logs
        self.post = post
        self.reached = reached  # fault injection (faults.Faults): the crash tests
        self._lock = threading.Lock()
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()

    def log_path(self, task_id: str, attempt: int) -> Path:
        return self.logs / f"{task_id}-{attempt}.log"

    def end_leftovers(self) -> list[tuple[str, str]]:
        """End the validations a dead daemon left running (their process groups): (task,
        message) for the journal of each one ended. Call before any validation starts."""
        ended = []
        for record in sorted(self.logs.glob(f"*{GROUP_SUFFIX}")) if self.logs.is_dir() else ():
            try:
                pid_text, _, started = record.read_text(encoding="ascii").partition(" ")
                pgid = int(pid_text)
            except (OSError, ValueError):
                record.unlink(missing_ok=True)
                continue
            task, _, n = record.name.removesuffix(GROUP_SUFFIX).rpartition("-")
            if _group_alive(pgid) and _leader_matches(pgid, started.strip()):
                _end_group(pgid)
                message = (
                    f"{task} #{n}: its validation was still running, left by the previous "
                    f"daemon (process group {pgid}): ended it before validating again"
                )
                ended.append((task, message))
            record.unlink(missing_ok=True)
        return ended

    def start(self, task_id: str, attempt: int, commands: Sequence[str], timeout: float) -> None:
        thread = threading.Thread(
            target=self._run,
            args=(task_id, attempt, tuple(commands), timeout),
            name=f"validate-{task_id}-{attempt}",
            daemon=True,
        )
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def running(self) -> int:
        with self._lock:
            return sum(t.is_alive() for t in self._threads)

    def stop(self) -> None:
        with self._lock:
            self._stopping.set()
            procs = list(self._procs.values())
            threads = list(self._threads)
        for proc in procs:
            kill_group(proc)
        for thread in threads:
            thread.join(timeout=KILL_GRACE + 2)

    def _run(self, task_id: str, attempt: int, commands: tuple[str, ...], timeout: float) -> None:
        log = self.log_path(task_id, attempt)
        while not self._stopping.is_set():
            try:
                self._run_logged(task_id, attempt, commands, timeout, log)
                return
            except OSError:
                # Its log cannot be written (a full or read-only disk): not the work's fault.
                # The check runs again, from its first command, once the disk takes it.
                self._stopping.wait(RETRY_AFTER)

    def _run_logged(
        self, task_id: str, attempt: int, commands: tuple[str, ...], timeout: float, log: Path
    ) -> None:
        private_dir(self.logs)
        key = f"{task_id}#{attempt}"
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            for command in commands:
                if self._stopping.is_set():
                    return
                out.write(f"$ {command}\n".encode())
                out.flush()
                start = out.tell()
                began = time.monotonic()
                # Started and registered under the lock that `stop()` takes: none escapes it.
                proc: subprocess.Popen[bytes] | None = None
                failure = ""
                with self._lock:
                    if self._stopping.is_set():
                        return
                    try:
                        proc = start_command(
                            command,
                            self.workdir,
                            subprocess.PIPE,
                            out,
                            subprocess.STDOUT,
                            gated=True,
                        )
                    except OSError as exc:
                        failure = f"could not start: {exc}"
                    else:
                        self._procs[key] = proc
                        self.reached("validating")
                        _record_group(self.logs / f"{task_id}-{attempt}{GROUP_SUFFIX}", proc.pid)
                        _open_gate(proc)
                if proc is None:
                    out.write(f"[orchestrate] {failure}\n".encode())
                    self._done(task_id, attempt, log, command, None, failure, failure)
                    return
                try:
                    code: int | None = proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    kill_group(proc)
                    code = None
                finally:
                    with self._lock:
                        self._procs.pop(key, None)
                    (self.logs / f"{task_id}-{attempt}{GROUP_SUFFIX}").unlink(missing_ok=True)
                if self._stopping.is_set():
                    return  # the daemon stops: this validation runs again at the next start
                spent = time.monotonic() - began
                out.flush()
                tail = _tail(log, start) if code != 0 else ""  # the command's output only
                verdict = "timed out" if code is None else f"exit {code}"
                out.write(f"[orchestrate] {verdict} after {spent:.1f}s\n".encode())
                out.flush()
                if code != 0:
                    what = f"timed out after {timeout:.0f}s" if code is None else f"exited {code}"
                    self._done(task_id, attempt, log, command, code, f"`{command}` {what}", tail)
                    return
            self.post(
                ValidationDone(
                    task_id, attempt, True, f"{len(commands)}/{len(commands)} passed", str(log)
                )
            )

    def _done(
        self,
        task_id: str,
        attempt: int,
        log: Path,
        command: str,
        code: int | None,
        summary: str,
        tail: str,
    ) -> None:
        self.post(ValidationDone(task_id, attempt, False, summary, str(log), command, code, tail))


# The shell waits for one line on its stdin before it runs the command ("$1", never
# interpolated): a daemon killed before it opened the gate closes the pipe, and the command
# never runs.
_GATE = 'read _ && exec /bin/sh -c "$1"'


def start_command(
    command: str, workdir: Path, stdin: Any, stdout: Any, stderr: Any, gated: bool = False
) -> subprocess.Popen[bytes]:
    """Start an operator's command (from a queue file or orchestrate.yaml) through the shell,
    in the workspace, in a process group of its own so that `kill_group` reaches all of it.
    `gated` (stdin a pipe): it runs only once `_open_gate` is called (a validation: once its
    process group is recorded, so that a crash in between leaves nothing running unknown)."""
    return subprocess.Popen(
        ["/bin/sh", "-c", _GATE, "sh", command] if gated else command,
        shell=not gated,
        cwd=workdir,
        stdin=stdin,
        stdout=stdout,
        stderr=stderr,
        start_new_session=True,
    )


def _open_gate(proc: subprocess.Popen[bytes]) -> None:
    """Let a command started `gated` run; its stdin is at end of file after."""
    assert proc.stdin is not None
    try:
        proc.stdin.write(b"\n")
        proc.stdin.close()
    except BrokenPipeError:  # it is gone already (killed): its wait says so
        pass


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the command's process group, then SIGKILL what is left after a grace period."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=KILL_GRACE)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        proc.wait()


def _start_time(pid: int) -> str | None:
    """The process's start time (clock ticks since boot, /proc/PID/stat field 22), or None."""
    fields = stat_fields(pid)
    return fields[19] if fields else None


def _record_group(path: Path, pid: int) -> None:
    """Best effort: on a full disk the command runs unrecorded rather than not at all."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(f"{pid} {_start_time(pid) or '?'}\n")
    except OSError:
        path.unlink(missing_ok=True)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False  # not ours: never touched
    return True


def _leader_matches(pgid: int, started: str) -> bool:
    """Is the group the one recorded? While a group has members its id is not given to a new
    process, so a group whose leader has exited is still the recorded one; a living leader
    must have the recorded start time (else its pid was reused)."""
    now = _start_time(pgid)
    return now is None or now == started


def _end_group(pgid: int) -> None:
    """SIGTERM the group, SIGKILL it after the grace period, and wait until it is gone."""
    for sig, wait in ((signal.SIGTERM, KILL_GRACE), (signal.SIGKILL, KILL_GRACE)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not _group_alive(pgid) or _only_zombies(pgid):
                return
            time.sleep(0.02)


def _only_zombies(pgid: int) -> bool:
    """Members that have exited but not been reaped (their parent, the daemon, is dead and
    nobody reaps orphans here) count as gone: they run nothing."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = stat_fields(entry.name)
        if fields and int(fields[2]) == pgid and fields[0] != "Z":
            return False
    return True

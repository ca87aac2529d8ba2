"""Notifications: the `notify:` commands of orchestrate.yaml, run with an event as JSON on stdin.

The commands are the operator's; the event (which may quote a board block or a screen line)
only ever travels on stdin, never into a command line. One worker thread runs them, each
with a timeout, so that a failing or hanging notifier never holds up the daemon; what goes
wrong comes back to the daemon's loop as a `NotifyProblem` event, to be journaled.
"""

from __future__ import annotations

import json
import queue
import subprocess
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .validation import kill_group, start_command

# The events a person wants to hear about.
NOTIFY_KINDS = frozenset(
    {
        "done",
        "failed",
        "blocked",
        "waiting-for-input",
        "rate-limited",
        "gone",
        "stalled",
        "all-done",
        "stuck",
        "approved",
    }
)
TIMEOUT = 10.0
BACKLOG = 1000


@dataclass(frozen=True)
class NotifyProblem:
    message: str


class Notifier:
    """Each command has a thread and a queue of its own: events reach it in order, and a slow
    or hanging command delays only itself, never the daemon or the other commands."""

    def __init__(
        self,
        commands: Sequence[str],
        workdir: Path,
        post: Callable[[NotifyProblem], None],
        timeout: float = TIMEOUT,
    ) -> None:
        self.commands = tuple(commands)
        self.workdir = workdir
        self.post = post
        self.timeout = timeout
        self._queues: dict[str, queue.Queue[bytes | None]] = {}
        self._threads: list[threading.Thread] = []

    def send(self, event: dict[str, Any]) -> None:
        # One line per event, so that `>> file`, `read` and `jq` work as people expect.
        data = (json.dumps(event, ensure_ascii=False) + "\n").encode("utf-8")
        for command in self.commands:
            lane = self._queues.get(command)
            if lane is None:
                lane = self._queues[command] = queue.Queue(maxsize=BACKLOG)
                thread = threading.Thread(
                    target=self._work, args=(command, lane), name="notify", daemon=True
                )
                self._threads.append(thread)
                thread.start()
            try:
                lane.put_nowait(data)
            except queue.Full:
                self.post(
                    NotifyProblem(f"notify {command!r} falls behind: dropped {event['event']}")
                )

    def stop(self) -> None:
        for lane in self._queues.values():
            lane.put(None)
        for thread in self._threads:
            thread.join(timeout=self.timeout + 5)

    def _work(self, command: str, lane: queue.Queue[bytes | None]) -> None:
        while True:
            data = lane.get()
            if data is None:
                return
            problem = self._run(command, data)
            if problem:
                self.post(NotifyProblem(f"notify {command!r}: {problem}"))

    def _run(self, command: str, data: bytes) -> str:
        try:
            proc = start_command(
                command, self.workdir, subprocess.PIPE, subprocess.DEVNULL, subprocess.PIPE
            )
        except OSError as exc:
            return f"could not start: {exc}"
        try:
            _, err = proc.communicate(data, timeout=self.timeout)
        except subprocess.TimeoutExpired:
            kill_group(proc)
            return f"timed out after {self.timeout:.0f}s"
        except BrokenPipeError:
            proc.wait()
            err = b""
        if proc.returncode != 0:
            detail = err.decode(errors="replace").strip().splitlines()[-1:] or [""]
            return f"exit {proc.returncode} {detail[0]}".strip()
        return ""

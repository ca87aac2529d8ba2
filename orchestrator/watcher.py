"""File events for the daemon: the only module that imports watchdog.

The handler never touches state: it posts a `BoardChanged` or `QueuesChanged` event on
the daemon's queue, and the daemon's one thread does the rest.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

# Events that say nothing changed (our own reads produce them).
_QUIET = {"opened", "closed_no_write"}


@dataclass(frozen=True)
class BoardChanged:
    pass


@dataclass(frozen=True)
class QueuesChanged:
    path: str


@dataclass(frozen=True)
class ControlChanged:
    """The CLI queued an operator's command in the store."""


class _Handler(FileSystemEventHandler):
    def __init__(
        self, board: Path, queues: Path, control: Path, post: Callable[[object], None]
    ) -> None:
        self.board = str(board)
        self.queues = str(queues)
        self.control = str(control)
        self.post = post

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in _QUIET:
            return
        for raw in (event.src_path, getattr(event, "dest_path", "")):
            path = os.fsdecode(raw) if raw else ""
            if not path:
                continue
            if path == self.board:
                self.post(BoardChanged())
            elif path == self.control:
                self.post(ControlChanged())
            elif os.path.dirname(path) == self.queues and path.endswith((".yaml", ".yml")):
                self.post(QueuesChanged(path))


class Watcher:
    """Watches the board's folder, the queue folder and the control file (not recursively)."""

    def __init__(
        self, board: Path, queues: Path, control: Path, post: Callable[[object], None]
    ) -> None:
        self._observer = Observer()
        handler = _Handler(board.absolute(), queues.absolute(), control.absolute(), post)
        folders = {board.absolute().parent, queues.absolute(), control.absolute().parent}
        for folder in folders:
            if folder.is_dir():
                self._observer.schedule(handler, str(folder), recursive=False)

    def start(self) -> None:
        self._observer.start()

    def stop(self) -> None:
        self._observer.stop()
        self._observer.join(timeout=5)

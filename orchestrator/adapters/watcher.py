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
from watchdog.observers.api import BaseObserver

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


Change = BoardChanged | QueuesChanged | ControlChanged


class _Handler(FileSystemEventHandler):
    def __init__(
        self, board: Path, queues: Path, control: Path, post: Callable[[Change], None]
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
        self, board: Path, queues: Path, control: Path, post: Callable[[Change], None]
    ) -> None:
        self._handler = _Handler(board.absolute(), queues.absolute(), control.absolute(), post)
        self._folders = {board.absolute().parent, queues.absolute(), control.absolute().parent}
        self._observer: BaseObserver | None = None

    def start(self) -> None:
        """Watch the folders that exist now: one missing (the state folder deleted under a
        starting daemon) is watched once it is back, when the daemon that restores it makes a
        new Watcher. The observer is made here, at once before its start, so that a folder
        going in between is all but impossible: watchdog would then fail, and leave a thread
        of its own behind (the watch is then made again, without that folder)."""
        for _ in range(3):
            observer = Observer()
            for folder in self._folders:
                if folder.is_dir():
                    observer.schedule(self._handler, str(folder), recursive=False)
            try:
                observer.start()
            except OSError:
                observer.unschedule_all()
                continue
            self._observer = observer
            return
        raise OSError(f"cannot watch {', '.join(map(str, sorted(self._folders)))}")

    def stop(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
            self._observer = None

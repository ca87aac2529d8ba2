"""The daemon's hold on `.orchestrate/`: its lock, its state database opened, and at each
tick the check that the folder is still the one it opened (statedir.StateGuard): a vanished
one is restored from the open database (nothing recorded is lost, the run goes on), a
replaced one stops the daemon, its own state kept, saying what to do."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..adapters.lock import Lock
from ..adapters.statedir import REPLACED, RESTORED, TROUBLE, StateGuard, StateReplaced
from ..adapters.store import Store
from ..errors import StateError
from .journal import Journal

TROUBLE_KEY = "state-folder"


def open_store(db: Path) -> Store:
    """Open the state database. A folder deleted while it is being opened (`rm -rf
    .orchestrate` as the daemon starts: its first statements fail) is made again, up to
    twice; anything else wrong with it is for a person (a full disk, a corrupt file)."""
    for _ in range(2):
        try:
            return Store(db)
        except StateError:
            if db.exists():
                raise
    return Store(db)


class StateFolder:
    def __init__(self, store: Store, lock: Lock, journal: Journal) -> None:
        self.store = store
        self.lock = lock
        self.journal = journal
        self.guard = StateGuard(store)

    def check(self, restored: Callable[[], None]) -> None:
        """Is `.orchestrate/` still the one this daemon opened? Raises StateReplaced if
        another database took its place; calls `restored` once a vanished folder is back
        (the watches on the old one went with it). The pid file is written again if it
        went."""
        found = self.guard.check()
        if found.kind == REPLACED and found.kept is not None:
            if not self.journal.troubles.get(TROUBLE_KEY):
                self.journal("state-replaced", found.message)
            try:
                self.guard.keep(found.kept, found.message)
            except StateError as exc:  # no room, no right: go on with it, and try again
                self.guard.replaced = False
                self.journal.trouble(TROUBLE_KEY, f"{exc}; the daemon goes on and tries again")
                return
            raise StateReplaced(found.message)
        if found.kind == TROUBLE:
            self.journal.trouble(TROUBLE_KEY, found.message)
            return
        if found.kind == RESTORED:
            self.journal.trouble(TROUBLE_KEY, "")
            self.journal("state-restored", found.message)
            restored()
        if not self.guard.replaced:
            try:
                self.lock.mark()
            except OSError as exc:
                self.journal.trouble(TROUBLE_KEY, f"cannot write {self.lock.path}: {exc}")
                return
            self.journal.trouble(TROUBLE_KEY, "")

"""The board reader against a model (hypothesis stateful testing): any sequence of appends
split at any byte (inside UTF-8 characters, inside headers), rename-replace saves, rewrites
by a person, a person's edits of counted blocks (alone, or in the same save as an agent's
next block for that task), truncations, deletions and re-creations, settle reads at any
moment, with daemon restarts in between. Every block written is emitted exactly once; none
is invented, and an edit is never emitted.

A block is read before the file is truncated or deleted (the daemon reads on the watcher's
event, within milliseconds); a block destroyed before any read cannot be seen by anyone.
Blocks carry unique ids: after a truncation, a byte-identical block written again would be
taken for one already counted (the reader skips blocks it has counted when a file is
rewritten), which is the documented rule for rewrites.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections import Counter
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from orchestrator.board import BoardReader

HEADER = "# CLAUDE.md\n\nThe protocol, with an example:\n\n```\n### TODO-X-0: COMPLETED\n```\n\n"
fields = st.lists(
    st.tuples(
        st.sampled_from(["Date", "Tests", "Notes", "Fichiers modifiés"]),
        st.text(
            st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="*\n\r"),
            max_size=10,
        ),
    ),
    max_size=3,
)


class BoardModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="board-model-"))
        self.board = self.dir / "CLAUDE.md"
        self.board.write_text(HEADER, encoding="utf-8")
        self.reader = BoardReader(self.board)
        self.written: Counter[str] = Counter()  # ref of every block written
        self.emitted: Counter[str] = Counter()
        self.count = 0
        self.partial = b""  # the second half of a block being appended in two writes

    def teardown(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    def _block(
        self, status: str, data: list[tuple[str, str]], eol: str, ref: str | None = None
    ) -> bytes:
        if ref is None:
            self.count += 1
            ref = f"T-{self.count}"
        self.written[f"TODO-{ref}"] += 1
        lines = [f"### TODO-{ref}: {status} ✅", *(f"**{n}**: {v}" for n, v in data)]
        return (eol.join(lines) + eol + eol).encode("utf-8")

    def _append(self, data: bytes) -> None:
        with self.board.open("ab") as handle:
            handle.write(data)

    def _read(self, final: bool = False) -> None:
        for block in self.reader.read(final=final).blocks:
            self.emitted[block.ref] += 1

    @precondition(lambda self: not self.partial)
    @rule(
        status=st.sampled_from(["COMPLETED", "FAILED", "BLOCKED"]),
        data=fields,
        eol=st.sampled_from(["\n", "\r\n"]),
        cut=st.floats(0, 1),
        read_between=st.booleans(),
    )
    def append_a_block(
        self, status: str, data: list[tuple[str, str]], eol: str, cut: float, read_between: bool
    ) -> None:
        raw = self._block(status, data, eol)
        at = int(len(raw) * cut)  # anywhere: inside a character, inside the header
        self._append(raw[:at])
        if read_between:
            self._read()
            self.partial = raw[at:]
        else:
            self._append(raw[at:])

    @precondition(lambda self: bool(self.partial))
    @rule()
    def finish_the_block(self) -> None:
        self._append(self.partial)
        self.partial = b""

    @precondition(lambda self: not self.partial and self.board.exists())
    @rule(status=st.sampled_from(["COMPLETED", "FAILED"]), data=fields)
    def save_by_rename(self, status: str, data: list[tuple[str, str]]) -> None:
        """An agent's Edit tool: the whole file plus a block, written aside and renamed."""
        tmp = self.dir / "CLAUDE.md.tmp"
        tmp.write_bytes(self.board.read_bytes() + self._block(status, data, "\n"))
        os.replace(tmp, self.board)

    @precondition(lambda self: not self.partial and self.board.exists())
    @rule()
    def a_person_edits_an_old_line(self) -> None:
        text = self.board.read_bytes()
        old, new = (b"protocol", b"Protocol") if b"protocol" in text else (b"Protocol", b"protocol")
        self.board.write_bytes(text.replace(old, new, 1))

    @precondition(lambda self: not self.partial and self.board.exists())
    @rule()
    def truncate(self) -> None:
        self._read(final=True)  # the daemon saw the writes before (the watcher's event)
        self.board.write_bytes(b"")

    @precondition(lambda self: not self.partial and self.board.exists())
    @rule()
    def delete(self) -> None:
        self._read(final=True)
        self.board.unlink()

    @precondition(lambda self: not self.partial and not self.board.exists())
    @rule()
    def recreate(self) -> None:
        self.board.write_text(HEADER, encoding="utf-8")

    def _counted_on_board(self) -> list[str]:
        """Refs of tasks whose every block was emitted and whose first block is on the board."""
        text = self.board.read_bytes() if self.board.exists() else b""
        return sorted(
            ref
            for ref, n in self.emitted.items()
            if n == self.written[ref] and f"### {ref}: ".encode() in text
        )

    def _edit(self, text: bytes, ref: str, how: str) -> bytes:
        """A person's edit of the first block of `ref`: a word added, or a field added."""
        start = text.index(f"### {ref}: ".encode())
        eol = text.index(b"\n", start)
        cut = eol - 1 if text[eol - 1 : eol] == b"\r" else eol
        if how == "word":
            return text[:cut] + b" (typo fixed)" + text[cut:]
        return (
            text[: eol + 1] + b"**Note**: added by a person" + text[cut : eol + 1] + text[eol + 1 :]
        )

    def _save(self, data: bytes, by_rename: bool) -> None:
        if by_rename:
            tmp = self.dir / "CLAUDE.md.tmp"
            tmp.write_bytes(data)
            os.replace(tmp, self.board)
        else:
            self.board.write_bytes(data)

    @precondition(lambda self: not self.partial and bool(self._counted_on_board()))
    @rule(data=st.data(), how=st.sampled_from(["word", "field"]), by_rename=st.booleans())
    def a_person_edits_a_counted_block(
        self, data: st.DataObject, how: str, by_rename: bool
    ) -> None:
        ref = data.draw(st.sampled_from(self._counted_on_board()))
        self._save(self._edit(self.board.read_bytes(), ref, how), by_rename)

    @precondition(lambda self: not self.partial and bool(self._counted_on_board()))
    @rule(
        data=st.data(),
        status=st.sampled_from(["COMPLETED", "FAILED"]),
        fields_=fields,
        how=st.sampled_from(["word", "field"]),
    )
    def an_edit_and_the_next_attempts_report_in_one_save(
        self, data: st.DataObject, status: str, fields_: list[tuple[str, str]], how: str
    ) -> None:
        """Claude Code's Write: an old block of the task edited, its new report appended."""
        ref = data.draw(st.sampled_from(self._counted_on_board()))
        edited = self._edit(self.board.read_bytes(), ref, how)
        self._save(edited + self._block(status, fields_, "\n", ref.removeprefix("TODO-")), True)

    @rule()
    def read(self) -> None:
        self._read()

    @rule()
    def settle(self) -> None:
        """The daemon's settle timer, at any moment (a writer pausing mid-block included)."""
        self._read(final=True)

    @rule()
    def restart_the_daemon(self) -> None:
        r = self.reader
        self.reader = BoardReader(self.board, r.state, r.seen.copy(), dict(r.refs))

    @invariant()
    def nothing_invented_nothing_twice(self) -> None:
        assert not self.emitted - self.written, "a block was invented or emitted twice"

    def teardown_check(self) -> None:
        if self.partial:
            self._append(self.partial)
            self.partial = b""
        self._read()
        self._read(final=True)
        assert self.emitted == self.written


class BoardModelRun(BoardModel):
    def teardown(self) -> None:
        try:
            self.teardown_check()
        finally:
            super().teardown()


TestBoardModel = BoardModelRun.TestCase
TestBoardModel.settings = settings(max_examples=200, stateful_step_count=30, deadline=None)

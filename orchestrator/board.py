"""The board (CLAUDE.md), read incrementally from disk.

`BoardReader` reads only the bytes that are new since its last position, yet survives
rename-replace saves (a new inode with the same prefix: only the new part counts),
truncation and rewrites (the file is re-read, and a block already counted is not counted
again, nor is a person's edit of one). Its position is a small value (`ReaderState`) that
the daemon persists with the effects of the blocks it read. The parsing is `blocks.py`.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from .blocks import STATUSES, Block, LineParser, Note, candidates, parse_blocks
from .errors import OrchestrateError

__all__ = [
    "STATUSES",
    "Block",
    "BoardNotAFile",
    "BoardReader",
    "Note",
    "ReadResult",
    "ReaderState",
    "candidates",
    "file_problem",
    "parse_blocks",
]

# The reader checks that the bytes before its position are still those it read.
TAIL_BYTES = 4096


class BoardNotAFile(OrchestrateError):
    """The board exists and is not a regular file: reading a FIFO would wait forever."""

    def __init__(self, path: Path, kind: str) -> None:
        super().__init__(f"{path} is {kind}, not a regular file: replace it with a file")


def _kind(mode: int) -> str:
    kinds = (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    )
    return next((name for test, name in kinds if test(mode)), "not a file")


def file_problem(path: Path) -> str | None:
    """Why `path` cannot be the board (it exists and is not a regular file), or None."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None  # absent (or unreadable: reading it says why)
    return None if stat.S_ISREG(mode) else str(BoardNotAFile(path, _kind(mode)))


@dataclass(frozen=True)
class ReaderState:
    """Where the reader stands in the board; persisted across restarts."""

    offset: int = 0
    tail: str = ""  # sha256 of the TAIL_BYTES bytes before `offset`
    fence: str = ""  # an open code fence at `offset`
    line: int = 1  # the line number at `offset`
    fence_line: int = 0  # the line where that fence began
    last: str = ""  # the digest of the last block before `offset` (a rewrite's anchor)


@dataclass(frozen=True)
class ReadResult:
    blocks: tuple[Block, ...]  # new reports, in board order
    state: ReaderState
    pending: bool  # something at the end waits for more bytes, or for the writer to be quiet
    rescanned: bool  # the file was rewritten: re-read from the start, old blocks skipped
    changed: bool = True  # the board is not as the previous read left it
    notes: tuple[Note, ...] = ()
    counted: tuple[str, ...] = ()  # the digest of each block now counted (edits included)
    refs: tuple[tuple[str, str], ...] = ()  # (digest, Block.key) of those, and of any learnt
    forgotten: tuple[str, ...] = ()  # the digests that edits replaced


@dataclass
class _Scan:
    blocks: list[Block]
    state: ReaderState  # where the next read starts (its tail not yet filled in)
    pending: bool
    notes: list[Note]
    growing: tuple[Block, ReaderState] | None = None  # the last block, while it may grow
    last: str = ""  # after a rescan: the digest of the file's last block now counted


@dataclass
class BoardReader:
    """Reads new report blocks from `path`; every block is returned once.

    `seen` counts the blocks counted so far by digest, and `refs` names each digest's
    task (`Block.key`). New bytes at the end are new blocks. After a rewrite the file
    is re-read from its start, and a block of task R counts only if the file now holds
    more blocks of R than were ever counted for R: the last unseen ones. An unseen block
    within that number is a person's edit of a counted block: it is told about, and
    takes the place of the block it edited.

    `read(final=True)` asks to settle the end of the file (the daemon's timer: nothing
    was written for a moment): the open block closes, a last line without its newline is
    taken if it completes a heading, a field or a fence. That happens only if the file is
    as the previous read left it; on a first read (a new daemon), only if the file ends
    with a whole line.
    """

    path: Path
    state: ReaderState = field(default_factory=ReaderState)
    seen: Counter[str] = field(default_factory=Counter)
    refs: dict[str, str] = field(default_factory=dict)
    _last: tuple[int, int, str] | None = field(default=None, repr=False)
    _told: set[str] = field(default_factory=set, repr=False)
    _learnt: bool = field(default=False, repr=False)

    def read(self, final: bool = False) -> ReadResult:
        """New blocks since the last read. `final`: settle the end, if the writer is quiet."""
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
        except FileNotFoundError:
            self._last = None
            return ReadResult((), self.state, False, False, changed=False)
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise BoardNotAFile(self.path, _kind(info.st_mode))
            size = info.st_size
            rescanned = not self._tail_matches(fd, size)
            state = ReaderState() if rescanned else self.state
            # The bytes before the position come along, to fingerprint the new position.
            base = max(0, state.offset - TAIL_BYTES)
            window = _pread_all(fd, base, size - base)
        finally:
            os.close(fd)
        data = window[state.offset - base :]
        mark = (state.offset, size, hashlib.sha256(data).hexdigest())
        changed = rescanned or mark != self._last
        settle = "no"
        if final and self._last is None:
            settle = "whole" if data.endswith(b"\n") or not data else "no"
        elif final and not changed:
            settle = "yes"
        learned = [] if self._learnt else self._learn()
        if rescanned:
            result = self._rescan(data, settle)
        else:
            scan = _consume(data, state, settle)
            counted = [(b.digest, b.key) for b in scan.blocks]
            result = scan, counted, []
        scan, counted, forgotten = result
        for digest, key in counted:
            self.seen[digest] += 1
            self.refs[digest] = key
        for digest in forgotten:
            self.seen[digest] -= 1
            if self.seen[digest] <= 0:
                del self.seen[digest]
        offset = scan.state.offset
        tail = window[max(0, offset - TAIL_BYTES - base) : offset - base]
        last = scan.last if rescanned else scan.blocks[-1].digest if scan.blocks else state.last
        self.state = replace(scan.state, tail=hashlib.sha256(tail).hexdigest(), last=last)
        self._last = (offset, size, hashlib.sha256(window[offset - base :]).hexdigest())
        # A re-read file tells again of the headings in its unclosed fences: once is enough.
        notes = [n for n in scan.notes if n.kind != "board-fence" or n.message not in self._told]
        self._told.update(n.message for n in notes)
        return ReadResult(
            tuple(scan.blocks),
            self.state,
            scan.pending,
            rescanned,
            changed,
            tuple(notes),
            tuple(d for d, _ in counted),
            tuple(counted + learned),
            tuple(forgotten),
        )

    def copy(self) -> BoardReader:
        """An independent copy, to go back to if a read's effects could not be recorded."""
        return replace(self, seen=Counter(self.seen), refs=dict(self.refs), _told=set(self._told))

    def _tail_matches(self, fd: int, size: int) -> bool:
        offset = self.state.offset
        if offset == 0:
            return True
        if size < offset:
            return False
        start = max(0, offset - TAIL_BYTES)
        return hashlib.sha256(_pread_all(fd, start, offset - start)).hexdigest() == self.state.tail

    def _rescan(self, data: bytes, settle: str) -> tuple[_Scan, list[tuple[str, str]], list[str]]:
        """The whole file again, judged at once: every block in it is old, edited or new.

        The last block counted before (`state.last`) anchors it: a block after that one was
        appended since, a new report even if a person deleted a block of its task meanwhile
        (an agent may write while a person saves, or while the daemon is stopped). Without
        the anchor (it was edited or deleted), the counts alone judge."""
        scan = _consume(data, ReaderState(), "yes", known=lambda digest: digest in self.seen)
        budget = Counter(self.seen)
        anchors = [i for i, b in enumerate(scan.blocks) if b.digest == self.state.last]
        appended = anchors[-1] + 1 if anchors else len(scan.blocks)
        unseen: dict[str, list[Block]] = {}
        fresh: list[Block] = []
        for i, block in enumerate(scan.blocks):
            if budget[block.digest] > 0:
                budget[block.digest] -= 1
            elif i >= appended:
                fresh.append(block)
            else:
                unseen.setdefault(block.key, []).append(block)
        counted: list[tuple[str, str]] = []
        forgotten: list[str] = []
        for key, blocks in unseen.items():
            # The counted blocks of this task that the file no longer holds as they were.
            missing = [d for d, n in budget.items() if n > 0 and self.refs.get(d) == key]
            missing = [d for d in missing for _ in range(budget[d])]
            for old, block in zip(missing, blocks, strict=False):
                scan.notes.append(
                    Note(
                        "board-edit",
                        block.ref,
                        f"board line {block.line}: {block.ref}'s block was edited; an edit "
                        "is not a new report",
                    )
                )
                forgotten.append(old)
                counted.append((block.digest, key))
            fresh += blocks[len(missing) :]
        new = {id(b) for b in fresh}
        if settle == "no" and scan.growing is not None and id(scan.growing[0]) in new:
            # A new block at the end, maybe still being written: it waits, like any other.
            new.remove(id(scan.growing[0]))
            scan.state, scan.pending = scan.growing[1], True
        waiting = scan.growing[0] if scan.pending and scan.growing else None
        kept = [b for b in scan.blocks if b is not waiting]
        scan.last = kept[-1].digest if kept else ""
        scan.blocks = [b for b in scan.blocks if id(b) in new]
        return scan, counted + [(b.digest, b.key) for b in scan.blocks], forgotten

    def _learn(self) -> list[tuple[str, str]]:
        """Digests counted by a reader that did not record their task (an older state
        database): named from the blocks read so far, at the first read."""
        self._learnt = True
        if all(d in self.refs for d in self.seen):
            return []
        head = _pread_file(self.path, self.state.offset)
        learned = {
            b.digest: b.key
            for b in parse_blocks(head.decode("utf-8", errors="replace"))
            if b.digest in self.seen and b.digest not in self.refs
        }
        self.refs.update(learned)
        return list(learned.items())


def _pread_all(fd: int, offset: int, length: int) -> bytes:
    chunks = []
    while length > 0:
        chunk = os.pread(fd, min(length, 1 << 24), offset)
        if not chunk:
            break
        chunks.append(chunk)
        offset += len(chunk)
        length -= len(chunk)
    return b"".join(chunks)


def _pread_file(path: Path, length: int) -> bytes:
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    try:
        return _pread_all(fd, 0, length)
    finally:
        os.close(fd)


def _consume(
    data: bytes, state: ReaderState, settle: str, known: Callable[[str], bool] | None = None
) -> _Scan:
    """Parse `data` (read at `state.offset`).

    `settle`: "no", the writer may be writing: only whole lines are taken, and what may
    still change (a block open at the end, a fence opened in this data and still open)
    waits, `pending`; "whole", a first read: a block at the end closes; "yes", the writer
    is quiet: the open block closes, a last line without its newline is taken if it
    completes something, and headings hidden in an unclosed fence are told about.
    """
    parser = LineParser(state.fence, state.line, state.fence_line, known)
    blocks: list[Block] = []
    end = data.rfind(b"\n") + 1  # only whole lines; a partial line waits for its newline
    position = 0
    while position < end:
        newline = data.index(b"\n", position)
        raw = data[position:newline].decode("utf-8", errors="replace")
        blocks.extend(parser.feed(raw, state.offset + position))
        position = newline + 1
    partial = data[end:].decode("utf-8", errors="replace")
    takes = bool(partial) and parser.completes(partial)
    if settle == "yes" and takes:
        blocks.extend(parser.feed(partial, state.offset + end))
        end = len(data)
    if settle == "no" and parser.fence and parser.fence_start >= 0:
        # A fence opened in this data: an example being written, or a fence left open.
        # Both are judged once the writer is quiet, from the fence's first line.
        at = ReaderState(offset=parser.fence_start, line=parser.fence_line)
        return _Scan(blocks, at, True, parser.notes)
    growing = None
    if parser.open is not None:
        at = ReaderState(offset=parser.open.start, line=parser.open.line)
        if settle == "no":
            return _Scan(blocks, at, True, parser.notes)
        blocks.extend(parser.finish())
        growing = (blocks[-1], at)
    blocks.extend(parser.finish())
    at = ReaderState(state.offset + end, "", parser.fence, parser.line, parser.fence_line)
    return _Scan(blocks, at, settle == "no" and takes, parser.notes, growing)

"""The board (CLAUDE.md): report blocks, parsed from text and read incrementally from disk.

`parse_blocks(text)` is the pure parser. `BoardReader` reads only the bytes that are
new since its last position, yet survives rename-replace saves (a new inode with the
same prefix: only the new part counts), truncation and rewrites (the file is re-read
and a block already counted is not counted again). Its position is a small value
(`ReaderState`) that the daemon persists with the effects of the blocks it read.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

STATUSES = ("COMPLETED", "FAILED", "BLOCKED")

_HEADER = re.compile(
    r"^ {0,3}(?P<level>#{2,4})[ \t]+"
    r"(?:[^\w\s#*]+[ \t]*)?"  # an emoji or mark before the id
    r"(?P<ref>[A-Za-z0-9][A-Za-z0-9_.-]*?)[.\-_]*"
    r"(?:[ \t]*:[ \t]*|[ \t]+[-–—][ \t]+|[ \t]+)"
    r"(?P<status>completed|failed|blocked)(?![A-Za-z0-9_])"
    r"(?P<rest>.*)$",
    re.IGNORECASE,
)
_FIELD_LINE = re.compile(r"^[ \t]*(?:[-*+][ \t]+)?\*\*(?P<name>[^*\n]+?)\*\*[ \t]*(?P<value>.*)$")
_INLINE_FIELD = re.compile(r"\*\*(?P<name>[^*\n]+?)\*\*(?P<value>.*?)(?=\*\*[^*\n]+?\*\*|$)")
_FENCE = re.compile(r"^ {0,3}(?P<fence>`{3,}|~{3,})")
_HEADING = re.compile(r"^ {0,3}#{1,6}(?:[ \t]|$)")

# The reader checks that the bytes before its position are still those it read.
TAIL_BYTES = 4096


def _clean_name(name: str) -> str:
    return name.strip().rstrip(":").strip()


def _clean_value(value: str) -> str:
    return value.strip().removeprefix(":").strip()


@dataclass(frozen=True)
class Block:
    """One report block: `### TODO-AUTO-001: COMPLETED ✅` and its `**Field**: value` lines."""

    ref: str
    status: str
    fields: tuple[tuple[str, str], ...]
    line: int
    text: str

    @property
    def candidates(self) -> tuple[str, ...]:
        """Task ids this block may name: `TODO-X` names task `TODO-X`, or else `X`."""
        if self.ref.upper().startswith("TODO-") and len(self.ref) > 5:
            return (self.ref, self.ref[5:])
        return (self.ref,)

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    def field(self, name: str) -> str | None:
        wanted = name.casefold()
        return next((v for n, v in self.fields if n.casefold() == wanted), None)


@dataclass
class _Open:
    ref: str
    status: str
    fields: list[tuple[str, str]]
    line: int
    lines: list[str]
    start: int  # byte offset of the header line


class _LineParser:
    """Line-by-line state machine shared by `parse_blocks` and `BoardReader`."""

    def __init__(self, fence: str = "", line: int = 1) -> None:
        self.fence = fence
        self.line = line
        self.open: _Open | None = None

    def _close(self) -> list[Block]:
        if self.open is None:
            return []
        o, self.open = self.open, None
        return [Block(o.ref, o.status, tuple(o.fields), o.line, "\n".join(o.lines))]

    def feed(self, raw: str, start: int) -> list[Block]:
        """One line (without its newline), starting at byte offset `start`."""
        text = raw.rstrip("\r").lstrip("\ufeff") if self.line == 1 else raw.rstrip("\r")
        number = self.line
        self.line += 1
        if self.fence:
            stripped = text.strip()
            if stripped.startswith(self.fence) and set(stripped) == {self.fence[0]}:
                self.fence = ""
            return []
        done: list[Block] = []
        if self.open is not None:
            match = _FIELD_LINE.match(text)
            if match and not _HEADING.match(text):
                self.open.fields.append((_clean_name(match["name"]), _clean_value(match["value"])))
                self.open.lines.append(text.strip())
                return []
            done = self._close()
        fence = _FENCE.match(text)
        if fence:
            self.fence = fence["fence"]
            return done
        header = _HEADER.match(text)
        if header:
            inline = [
                (_clean_name(m["name"]), _clean_value(m["value"]))
                for m in _INLINE_FIELD.finditer(header["rest"])
            ]
            self.open = _Open(
                ref=header["ref"],
                status=header["status"].upper(),
                fields=inline,
                line=number,
                lines=[text.strip()],
                start=start,
            )
        return done

    def finish(self) -> list[Block]:
        return self._close()


def parse_blocks(text: str) -> list[Block]:
    """Every report block in `text`, in order. Blocks inside code fences do not count."""
    parser = _LineParser()
    blocks: list[Block] = []
    for raw in text.split("\n"):
        blocks.extend(parser.feed(raw, 0))
    blocks.extend(parser.finish())
    return blocks


# --------------------------------------------------------------------------- incremental reader


@dataclass(frozen=True)
class ReaderState:
    """Where the reader stands in the board; persisted across restarts."""

    offset: int = 0
    tail: str = ""  # sha256 of the TAIL_BYTES bytes before `offset`
    fence: str = ""  # an open code fence at `offset`
    line: int = 1  # the line number at `offset`


@dataclass(frozen=True)
class ReadResult:
    blocks: tuple[Block, ...]
    state: ReaderState
    pending: bool  # an unterminated block at the end waits for more bytes (or `final`)
    rescanned: bool  # the file was rewritten: re-read from the start, duplicates skipped


@dataclass
class BoardReader:
    """Reads new report blocks from `path`; every block is returned once.

    `seen` counts every block returned so far by digest. After a rewrite the file is
    re-read from its start and a block is returned only if the file now holds more
    copies of it than were ever returned.
    """

    path: Path
    state: ReaderState = field(default_factory=ReaderState)
    seen: Counter[str] = field(default_factory=Counter)

    def read(self, final: bool = False) -> ReadResult:
        """New blocks since the last read. `final`: the writer is done, close an open block."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return ReadResult((), self.state, False, False)
        try:
            size = os.fstat(fd).st_size
            state, rescanned = self.state, False
            if not self._tail_matches(fd, size):
                state, rescanned = ReaderState(), True
            # The bytes before the position come along, to fingerprint the new position.
            base = max(0, state.offset - TAIL_BYTES)
            window = _pread_all(fd, base, size - base)
        finally:
            os.close(fd)
        blocks, new_state, pending = _consume(window[state.offset - base :], state, final)
        if rescanned:
            blocks = self._unseen(blocks)
        for block in blocks:
            self.seen[block.digest] += 1
        tail = window[max(0, new_state.offset - TAIL_BYTES - base) : new_state.offset - base]
        self.state = replace(new_state, tail=hashlib.sha256(tail).hexdigest())
        return ReadResult(tuple(blocks), self.state, pending, rescanned)

    def _tail_matches(self, fd: int, size: int) -> bool:
        offset = self.state.offset
        if offset == 0:
            return True
        if size < offset:
            return False
        start = max(0, offset - TAIL_BYTES)
        return hashlib.sha256(_pread_all(fd, start, offset - start)).hexdigest() == self.state.tail

    def _unseen(self, blocks: Iterable[Block]) -> list[Block]:
        budget = Counter(self.seen)
        fresh = []
        for block in blocks:
            if budget[block.digest] > 0:
                budget[block.digest] -= 1
            else:
                fresh.append(block)
        return fresh


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


def _consume(data: bytes, state: ReaderState, final: bool) -> tuple[list[Block], ReaderState, bool]:
    """Parse the complete lines of `data` (read at `state.offset`)."""
    parser = _LineParser(state.fence, state.line)
    blocks: list[Block] = []
    end = data.rfind(b"\n") + 1  # only whole lines; a partial line waits for its newline
    if final and end < len(data):
        end = len(data)
    position = 0
    while position < end:
        newline = data.find(b"\n", position, end)
        stop = end if newline == -1 else newline
        raw = data[position:stop].decode("utf-8", errors="replace")
        blocks.extend(parser.feed(raw, state.offset + position))
        position = stop + 1 if newline != -1 else end
    consumed = min(position, len(data))
    if parser.open is not None and not final:
        # An unterminated block at the end: keep its bytes for the next read.
        open_block = parser.open
        new_state = ReaderState(offset=open_block.start, tail="", fence="", line=open_block.line)
        return blocks, new_state, True
    blocks.extend(parser.finish())
    return (
        blocks,
        ReaderState(offset=state.offset + consumed, tail="", fence=parser.fence, line=parser.line),
        False,
    )

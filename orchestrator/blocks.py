"""Report blocks of the board (CLAUDE.md), parsed from text: text in, blocks out.

`parse_blocks(text)` parses a whole text; `LineParser` is its line-by-line state
machine, which the reader (`board.py`) feeds the new bytes of the file with.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass

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


def candidates(ref: str) -> tuple[str, ...]:
    """Task ids a report's ref may name: `TODO-X` names task `TODO-X`, or else `X`."""
    if ref.upper().startswith("TODO-") and len(ref) > 5:
        return (ref, ref[5:])
    return (ref,)


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
        return candidates(self.ref)

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    @property
    def key(self) -> str:
        """The task this block reports on, for counting: `TODO-A-1`, `a-1` and `A-1` alike."""
        return self.ref.upper().removeprefix("TODO-")

    def field(self, name: str) -> str | None:
        wanted = name.casefold()
        return next((v for n, v in self.fields if n.casefold() == wanted), None)


@dataclass(frozen=True)
class Note:
    """Something about the board that a person should know; the daemon journals it."""

    kind: str  # board-edit | board-fence
    ref: str
    message: str


@dataclass
class _Open:
    ref: str
    status: str
    fields: list[tuple[str, str]]
    line: int
    lines: list[str]
    start: int  # byte offset of the header line

    def block(self) -> Block:
        return Block(self.ref, self.status, tuple(self.fields), self.line, "\n".join(self.lines))

    def take(self, text: str) -> bool:
        """Add `text` if it is one of this block's field lines."""
        match = _FIELD_LINE.match(text)
        if match is None or _HEADING.match(text):
            return False
        self.fields.append((_clean_name(match["name"]), _clean_value(match["value"])))
        self.lines.append(text.strip())
        return True


def _opening(header: re.Match[str], text: str, number: int, start: int) -> _Open:
    inline = [
        (_clean_name(m["name"]), _clean_value(m["value"]))
        for m in _INLINE_FIELD.finditer(header["rest"])
    ]
    return _Open(header["ref"], header["status"].upper(), inline, number, [text.strip()], start)


class LineParser:
    """Line-by-line state machine shared by `parse_blocks` and `BoardReader`.

    A fence open when the parser starts (`fence`) was opened by an earlier write; a
    report heading inside it means that its writer never closed it, and the heading
    counts. A report heading inside a fence opened in this text is kept in `hidden`
    while the fence stays open: an example, or a report nobody can tell from one;
    unless `known` says that its block was counted before (a file read again: the fence
    was taken as never closed then, and is again).
    """

    def __init__(
        self,
        fence: str = "",
        line: int = 1,
        fence_line: int = 0,
        known: Callable[[str], bool] | None = None,
    ) -> None:
        self.fence = fence
        self.fence_line = fence_line  # where the open fence began
        self.fence_start = -1  # its byte offset, if it opened in this text
        self.line = line
        self.known = known
        self.open: _Open | None = None
        self.maybe: _Open | None = None  # a block in the fence, while `known` may claim it
        self.hidden: list[tuple[int, str, str]] = []  # (line, ref, status) in the open fence
        self.notes: list[Note] = []

    def _close(self) -> list[Block]:
        if self.open is None:
            return []
        o, self.open = self.open, None
        return [o.block()]

    def _claim(self) -> bool:
        """The block in the fence ends: whether it was counted before (it opens again)."""
        maybe, self.maybe = self.maybe, None
        if maybe is None or self.known is None or not self.known(maybe.block().digest):
            return False
        self.fence, self.open = "", maybe
        self.hidden = [h for h in self.hidden if h[0] != maybe.line]
        return True

    def _in_fence(self, text: str, number: int, start: int) -> bool:
        """One line inside the open fence: True if it stays there, False if the fence
        ended before it (the line is then read as any other)."""
        if self.maybe is not None and (self.maybe.take(text) or self._claim()):
            return self.fence != ""
        stripped = text.strip()
        if stripped.startswith(self.fence) and set(stripped) == {self.fence[0]}:
            self.fence, self.hidden = "", []
            return True
        header = _HEADER.match(text)
        if header is None:
            return True
        ref, status = header["ref"], header["status"].upper()
        if self.fence_start >= 0:
            self.hidden.append((number, ref, status))
            if self.known is not None:
                self.maybe = _opening(header, text, number, start)
            return True
        where = f"opened at line {self.fence_line}" if self.fence_line else "before it"
        self.notes.append(
            Note(
                "board-fence",
                ref,
                f"board line {number}: the code fence {where} was never closed; the "
                f"{status} heading for {ref} after it counts as a report",
            )
        )
        self.fence = ""
        return False

    def feed(self, raw: str, start: int) -> list[Block]:
        """One line (without its newline), starting at byte offset `start`."""
        text = raw.rstrip("\r").lstrip("\ufeff") if self.line == 1 else raw.rstrip("\r")
        number = self.line
        self.line += 1
        if self.fence and self._in_fence(text, number, start):
            return []
        done: list[Block] = []
        if self.open is not None:
            if self.open.take(text):
                return []
            done = self._close()
        fence = _FENCE.match(text)
        if fence:
            self.fence, self.fence_line, self.fence_start = fence["fence"], number, start
            self.hidden = []
            return done
        header = _HEADER.match(text)
        if header:
            self.open = _opening(header, text, number, start)
        return done

    def completes(self, partial: str) -> bool:
        """Whether a last line without its newline is whole enough to take, once the
        writer is quiet: a report heading, a fence, or a field of the open block."""
        text = partial.rstrip("\r")
        if _HEADER.match(text) or _FENCE.match(text):
            return True
        if self.fence:
            stripped = text.strip()
            return stripped.startswith(self.fence) and set(stripped) == {self.fence[0]}
        return self.open is not None and bool(_FIELD_LINE.match(text))

    def finish(self) -> list[Block]:
        """The end of the text: the open block closes; headings hidden in a fence that is
        still open are told about."""
        self._claim()
        for number, ref, status in self.hidden if self.fence else ():
            self.notes.append(
                Note(
                    "board-fence",
                    ref,
                    f"board line {number}: the {status} heading for {ref} is inside the code "
                    f"fence opened at line {self.fence_line}, which is never closed: not "
                    "counted; close the fence before the heading if it is a report",
                )
            )
        self.hidden = []
        return self._close()


def parse_blocks(text: str) -> list[Block]:
    """Every report block in `text`, in order. Blocks inside code fences do not count."""
    parser = LineParser()
    blocks: list[Block] = []
    for raw in text.split("\n"):
        blocks.extend(parser.feed(raw, 0))
    blocks.extend(parser.finish())
    return blocks

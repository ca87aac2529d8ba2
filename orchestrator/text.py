"""Text from the board or a pane, made fit to show a person: without control characters.

An agent writes what it likes into CLAUDE.md, and a program prints what it likes into its
pane. Shown raw on a terminal (`orchestrate logs`, `start --plain`, the dashboard) or kept
in the journal and the status file, an escape sequence in that text would set the
terminal's title, clear its screen, or write the clipboard (OSC 52). So every such text is
passed through `printable` before it is journaled or shown.
"""

from __future__ import annotations

import re
from typing import Any

# A control character anywhere: C0 but tab and newline, DEL, C1. Every escape sequence
# starts with one (ESC is C0; the 8-bit CSI, OSC, DCS... are C1), so text without one is
# returned as it is, unscanned.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")

_SEQUENCE = re.compile(
    r"""
      (?:\x1b\[|\x9b) [\x30-\x3f]* [\x20-\x2f]* [\x40-\x7e]?    # CSI: ESC [ or 8-bit CSI,
                                                                #   parameters, final byte
    | (?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])                   # OSC, DCS, SOS, PM, APC:
      [^\x07\x1b\x9c\n]* (?:\x07|\x1b\\|\x9c)                   #   a string up to BEL or ST
    | \x1b [\x20-\x2f]* [\x30-\x7e]?                            # any other ESC sequence
    | [\x00-\x08\x0b-\x1f\x7f-\x9f]                             # a control character alone
    """,
    re.VERBOSE,
)


def printable(text: str) -> str:
    """`text` without its control characters: escape sequences are removed whole (CSI,
    and OSC/DCS/SOS/PM/APC strings up to their BEL or ST), and the C0 controls but newline
    and tab, DEL and the C1 controls one by one. A string sequence without its terminator
    on the same line loses its introducer; the rest is shown as plain text."""
    if _CONTROL.search(text) is None:
        return text
    return _SEQUENCE.sub("", text)


def printable_data(value: Any) -> Any:
    """`value` (JSON data: dicts, lists, tuples, texts, numbers) with each text, keys
    included, passed through `printable`."""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {printable_data(k): printable_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [printable_data(v) for v in value]
    return value


def duration(seconds: float | None) -> str:
    """A length of time in the unit that makes it true to a person: `20s`, `3m`, `1h05m`."""
    if seconds is None:
        return "-"
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"

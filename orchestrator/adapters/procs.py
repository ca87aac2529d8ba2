"""Processes as Linux's /proc shows them: the one reader of `/proc/PID/stat`."""

from __future__ import annotations

from pathlib import Path


def stat_fields(pid: int | str) -> list[str] | None:
    """The fields of `/proc/PID/stat` from the third (the state, `fields[0]`) on, or None if
    there is no such process (or no /proc). The name before them, which may hold spaces and
    parentheses, is cut off at its last ')'."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    return stat.rpartition(")")[2].split()


def have_proc() -> bool:
    return Path("/proc/self/stat").exists()

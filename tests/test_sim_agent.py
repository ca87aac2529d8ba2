"""The simulated agent's reports and input line (the tmux behaviour is covered in test_tmux and
end to end)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator.board import parse_blocks
from orchestrator.config.settings import load_settings
from orchestrator.prompt import render
from orchestrator.sim.agent import (
    PASTE_END,
    PASTE_START,
    SimAgent,
    SimOptions,
    report_for,
    write_report,
)

from .test_prompt import a_task


def prompt(tmp_path: Path, attempt: int = 1) -> str:
    return render(a_task(), attempt, load_settings(tmp_path), "sim")


def test_reports_the_header_and_fields_the_prompt_asks_for(tmp_path: Path) -> None:
    block = report_for(prompt(tmp_path), SimOptions("sim", tmp_path / "b.md"), {})
    assert block is not None
    (parsed,) = parse_blocks(block)
    assert parsed.ref == "TODO-AUTO-001" and parsed.status == "COMPLETED"
    assert [n for n, _ in parsed.fields] == ["Date", "Agent", "Tests"]
    assert parsed.field("Agent") == "sim"


def test_fail_block_silent_and_fail_once(tmp_path: Path) -> None:
    text = prompt(tmp_path)
    board = tmp_path / "b.md"
    failed = report_for(text, SimOptions("sim", board, fail={"AUTO-001"}), {})
    assert failed and parse_blocks(failed)[0].status == "FAILED"
    assert parse_blocks(failed)[0].field("Reason")
    blocked = report_for(text, SimOptions("sim", board, block={"AUTO-001"}), {})
    assert blocked and parse_blocks(blocked)[0].status == "BLOCKED"
    assert report_for(text, SimOptions("sim", board, silent={"AUTO-001"}), {}) is None
    once = SimOptions("sim", board, fail_once={"AUTO-001"})
    memory: dict[str, int] = {}
    first, second = report_for(text, once, memory), report_for(text, once, memory)
    assert first and second
    assert [parse_blocks(b)[0].status for b in (first, second)] == ["FAILED", "COMPLETED"]


def test_no_header_in_the_prompt_means_no_report(tmp_path: Path) -> None:
    assert report_for("just chatting", SimOptions("sim", tmp_path / "b.md"), {}) is None


def test_write_modes(tmp_path: Path) -> None:
    board = tmp_path / "b.md"
    board.write_text("# Board")  # no final newline
    write_report(board, "### TODO-A: COMPLETED\n\n", "append")
    inode = board.stat().st_ino
    write_report(board, "### TODO-B: COMPLETED\n\n", "rename")
    assert board.stat().st_ino != inode
    write_report(board, "### TODO-C: COMPLETED\n**X**: 1\n\n", "split")
    assert [b.ref for b in parse_blocks(board.read_text())] == ["TODO-A", "TODO-B", "TODO-C"]


PASTED = "[orchestrate X-1 #1] title\nline two\nline three"


def pasted(text: str) -> bytes:
    return PASTE_START + text.encode() + PASTE_END


@pytest.mark.parametrize(
    ("echo", "line"),
    [
        ("full", "> [orchestrate X-1 #1] title  [+2 lines]"),
        ("placeholder", "> [Pasted text #1 +2 lines]"),
        ("none", "> "),
    ],
)
def test_the_input_line_shows_a_paste_as_the_echo_says(
    tmp_path: Path, echo: str, line: str
) -> None:
    log = tmp_path / "a.jsonl"
    agent = SimAgent(SimOptions("a", tmp_path / "b.md", log=log, echo=echo))
    agent.feed(pasted(PASTED))
    assert agent.status_line() == line
    agent.feed(b"\r")  # whatever the screen showed, the log has the text as it arrived
    (record,) = [json.loads(x) for x in log.read_text().splitlines()]
    assert (record["event"], record["marker"], record["text"]) == (
        "received",
        "[orchestrate X-1 #1]",
        PASTED,
    )


def test_a_placeholder_is_numbered_deleted_whole_and_short_pastes_show_as_text(
    tmp_path: Path,
) -> None:
    log = tmp_path / "a.jsonl"
    agent = SimAgent(SimOptions("a", tmp_path / "b.md", log=log, echo="placeholder"))
    agent.feed(pasted("one line"))
    assert agent.status_line() == "> one line"
    agent.feed(pasted("a\nb"))
    assert agent.status_line() == "> one line[Pasted text #2 +1 lines]"
    agent.feed(b"\x7f")  # backspace takes the whole paste, as in Claude Code
    assert agent.status_line() == "> one line"
    agent.feed(b"\x03" + b"\r")  # cleared, then an empty submit: ignored
    assert not log.exists()
    agent.feed(PASTE_START + b"c\nd")  # a paste that comes in two reads is one paste
    agent.feed(b"\ne" + PASTE_END)
    assert agent.status_line() == "> [Pasted text #3 +2 lines]"
    agent.feed(b"\r")
    assert json.loads(log.read_text())["text"] == "c\nd\ne"

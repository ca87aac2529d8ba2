"""The simulated agent's reports (the tmux behaviour is covered in test_tmux and end to end)."""

from __future__ import annotations

from pathlib import Path

from orchestrator.board import parse_blocks
from orchestrator.config import load_settings
from orchestrator.prompt import render
from orchestrator.sim_agent import SimOptions, report_for, write_report

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

"""Prompt rendering (SPEC section 3)."""

from __future__ import annotations

from pathlib import Path

from orchestrator.board import parse_blocks
from orchestrator.config.settings import Task, load_settings
from orchestrator.prompt import MARKER, last_line, marker, render, report_header


def a_task(**extra: object) -> Task:
    base: dict[str, object] = dict(
        id="AUTO-001",
        title="OAuth",
        agent="antigravity",
        priority="critical",
        phase=1,
        after=(),
        estimate=None,
        uses=("explore-code", "test-code"),
        prompt="Tu dois implémenter OAuth.\n\nTÂCHES:\n1. faire",
        report=("Tests", "Date"),
        validate=("cargo build --release", "cargo test oauth"),
        retries=1,
        file=Path("q.yaml"),
        line=1,
    )
    base.update(extra)
    return Task(**base)  # type: ignore[arg-type]


def test_prompt_has_marker_playbooks_validation_and_exact_header(tmp_path: Path) -> None:
    text = render(a_task(), 2, load_settings(tmp_path), "antigravity")
    lines = text.splitlines()
    assert lines[0] == "[orchestrate AUTO-001 #2] OAuth"
    assert "Tu dois implémenter OAuth.\n\nTÂCHES:\n1. faire" in text
    assert "Use @agents_library/explore-code.md" in lines
    assert "Use @agents_library/test-code.md" in lines
    assert "- cargo build --release" in lines and "- cargo test oauth" in lines
    assert "### TODO-AUTO-001: COMPLETED ✅" in lines
    assert "**Agent**: antigravity" in lines
    assert "**Tests**: ..." in lines
    assert sum(line.startswith("**Date**") for line in lines) == 1
    assert "CLAUDE.md" in text


def test_the_template_in_the_prompt_parses_as_the_block_it_asks_for(tmp_path: Path) -> None:
    text = render(a_task(), 1, load_settings(tmp_path), "antigravity")
    (block,) = parse_blocks(text)
    assert block.candidates[1] == "AUTO-001"
    assert [name for name, _ in block.fields] == ["Date", "Agent", "Tests"]


def test_marker_round_trip() -> None:
    match = MARKER.search("xx " + marker("CODEX-3.1_a", 12) + " yy")
    assert match and match["id"] == "CODEX-3.1_a" and match["attempt"] == "12"


def test_header_for_an_id_that_already_has_the_prefix() -> None:
    assert report_header("TODO-X") == "### TODO-X: COMPLETED ✅"
    assert report_header("X") == "### TODO-X: COMPLETED ✅"


def test_last_line() -> None:
    assert last_line("a\nb\n\n  \n") == "b"
    assert last_line("") == ""

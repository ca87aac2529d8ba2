"""The board: the block parser (tables) and the incremental reader (files on disk)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import threading
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.adapters.store import Store
from orchestrator.board import BoardNotAFile, BoardReader, ReaderState, ReadResult, parse_blocks

from .conftest import Workspace, simple_tasks, wait_until

BLOCK = (
    "### TODO-AUTO-001: COMPLETED ✅\n"
    "**Date**: 2026-01-26 17:42\n"
    "**Agent**: Antigravity\n"
    "**Tests**: 12 tests PASSING\n"
)


class ParseCase(NamedTuple):
    test_id: str
    text: str
    expected: list[tuple[str, str, dict[str, str]]]


PARSE_CASES = [
    ParseCase(
        "multi-line block",
        BLOCK,
        [
            (
                "TODO-AUTO-001",
                "COMPLETED",
                {"Date": "2026-01-26 17:42", "Agent": "Antigravity", "Tests": "12 tests PASSING"},
            )
        ],
    ),
    ParseCase(
        "inline fields on the heading (seed 2)",
        "### TODO-CODEX-003: COMPLETED **Date**: 2026-01-26 15:10 **LIVE Server**: OK "
        "**Certificate**: VALID **Issues**: none\n",
        [
            (
                "TODO-CODEX-003",
                "COMPLETED",
                {
                    "Date": "2026-01-26 15:10",
                    "LIVE Server": "OK",
                    "Certificate": "VALID",
                    "Issues": "none",
                },
            )
        ],
    ),
    ParseCase(
        "inline field names without values (seed 2)",
        "### TODO-CODEX-002: COMPLETED **Date** **Cache Hit Rate estimate** **TTL**\n",
        [("TODO-CODEX-002", "COMPLETED", {"Date": "", "Cache Hit Rate estimate": "", "TTL": ""})],
    ),
    ParseCase(
        "no TODO- prefix, level 2", "## AUTO-002: completed\n", [("AUTO-002", "COMPLETED", {})]
    ),
    ParseCase(
        "level 4, FAILED",
        "#### TODO-X.1: FAILED ❌\n**Reason**: no\n",
        [("TODO-X.1", "FAILED", {"Reason": "no"})],
    ),
    ParseCase("BLOCKED in lower case", "### T-9: blocked\n", [("T-9", "BLOCKED", {})]),
    ParseCase("level 1 is not a report", "# TODO-AUTO-001: COMPLETED\n", []),
    ParseCase("level 5 is not a report", "##### TODO-AUTO-001: COMPLETED\n", []),
    ParseCase("a title is not a status", "### 🔴 TODO-AUTO-001: OAuth Production Setup\n", []),
    ParseCase("COMPLETEDLY is not a status", "### TODO-A: COMPLETEDLY\n", []),
    ParseCase(
        "CRLF line ends",
        BLOCK.replace("\n", "\r\n"),
        [
            (
                "TODO-AUTO-001",
                "COMPLETED",
                {"Date": "2026-01-26 17:42", "Agent": "Antigravity", "Tests": "12 tests PASSING"},
            )
        ],
    ),
    ParseCase(
        "BOM at the start",
        "\ufeff### TODO-A: COMPLETED\n**X**: 1\n",
        [("TODO-A", "COMPLETED", {"X": "1"})],
    ),
    ParseCase(
        "inside a code fence does not count",
        "```markdown\n### TODO-AUTO-001: COMPLETED ✅\n**Date**: x\n```\n",
        [],
    ),
    ParseCase(
        "tilde fence, then a real block",
        "~~~\n### TODO-A: COMPLETED\n~~~\n### TODO-B: COMPLETED\n",
        [("TODO-B", "COMPLETED", {})],
    ),
    ParseCase(
        "fields end at a blank line",
        "### TODO-A: COMPLETED\n**X**: 1\n\n**Y**: 2\n",
        [("TODO-A", "COMPLETED", {"X": "1"})],
    ),
    ParseCase(
        "fields end at the next heading",
        "### TODO-A: COMPLETED\n**X**: 1\n### TODO-B: FAILED\n**Y**: 2\n",
        [("TODO-A", "COMPLETED", {"X": "1"}), ("TODO-B", "FAILED", {"Y": "2"})],
    ),
    ParseCase(
        "bold colon inside and list bullets",
        "### TODO-A: COMPLETED\n- **Tests:** 3 passing\n* **Notes**: ok\n",
        [("TODO-A", "COMPLETED", {"Tests": "3 passing", "Notes": "ok"})],
    ),
    ParseCase(
        "indented four spaces is code, not a heading",
        "    ### TODO-A: COMPLETED\n",
        [],
    ),
]


@pytest.mark.parametrize("case", PARSE_CASES, ids=[c.test_id for c in PARSE_CASES])
def test_parse_blocks(case: ParseCase) -> None:
    blocks = parse_blocks(case.text)
    assert [(b.ref, b.status, dict(b.fields)) for b in blocks] == case.expected


def test_block_candidates_name_the_task_with_or_without_prefix() -> None:
    (block,) = parse_blocks("### TODO-AUTO-001: COMPLETED\n")
    assert block.candidates == ("TODO-AUTO-001", "AUTO-001")
    (plain,) = parse_blocks("### AUTO-001: COMPLETED\n")
    assert plain.candidates == ("AUTO-001",)


def test_block_line_numbers() -> None:
    blocks = parse_blocks("# Board\n\ntext\n### TODO-A: COMPLETED\n\n### TODO-B: FAILED\n")
    assert [b.line for b in blocks] == [4, 6]


# --------------------------------------------------------------------------- reader


def append(path: Path, data: str | bytes) -> None:
    raw = data.encode() if isinstance(data, str) else data
    with path.open("ab") as handle:
        handle.write(raw)


def rename_replace(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def refs(blocks: object) -> list[str]:
    return [b.ref for b in blocks]  # type: ignore[attr-defined]


def test_reader_reads_only_new_blocks(tmp_path: Path) -> None:
    board = tmp_path / "CLAUDE.md"
    board.write_text("# Board\n\n### TODO-A: COMPLETED\n\n")
    reader = BoardReader(board)
    assert refs(reader.read().blocks) == ["TODO-A"]
    assert refs(reader.read().blocks) == []
    append(board, "### TODO-B: COMPLETED\n\n")
    assert refs(reader.read().blocks) == ["TODO-B"]


def test_missing_board_is_not_an_error(tmp_path: Path) -> None:
    reader = BoardReader(tmp_path / "nope.md")
    assert reader.read().blocks == ()


def test_block_split_over_two_writes_counts_once_with_all_fields(tmp_path: Path) -> None:
    board = tmp_path / "CLAUDE.md"
    board.write_text("")
    reader = BoardReader(board)
    append(board, "### TODO-A: COMPLETED\n**Date**: 20")
    first = reader.read()
    assert first.blocks == () and first.pending
    append(board, "26-01-26\n**Tests**: 3\n\n")
    (block,) = reader.read().blocks
    assert dict(block.fields) == {"Date": "2026-01-26", "Tests": "3"}


def test_unterminated_block_at_end_waits_for_final(tmp_path: Path) -> None:
    board = tmp_path / "CLAUDE.md"
    board.write_text("### TODO-A: COMPLETED\n**X**: 1\n")
    reader = BoardReader(board)
    result = reader.read()
    assert result.blocks == () and result.pending
    (block,) = reader.read(final=True).blocks
    assert dict(block.fields) == {"X": "1"}
    assert reader.read(final=True).blocks == ()


def test_utf8_character_split_over_two_writes(tmp_path: Path) -> None:
    board = tmp_path / "CLAUDE.md"
    board.write_bytes(b"")
    reader = BoardReader(board)
    data = "### TODO-A: COMPLETED ✅\n**Scénarios**: réseau\n\n".encode()
    cut = data.index("é".encode()) + 1  # inside the two bytes of 'é'
    append(board, data[:cut])
    assert reader.read().blocks == ()
    append(board, data[cut:])
    (block,) = reader.read().blocks
    assert dict(block.fields) == {"Scénarios": "réseau"}


def test_rename_replace_counts_only_the_new_part(tmp_path: Path) -> None:
    board = tmp_path / "CLAUDE.md"
    board.write_text("# Board\n\n### TODO-A: COMPLETED\n\n")
    reader = BoardReader(board)
    assert refs(reader.read().blocks) == ["TODO-A"]
    inode = board.stat().st_ino
    rename_replace(board, board.read_bytes() + b"### TODO-B: COMPLETED\n\n")
    assert board.stat().st_ino != inode
    result = reader.read()
    assert refs(result.blocks) == ["TODO-B"]
    assert not result.rescanned


def test_truncate_then_new_content_is_rescanned_without_double_counting(tmp_path: Path) -> None:
    board = tmp_path / "CLAUDE.md"
    board.write_text("### TODO-A: COMPLETED\n\n### TODO-B: COMPLETED\n\n")
    reader = BoardReader(board)
    assert refs(reader.read().blocks) == ["TODO-A", "TODO-B"]
    board.write_text("### TODO-A: COMPLETED\n\n")  # truncated: A was there already
    result = reader.read()
    assert result.rescanned and result.blocks == ()
    append(board, "### TODO-C: COMPLETED\n\n")
    assert refs(reader.read().blocks) == ["TODO-C"]


def test_rewrite_by_a_person_keeps_old_blocks_counted_once(tmp_path: Path) -> None:
    board = tmp_path / "CLAUDE.md"
    board.write_text("# Board\n\n### TODO-A: COMPLETED\n**X**: 1\n\n")
    reader = BoardReader(board)
    assert refs(reader.read().blocks) == ["TODO-A"]
    # An editor rewrites the file: a line inserted at the top, and one new block.
    rename_replace(
        board,
        b"# Board (edited)\nnotes\n\n### TODO-A: COMPLETED\n**X**: 1\n\n### TODO-D: FAILED\n\n",
    )
    result = reader.read()
    assert result.rescanned
    assert refs(result.blocks) == ["TODO-D"]


def test_rewrite_with_a_second_identical_block_counts_it(tmp_path: Path) -> None:
    board = tmp_path / "CLAUDE.md"
    block = "### TODO-A: COMPLETED\n**X**: 1\n\n"
    board.write_text(block)
    reader = BoardReader(board)
    assert len(reader.read().blocks) == 1
    board.write_text("edited\n" + block + block)
    assert len(reader.read().blocks) == 1


def test_position_persists_across_a_restart(tmp_path: Path) -> None:
    board = tmp_path / "CLAUDE.md"
    board.write_text("### TODO-A: COMPLETED\n\n")
    first = BoardReader(board)
    first.read()
    saved_state, saved_seen = first.state, first.seen.copy()
    append(board, "### TODO-B: COMPLETED\n\n")
    second = BoardReader(board, ReaderState(**saved_state.__dict__), saved_seen)
    assert refs(second.read().blocks) == ["TODO-B"]


def test_fence_state_persists_across_reads(tmp_path: Path) -> None:
    board = tmp_path / "CLAUDE.md"
    board.write_text("```\n")
    reader = BoardReader(board)
    reader.read()
    append(board, "### TODO-A: COMPLETED\n\n")
    assert reader.read().blocks == ()
    append(board, "```\n### TODO-B: COMPLETED\n\n")
    assert refs(reader.read().blocks) == ["TODO-B"]


def test_crlf_and_bom_on_disk(tmp_path: Path) -> None:
    board = tmp_path / "CLAUDE.md"
    board.write_bytes("\ufeff### TODO-A: COMPLETED\r\n**X**: 1\r\n\r\n".encode())
    (block,) = BoardReader(board).read().blocks
    assert dict(block.fields) == {"X": "1"}


# --------------------------------------------------------------------------- a person's edits

FAILED_A = "### TODO-A: FAILED ❌\n**Reason**: teh build breaks\n\n"


def restart(reader: BoardReader) -> BoardReader:
    """A new daemon: the reader's persisted state, nothing else."""
    return BoardReader(reader.path, reader.state, reader.seen.copy(), dict(reader.refs))


def messages(result: ReadResult) -> list[str]:
    return [n.message for n in result.notes]


def test_a_typo_fixed_in_a_counted_block_is_not_a_new_report(tmp_path: Path) -> None:
    board = tmp_path / "CLAUDE.md"
    board.write_text("# Board\n\n" + FAILED_A)
    reader = BoardReader(board)
    assert refs(reader.read().blocks) == ["TODO-A"]
    rename_replace(board, board.read_bytes().replace(b"teh", b"the"))
    result = reader.read()
    assert result.rescanned and result.blocks == ()
    assert messages(result) == [
        "board line 3: TODO-A's block was edited; an edit is not a new report"
    ]
    # Another rewrite: the edited block is the counted one now, and is not journaled again.
    rename_replace(board, b"# Board, again\n\n" + board.read_bytes()[len(b"# Board\n\n") :])
    again = reader.read()
    assert again.rescanned and again.blocks == () and again.notes == ()


def test_an_edit_and_the_retrys_report_in_one_rename_save(tmp_path: Path) -> None:
    """Claude Code rewrites the whole file: an old block edited and a new one appended."""
    board = tmp_path / "CLAUDE.md"
    board.write_text("# Board\n\n" + FAILED_A)
    reader = BoardReader(board)
    assert refs(reader.read().blocks) == ["TODO-A"]
    edited = board.read_bytes().replace(b"teh", b"the").replace(b"# Board", b"# Board (v2)")
    rename_replace(board, edited + b"### TODO-A: COMPLETED \xe2\x9c\x85\n**Tests**: 3\n\n")
    result = reader.read()
    assert result.rescanned
    assert [(b.ref, b.status, b.line) for b in result.blocks] == [("TODO-A", "COMPLETED", 6)]
    assert messages(result) == [
        "board line 3: TODO-A's block was edited; an edit is not a new report"
    ]


B_DONE = "### TODO-B: COMPLETED ✅\n**Tests**: 4\n\n"
A_DONE = "### TODO-A: COMPLETED ✅\n**Tests**: 3\n\n"


@pytest.mark.parametrize("restarted", [False, True], ids=["running", "restarted"])
def test_a_block_deleted_as_its_tasks_next_report_is_written_hides_no_report(
    tmp_path: Path, restarted: bool
) -> None:
    """A person deletes an old block of A while A's agent appends its new report: one save
    (or the daemon stopped meanwhile). The new block comes after the last one counted."""
    board = tmp_path / "CLAUDE.md"
    board.write_text("# Board\n\n" + FAILED_A + B_DONE)
    reader = BoardReader(board)
    assert refs(reader.read().blocks) == ["TODO-A", "TODO-B"]
    reader = restart(reader) if restarted else reader
    rename_replace(board, ("# Board\n\n" + B_DONE + A_DONE).encode())
    result = reader.read()
    assert result.rescanned and result.notes == ()
    assert [(b.ref, b.status) for b in result.blocks] == [("TODO-A", "COMPLETED")]
    assert reader.read().blocks == ()  # and it counted once


def test_an_edit_above_the_last_counted_block_is_still_an_edit(tmp_path: Path) -> None:
    board = tmp_path / "CLAUDE.md"
    board.write_text("# Board\n\n" + FAILED_A + B_DONE)
    reader = BoardReader(board)
    reader.read()
    rename_replace(board, board.read_bytes().replace(b"teh", b"the") + A_DONE.encode())
    result = reader.read()
    assert [(b.ref, b.status) for b in result.blocks] == [("TODO-A", "COMPLETED")]
    assert messages(result) == [
        "board line 3: TODO-A's block was edited; an edit is not a new report"
    ]


def test_the_last_block_deleted_as_its_task_reports_again_reads_as_an_edit(
    tmp_path: Path,
) -> None:
    """The documented limit: with the anchor gone, the counts alone judge, and one block of
    A for one counted block of A is an edit; the journal says so."""
    board = tmp_path / "CLAUDE.md"
    board.write_text("# Board\n\n" + B_DONE + FAILED_A)
    reader = BoardReader(board)
    reader.read()
    rename_replace(board, ("# Board\n\n" + B_DONE + A_DONE).encode())
    result = reader.read()
    assert result.blocks == ()
    assert messages(result) == [
        "board line 6: TODO-A's block was edited; an edit is not a new report"
    ]


def test_a_word_added_to_a_counted_block_across_a_restart(tmp_path: Path) -> None:
    board = tmp_path / "CLAUDE.md"
    board.write_text("# Board\n\n### AUTO-3: COMPLETED\n**Tests**: 3\n\n")
    reader = BoardReader(board)
    assert refs(reader.read().blocks) == ["AUTO-3"]
    reader = restart(reader)
    board.write_text("# Board\n\n### AUTO-3: COMPLETED\n**Tests**: 3 passing\n\n")
    result = reader.read()
    assert result.rescanned and result.blocks == ()
    assert "AUTO-3's block was edited" in messages(result)[0]


def test_a_rewrite_does_not_count_again_a_block_that_ends_the_file(tmp_path: Path) -> None:
    """A block at the very end (no blank line, or no newline at all) was counted when it
    settled; a person's edit above it re-reads the file, and the block is still old."""
    for last in (b"### TODO-A: COMPLETED\n**X**: 1\n", b"### TODO-A: COMPLETED"):
        board = tmp_path / "CLAUDE.md"
        board.write_bytes(b"# Board\n\n" + last)
        reader = BoardReader(board)
        reader.read()
        assert refs(reader.read(final=True).blocks) == ["TODO-A"]
        rename_replace(board, b"# Board (edited)\n\n" + last)
        assert reader.read().blocks == ()
        assert reader.read(final=True).blocks == ()
        assert reader.read(final=True).blocks == ()


def test_a_schema_2_state_keeps_its_counts_and_learns_their_tasks(tmp_path: Path) -> None:
    """A state database from before blocks were recorded with their task: its counted
    blocks stay counted, and the first read names their tasks from the board, so that a
    later edit is known as one."""
    board = tmp_path / "CLAUDE.md"
    board.write_text("# Board\n\n" + FAILED_A)
    first = BoardReader(board)
    (block,) = first.read().blocks
    path = tmp_path / "state.db"
    db = sqlite3.connect(path)
    db.executescript(
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        INSERT INTO meta VALUES ('schema', '2');
        CREATE TABLE board_seen (digest TEXT PRIMARY KEY, count INTEGER NOT NULL);
        """
    )
    where = {"offset": first.state.offset, "tail": first.state.tail, "fence": "", "line": 6}
    db.execute("INSERT INTO meta VALUES ('reader', ?)", (json.dumps(where),))
    db.execute("INSERT INTO board_seen VALUES (?, 1)", (block.digest,))
    db.commit()
    db.close()
    store = Store(path)
    assert store.get_meta("schema") == "3"
    assert store.seen() == {block.digest: 1} and store.seen_refs() == {}
    reader = BoardReader(board, store.reader_state(), store.seen(), store.seen_refs())
    learnt = reader.read()
    assert learnt.blocks == () and learnt.refs == ((block.digest, "A"),)
    with store.transaction():
        store.save_reader(learnt.state, learnt.counted, dict(learnt.refs), learnt.forgotten)
    assert store.seen() == {block.digest: 1} and store.seen_refs() == {block.digest: "A"}
    rename_replace(board, board.read_bytes().replace(b"teh", b"the"))
    again = BoardReader(board, store.reader_state(), store.seen(), store.seen_refs())
    edited = again.read()
    assert edited.blocks == () and "TODO-A's block was edited" in messages(edited)[0]
    with store.transaction():
        store.save_reader(edited.state, edited.counted, dict(edited.refs), edited.forgotten)
    assert store.seen() == {parse_blocks(board.read_text())[0].digest: 1}
    store.close()


# --------------------------------------------------------------------------- whole, once


def test_a_heading_in_pieces_across_a_restart_counts_once_whole(tmp_path: Path) -> None:
    board = tmp_path / "CLAUDE.md"
    board.write_text("# Board\n\n")
    reader = BoardReader(board)
    reader.read()
    append(board, "### TODO-A: COMPL")
    assert reader.read().blocks == ()
    reader = restart(reader)
    # The new daemon's first read is a final one: a partial line is not taken as whole.
    assert reader.read(final=True).blocks == ()
    append(board, "ETED ✅\n**Tests**: 3\n\n")
    (block,) = reader.read().blocks
    assert (block.ref, block.status, dict(block.fields)) == ("TODO-A", "COMPLETED", {"Tests": "3"})


def test_another_agents_block_settling_does_not_swallow_a_partial_heading(
    tmp_path: Path,
) -> None:
    board = tmp_path / "CLAUDE.md"
    board.write_text("# Board\n\n")
    reader = BoardReader(board)
    reader.read()
    append(board, "### TODO-A: COMPLETED\n**X**: 1\n")  # agent 1: no blank line after
    assert reader.read().pending
    append(board, "### TODO-B: COMPL")  # agent 2, half-way through its heading
    # The settle timer fires now: the board changed since the last read, so nothing settles.
    settle = reader.read(final=True)
    assert settle.blocks == () and settle.pending and settle.changed
    # Quiet since then: agent 1's block settles; agent 2's partial line is left alone.
    assert refs(reader.read(final=True).blocks) == ["TODO-A"]
    append(board, "ETED\n**Y**: 2\n\n")
    (block,) = reader.read().blocks
    assert (block.ref, dict(block.fields)) == ("TODO-B", {"Y": "2"})


def test_a_heading_without_a_newline_counts_once_the_writer_is_quiet(tmp_path: Path) -> None:
    board = tmp_path / "CLAUDE.md"
    board.write_text("# Board\n\n### TODO-A: COMPLETED ✅ **Tests**: 3")
    reader = BoardReader(board)
    first = reader.read(final=True)  # a first read cannot tell whether the writer is done
    assert first.blocks == () and first.pending
    (block,) = reader.read(final=True).blocks
    assert dict(block.fields) == {"Tests": "3"}
    append(board, "\n\n### TODO-B: COMPLETED\n\n")
    assert refs(reader.read().blocks) == ["TODO-B"]


def test_a_partial_line_that_completes_nothing_is_never_consumed(tmp_path: Path) -> None:
    board = tmp_path / "CLAUDE.md"
    board.write_text("# Board\n\n### TODO-A: COMPL")
    reader = BoardReader(board)
    reader.read()
    quiet = reader.read(final=True)
    assert quiet.blocks == () and not quiet.pending  # nothing for a settle to do
    append(board, "ETED\n\n")
    assert refs(reader.read().blocks) == ["TODO-A"]


# --------------------------------------------------------------------------- code fences


def test_a_heading_after_a_fence_left_open_by_an_earlier_write_counts(tmp_path: Path) -> None:
    board = tmp_path / "CLAUDE.md"
    board.write_text("# Board\n\n```\nsome log\n")
    reader = BoardReader(board)
    reader.read()
    assert reader.read(final=True).blocks == ()  # the writer is quiet: the fence stays open
    append(board, "### TODO-A: COMPLETED\n**X**: 1\n\n")
    result = reader.read()
    assert refs(result.blocks) == ["TODO-A"]
    assert messages(result) == [
        "board line 5: the code fence opened at line 3 was never closed; the COMPLETED "
        "heading for TODO-A after it counts as a report"
    ]
    append(board, "```\nlog\n```\n### TODO-B: COMPLETED\n\n")  # a later fence pairs again
    assert refs(reader.read().blocks) == ["TODO-B"]


def test_a_heading_in_a_fence_opened_in_the_same_write_is_journaled(tmp_path: Path) -> None:
    board = tmp_path / "CLAUDE.md"
    board.write_text("# Board\n\n")
    reader = BoardReader(board)
    reader.read()
    append(board, "```\n### TODO-A: COMPLETED\n**X**: 1\n")
    first = reader.read()
    assert first.blocks == () and first.notes == () and first.pending
    settled = reader.read(final=True)
    assert settled.blocks == () and not settled.pending
    assert messages(settled) == [
        "board line 4: the COMPLETED heading for TODO-A is inside the code fence opened at "
        "line 3, which is never closed: not counted; close the fence before the heading "
        "if it is a report"
    ]


def test_a_fenced_example_written_in_pieces_stays_silent(tmp_path: Path) -> None:
    board = tmp_path / "CLAUDE.md"
    board.write_text("# Board\n\n")
    reader = BoardReader(board)
    reader.read()
    for piece in ("```markdown\n", "### TODO-A: COMPLETED\n", "**X**: 1\n", "```\n"):
        append(board, piece)
        result = reader.read()
        assert result.blocks == () and result.notes == ()
    append(board, "### TODO-B: COMPLETED\n\n")
    assert refs(reader.read().blocks) == ["TODO-B"]
    assert reader.read(final=True).notes == ()


def test_a_rewrite_with_an_unclosed_fence_says_why_a_heading_does_not_count(
    tmp_path: Path,
) -> None:
    board = tmp_path / "CLAUDE.md"
    board.write_text("# Board\n\n")
    reader = BoardReader(board)
    reader.read()
    rename_replace(board, b"# Board (v2)\n\n```\n### TODO-A: COMPLETED\n\n")
    result = reader.read()
    assert result.rescanned and result.blocks == ()
    assert "inside the code fence opened at line 3, which is never closed" in messages(result)[0]
    # The person closes the fence above the heading: now it counts.
    rename_replace(board, b"# Board (v2)\n\n```\n```\n### TODO-A: COMPLETED\n\n")
    assert refs(reader.read().blocks) == ["TODO-A"]


def test_a_rewrite_reads_a_fence_left_open_as_the_reader_did(tmp_path: Path) -> None:
    """A heading that counted after a fence left open still ends that fence when the
    file is read again: the fences after it pair as they did, and a person closing the
    fence the journal named makes the heading in it count."""
    board = tmp_path / "CLAUDE.md"
    board.write_text("# Board\n\n```\nbuild log\n")
    reader = BoardReader(board)
    reader.read()
    reader.read(final=True)
    append(board, "### TODO-A: COMPLETED\n\n")
    assert refs(reader.read().blocks) == ["TODO-A"]
    append(board, "```\nmore log\n### TODO-B: COMPLETED\n\n")
    reader.read()
    assert (
        "TODO-B is inside the code fence opened at line 7" in messages(reader.read(final=True))[0]
    )
    text = board.read_bytes()
    rename_replace(board, text.replace(b"more log\n", b"more log\n```\n"))
    result = reader.read()
    assert result.rescanned and refs(result.blocks) == ["TODO-B"]
    rename_replace(board, b"# Board (v3)" + board.read_bytes()[len(b"# Board") :])
    again = reader.read()
    assert again.rescanned and again.blocks == () and again.notes == ()


# --------------------------------------------------------------------------- not a file


def test_a_fifo_as_the_board_is_refused_without_blocking(tmp_path: Path) -> None:
    board = tmp_path / "CLAUDE.md"
    os.mkfifo(board)
    outcome: list[BaseException | object] = []
    thread = threading.Thread(target=lambda: outcome.append(_try_read(BoardReader(board))))
    thread.start()
    thread.join(timeout=5)
    if thread.is_alive():  # the old reader blocks in open(): give it a writer and fail
        os.close(os.open(board, os.O_WRONLY | os.O_NONBLOCK))
        thread.join(timeout=5)
        pytest.fail("reading a FIFO board blocked")
    (error,) = outcome
    assert isinstance(error, BoardNotAFile)
    assert str(error) == f"{board} is a FIFO, not a regular file: replace it with a file"


def _try_read(reader: BoardReader) -> BaseException | object:
    try:
        return reader.read()
    except Exception as exc:  # the test inspects what was raised
        return exc


# --------------------------------------------------------------------------- properties

ids = st.from_regex(r"[A-Z]{1,4}-[0-9]{1,3}", fullmatch=True)
field_values = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="*\n\r"),
    max_size=12,
)
blocks_st = st.lists(
    st.tuples(
        ids,
        st.sampled_from(["COMPLETED", "FAILED", "BLOCKED"]),
        st.lists(
            st.tuples(
                st.sampled_from(["Date", "Tests", "Notes", "Fichiers modifiés"]), field_values
            ),
            max_size=3,
        ),
        st.sampled_from(["\n", "\r\n"]),
    ),
    min_size=1,
    max_size=8,
)


def render_blocks(spec: list[tuple[str, str, list[tuple[str, str]], str]]) -> bytes:
    out = []
    for ref, status, fields, eol in spec:
        lines = [f"### TODO-{ref}: {status} ✅"] + [f"**{n}**: {v}" for n, v in fields]
        out.append(eol.join(lines) + eol + eol)
    return "".join(out).encode("utf-8")


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=blocks_st, cuts=st.lists(st.integers(min_value=0, max_value=4000), max_size=12))
def test_any_chunking_yields_the_same_blocks_once(
    tmp_path_factory: pytest.TempPathFactory,
    spec: list[tuple[str, str, list[tuple[str, str]], str]],
    cuts: list[int],
) -> None:
    """Appending the same bytes in any pieces (inside characters, inside headers) reads the same."""
    data = render_blocks(spec)
    expected = [(b.ref, b.status, b.fields) for b in parse_blocks(data.decode("utf-8"))]
    assert len(expected) == len(spec)
    board = tmp_path_factory.mktemp("board") / "CLAUDE.md"
    board.write_bytes(b"")
    reader = BoardReader(board)
    got = []
    positions = sorted({min(c, len(data)) for c in cuts} | {len(data)})
    start = 0
    for end in positions:
        append(board, data[start:end])
        start = end
        got += [(b.ref, b.status, b.fields) for b in reader.read().blocks]
    got += [(b.ref, b.status, b.fields) for b in reader.read(final=True).blocks]
    assert got == expected


@settings(max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    spec=blocks_st,
    ops=st.lists(st.sampled_from(["append", "rename", "restart", "read"]), max_size=10),
)
def test_rename_replace_and_restarts_never_repeat_or_lose_blocks(
    tmp_path_factory: pytest.TempPathFactory,
    spec: list[tuple[str, str, list[tuple[str, str]], str]],
    ops: list[str],
) -> None:
    board = tmp_path_factory.mktemp("board") / "CLAUDE.md"
    board.write_bytes(b"# Board\n\n")
    reader = BoardReader(board)
    got: list[str] = []
    pending = list(spec)
    for op in ops + ["append"] * len(spec):
        if op == "restart":
            reader = BoardReader(board, reader.state, reader.seen.copy())
        elif op in ("append", "rename") and pending:
            item = pending.pop(0)
            if op == "append":
                append(board, render_blocks([item]))
            else:
                rename_replace(board, board.read_bytes() + render_blocks([item]))
        got += [b.digest for b in reader.read().blocks]
    got += [b.digest for b in reader.read(final=True).blocks]
    expected = [b.digest for b in parse_blocks(render_blocks(spec).decode())]
    assert got == expected


# --------------------------------------------------------------------------- the daemon


def journal(ws: Workspace) -> list[dict[str, Any]]:
    out = ws.journal(100000, as_json=True)
    return [json.loads(line) for line in out.splitlines()]


def messages_of(ws: Workspace, kind: str) -> list[str]:
    return [e["message"] for e in journal(ws) if e["kind"] == kind]


def submitted(ws: Workspace, label: str) -> bool:
    return any(e["message"].startswith(f"{label}: prompt submitted") for e in journal(ws))


def settled(ws: Workspace, task: str) -> str:
    status = ws.statuses().get(task, "")
    return status if status in ("done", "failed", "blocked") else ""


def rewrite(path: Path, old: str, new: str) -> None:
    """A person's editor: the whole file saved again, through a rename."""
    text = path.read_text(encoding="utf-8")
    assert old in text
    rename_replace(path, text.replace(old, new, 1).encode())


def test_a_typo_fixed_in_an_old_failed_block_starts_no_retry(workspace: Workspace) -> None:
    ws = workspace
    ws.sim_agents(["a"], delay=2.0, extra={"a": ["--fail-once", "T-000"]})
    ws.write_queue("q.yaml", simple_tasks("T", ["a"], 1))  # retries: 1
    with ws.running_here():
        wait_until(lambda: submitted(ws, "T-000 #2"), 60, "the retry")
        rewrite(ws.board, "simulated failed by a", "simulated failure by a")
        assert wait_until(lambda: settled(ws, "T-000"), 60, "T-000 settled") == "done"
    assert ws.markers() == {"[orchestrate T-000 #1]": 1, "[orchestrate T-000 #2]": 1}
    (edit,) = messages_of(ws, "board-edit")
    assert "TODO-T-000's block was edited; an edit is not a new report" in edit


def test_a_word_added_to_an_old_completed_block_validates_nothing(workspace: Workspace) -> None:
    """Attempt 1 reports COMPLETED and fails its check; during attempt 2 a person adds a
    word to attempt 1's block. Only attempt 2's own report may start its check."""
    ws = workspace
    ws.sim_agents(["a"], delay=2.0)
    two_reports = "test \"$(grep -c '^### TODO-T-000: COMPLETED' CLAUDE.md)\" -ge 2"
    ws.write_queue("q.yaml", simple_tasks("T", ["a"], 1, validate=[two_reports]))
    with ws.running_here():
        wait_until(lambda: submitted(ws, "T-000 #2"), 60, "the retry after the failed check")
        rewrite(ws.board, "### TODO-T-000: COMPLETED ✅", "### TODO-T-000: COMPLETED ✅ (checked)")
        assert wait_until(lambda: settled(ws, "T-000"), 60, "T-000 settled") == "done"
    assert len(messages_of(ws, "board-edit")) == 1


def test_a_heading_written_across_a_daemon_restart_counts(workspace: Workspace) -> None:
    ws = workspace
    ws.sim_agents(["a"], extra={"a": ["--silent", "T-000"]})
    ws.write_queue("q.yaml", simple_tasks("T", ["a"], 1))
    with ws.running_here():
        wait_until(lambda: submitted(ws, "T-000 #1"), 60, "the prompt")
    with ws.board.open("a", encoding="utf-8") as board:
        board.write("\n### TODO-T-000: COMPL")
    with ws.running_here():
        # The new daemon has read the board once it has looked at its agents.
        wait_until(lambda: after_restart(ws, "agent"), 60, "the second daemon's start")
        with ws.board.open("a", encoding="utf-8") as board:
            board.write("ETED ✅\n**Tests**: 3\n\n")
        wait_until(lambda: settled(ws, "T-000"), 30, "T-000 done from the whole heading")
    assert ws.statuses() == {"T-000": "done"}
    line = ws.board.read_text(encoding="utf-8").split("\n").index("### TODO-T-000: COMPLETED ✅")
    (report,) = messages_of(ws, "report")
    assert report == f"TODO-T-000: COMPLETED (board line {line + 1}): Tests=3"


def after_restart(ws: Workspace, kind: str) -> bool:
    """Whether an event of `kind` came after the last daemon's start."""
    kinds = [e["kind"] for e in journal(ws)]
    return kinds.count("daemon-start") == 2 and kind in kinds[kinds.index("daemon-start", 1) :]


def test_unclosed_code_fences_on_a_running_board(workspace: Workspace) -> None:
    ws = workspace
    ws.sim_agents(["a"], extra={"a": ["--silent", "T-000", "--silent", "T-001"]})
    ws.write_queue("q.yaml", simple_tasks("T", ["a"], 2))
    with ws.running_here():
        wait_until(lambda: submitted(ws, "T-000 #1"), 60, "T-000's prompt")
        # An agent's log, its fence never closed; later, its report.
        with ws.board.open("a", encoding="utf-8") as board:
            board.write("\n```\nbuild log\n")
        wait_until(lambda: reader_fence(ws) == "```", 30, "the fence read and settled")
        with ws.board.open("a", encoding="utf-8") as board:
            board.write("### TODO-T-000: COMPLETED ✅\n\n")
        wait_until(lambda: settled(ws, "T-000"), 30, "T-000 done after the open fence")
        assert any("was never closed" in m for m in messages_of(ws, "board-fence"))
        # A fence and a heading in it, in one write: not counted, and the journal says why.
        wait_until(lambda: submitted(ws, "T-001 #1"), 60, "T-001's prompt")
        with ws.board.open("a", encoding="utf-8") as board:
            board.write("```\nmore log\n### TODO-T-001: COMPLETED ✅\n\n")
        wait_until(
            lambda: any("TODO-T-001 is inside" in m for m in messages_of(ws, "board-fence")),
            30,
            "the journal saying why T-001's heading does not count",
        )
        assert ws.statuses()["T-001"] == "dispatched"
        # A person closes the fence before the heading: now it counts.
        rewrite(ws.board, "more log\n", "more log\n```\n")
        wait_until(lambda: settled(ws, "T-001"), 30, "T-001 done once the fence is closed")


def reader_fence(ws: Workspace) -> str:
    from orchestrator.adapters.store import Store

    store = Store(ws.root / ".orchestrate" / "state.db", readonly=True)
    try:
        return store.reader_state().fence
    finally:
        store.close()


def test_a_fifo_as_the_board_is_refused_and_sigterm_stops_the_daemon(
    workspace: Workspace,
) -> None:
    ws = workspace
    ws.sim_agents(["a"])
    ws.write_queue("q.yaml", simple_tasks("T", ["a"], 1))
    ws.board.unlink()
    os.mkfifo(ws.board)
    daemon = ws.start()
    try:
        wait_until(
            lambda: any(
                "is a FIFO, not a regular file" in m for m in messages_of(ws, "board-error")
            ),
            30,
            "the FIFO told about",
        )
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=20) == 0
    finally:
        if daemon.poll() is None:  # the old daemon hangs in open(): let it go, then kill it
            os.close(os.open(ws.board, os.O_WRONLY | os.O_NONBLOCK))
            daemon.kill()
            daemon.wait(timeout=20)
    (error,) = messages_of(ws, "board-error")
    assert error == f"{ws.board} is a FIFO, not a regular file: replace it with a file; will retry"


def test_check_refuses_a_fifo_board(workspace: Workspace) -> None:
    ws = workspace
    ws.sim_agents(["a"])
    ws.write_queue("q.yaml", simple_tasks("T", ["a"], 1))
    ws.board.unlink()
    os.mkfifo(ws.board)
    result = ws.cli("check", timeout=20)
    assert result.returncode == 1
    assert (
        f"{ws.root / 'orchestrate.yaml'}:1: board: {ws.board} is a FIFO, not a regular file: "
        "replace it with a file, or name another in 'board:'"
    ) in result.stdout.splitlines()

"""The board: the block parser (tables) and the incremental reader (files on disk)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.board import BoardReader, ReaderState, parse_blocks

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

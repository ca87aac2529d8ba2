"""The dashboard's renderers: a narrow pane keeps what identifies a task; the markdown table."""

from __future__ import annotations

import io
import time
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from orchestrator.views.dashboard import render, status_table, visible_tasks
from orchestrator.views.rows import AgentRow, Snapshot, TaskRow, status_json
from orchestrator.views.snapshot import status_markdown


def snap(count: int) -> Snapshot:
    now = time.time()
    rows = tuple(
        TaskRow(
            id=f"CODEX-{i:03d}",
            title="Position Reconciliation Network Tests | with a pipe",
            agent="antigravity",
            priority="high",
            status=["done", "validating", "blocked", "dispatched", "queued"][i % 5],
            attempts=i % 3 + 1,
            since=now - 125,
            estimate=1800.0,
            overdue=False,
            reason="",
            file="q.yaml:1",
            validation="`cargo test circuit_breakers_stress` exited 101" if i % 2 else "2/2 passed",
            log=f"/ws/.orchestrate/logs/CODEX-{i:03d}-1.log" if i % 2 else "",
            flags=("overdue", "stalled") if i % 5 == 3 else (),
            blocked_by="CODEX-000" if i % 5 == 2 else None,
            why=[
                "✅ 2/2 passed",
                "checking (2 command(s))",
                "waits for CODEX-000, which is failed",
                "overdue, stalled: on antigravity for 2m",
                "waits for CODEX-001",
            ][i % 5],
        )
        for i in range(count)
    )
    agents = (
        AgentRow("codex", "busy", "CODEX-001", "5:codex", now - 250),
        AgentRow("antigravity", "waiting-for-input", "CODEX-003", "3:antigravity", now - 65),
        AgentRow("claude", "rate-limited", None, "7:claude"),
    )
    return Snapshot("palm-oil", "/ws", now, rows, agents, started=now - 3725, board="/ws/CLAUDE.md")


EVENTS = [f"12:00:{i:02d} CODEX-{i:03d} #1: done, reported COMPLETED" for i in range(10)]


def recorded(snapshot: Snapshot, width: int, height: int) -> str:
    console = Console(record=True, width=width, height=height, file=io.StringIO())
    console.print(render(snapshot, EVENTS, width, height))
    return console.export_text()


@pytest.mark.parametrize("width", [80, 200])
def test_the_dashboard_for_5_tasks_shows_everything(width: int) -> None:
    text = recorded(snap(5), width, 50)
    lines = text.splitlines()
    assert all(len(line) <= width for line in lines)
    assert lines[0].startswith("orchestrate · palm-oil · up 1h02m · /ws")
    assert "1/5 done" in lines[1] and "2 running" in lines[1] and "━" in lines[1]
    assert any("antigravity" in ln and "waiting-for-input" in ln and "1m" in ln for ln in lines)
    assert any("codex" in ln and "CODEX-001" in ln and "4m" in ln for ln in lines)
    assert any("claude" in ln and "rate-limited" in ln for ln in lines)
    for i in range(5):
        assert f"CODEX-{i:03d}" in text
    assert "2m/30m" in text and "⚠ dispatched" in text and "dispatched …" not in text
    assert ("⚠ dispatched overdue+stalled" in text) == (width == 200)  # else in the why
    assert "waits for CODEX-000" in text  # the why, in its column or after the title
    assert "12:00:00" in text and "12:00:09" in text  # the room left goes to the events
    assert len(lines) <= 50


def test_a_wide_dashboard_gives_the_why_its_room() -> None:
    lines = recorded(snap(5), 200, 50).splitlines()
    (row,) = [ln for ln in lines if ln.startswith("CODEX-002")]
    assert "waits for CODEX-000, which is failed" in row
    title = row.index("Position")
    assert row.index("antigravity") - title < 90  # not 120 columns of title


def test_the_events_fill_a_tall_terminal_and_keep_six_in_a_short_one() -> None:
    tall = recorded(snap(3), 120, 60)
    assert all(f"12:00:{i:02d}" in tall for i in range(10))
    short = recorded(snap(40), 120, 30)
    assert "12:00:09" in short and "12:00:04" in short and "12:00:03" not in short


@pytest.mark.parametrize("width", [80, 200])
def test_the_dashboard_for_500_tasks_fits_and_shows_what_matters(width: int) -> None:
    text = recorded(snap(500), width, 50)
    lines = text.splitlines()
    assert len(lines) <= 50 and all(len(line) <= width for line in lines)
    assert "100/500 done" in lines[1]
    shown = [ln.split()[0] for ln in lines if ln.startswith("CODEX-")]
    assert shown == sorted(shown)  # in file order among themselves
    # the running first (dispatched and validating: i % 5 in (1, 3)), none done
    assert shown[:3] == ["CODEX-001", "CODEX-003", "CODEX-006"]
    assert not any(int(s[6:]) % 5 == 0 for s in shown)
    assert any(line.strip().startswith("… and ") and "100 done" in line for line in lines)


def test_visible_tasks_ranks_by_what_matters() -> None:
    rows = snap(10).tasks
    assert visible_tasks(rows, 10) == (list(rows), "")
    shown, more = visible_tasks(rows, 5)
    assert [r.status for r in shown] == ["validating", "dispatched", "validating", "dispatched"]
    assert more == "… and 6 more: 2 blocked, 2 done, 2 queued"


@pytest.mark.parametrize("width", [80, 120, 200])
def test_table_fits_the_pane_and_keeps_ids_tries_and_eta(width: int) -> None:
    console = Console(file=io.StringIO(), width=width, color_system=None)
    console.print(status_table(snap(5), width=width))
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert all(len(line) <= width for line in text.splitlines())
    for header in ("ID", "Status", "Try", "ETA"):
        assert header in text
    for i in range(5):
        assert f"CODEX-{i:03d}" in text
    assert "2m/30m" in text


def test_markdown_rows_flags_logs_and_totals() -> None:
    text = status_markdown(snap(5))
    assert "| ID | Task | Agent | Status | Attempts | Why | ETA |" in text
    assert "Position Reconciliation Network Tests \\| with a pipe" in text  # the pipe escaped
    assert "⛔ BLOCKED (by CODEX-000)" in text
    assert "🔄 DISPATCHED ⚠️ OVERDUE ⚠️ STALLED" in text
    assert "| ✅ 2/2 passed |" in text and "| waits for CODEX-000, which is failed |" in text
    assert "**Queue ETA**: -" in text  # the snapshot knows no ETA
    assert "- CODEX-001 (attempt 2): `/ws/.orchestrate/logs/CODEX-001-1.log`" in text
    assert "**Total**: 5" in text and "**Done**: 1" in text and "**Running**: 2" in text


def test_json_keys_of_the_contract() -> None:
    data = status_json(snap(3))
    assert set(data) >= {"tasks", "agents", "totals"}
    assert set(data["tasks"][0]) >= {"id", "title", "agent", "status", "attempts", "overdue"}
    assert set(data["agents"][0]) >= {"name", "state", "task"}
    assert set(data["totals"]) >= {"total", "done", "running", "queued", "failed", "blocked"}


@settings(max_examples=150, deadline=None)
@given(
    tasks=st.integers(0, 60),
    events=st.integers(0, 30),
    problems=st.integers(0, 3),
    width=st.integers(60, 200),
    spare=st.integers(3, 40),
)
def test_the_dashboard_never_runs_past_the_bottom(
    tasks: int, events: int, problems: int, width: int, spare: int
) -> None:
    """Past the bottom a live display is cut, and the newest event is the line cut."""
    snapshot = replace(snap(tasks), problems=tuple(f"q.yaml:{i}: bad" for i in range(problems)))
    fixed = 2 + (problems + 1 if problems else 0) + len(snapshot.agents) + 2
    height = fixed + spare
    lines = [f"12:{i // 60:02d}:{i % 60:02d} event {i}" for i in range(events)]
    console = Console(record=True, width=width, height=height, file=io.StringIO())
    console.print(render(snapshot, lines, width, height))
    text = console.export_text()
    assert len(text.splitlines()) <= height
    if events:
        assert lines[-1] in text
    if tasks:
        assert "CODEX-" in text

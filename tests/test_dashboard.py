"""The dashboard's renderers: a narrow pane keeps what identifies a task; the markdown table."""

from __future__ import annotations

import io
import time

import pytest
from rich.console import Console

from orchestrator.dashboard import (
    AgentRow,
    Snapshot,
    TaskRow,
    status_json,
    status_markdown,
    status_table,
)


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
        )
        for i in range(count)
    )
    return Snapshot(
        "palm-oil", "/ws", now, rows, (AgentRow("codex", "busy", "CODEX-001", "5:codex"),)
    )


@pytest.mark.parametrize("width", [80, 120, 200])
def test_table_fits_the_pane_and_keeps_ids_tries_and_eta(width: int) -> None:
    console = Console(file=io.StringIO(), width=width, color_system=None)
    console.print(status_table(snap(5)))
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert all(len(line) <= width for line in text.splitlines())
    for header in ("ID", "Status", "Try", "ETA"):
        assert header in text
    for i in range(5):
        assert f"CODEX-{i:03d}" in text
    assert "2m/30m" in text


def test_markdown_rows_flags_logs_and_totals() -> None:
    text = status_markdown(snap(5))
    assert "| ID | Task | Agent | Status | Attempts | Check | ETA |" in text
    assert "Position Reconciliation Network Tests \\| with a pipe" in text  # the pipe escaped
    assert "⛔ BLOCKED (by CODEX-000)" in text
    assert "🔄 DISPATCHED ⚠️ OVERDUE ⚠️ STALLED" in text
    assert "❌ \\`cargo test circuit_breakers_stress\\` exited 101" not in text  # not escaped
    assert "❌ `cargo test circuit_breakers_stress` exited 101" in text
    assert "- CODEX-001 (attempt 2): `/ws/.orchestrate/logs/CODEX-001-1.log`" in text
    assert "**Total**: 5" in text and "**Done**: 1" in text and "**Running**: 2" in text


def test_json_keys_of_the_contract() -> None:
    data = status_json(snap(3))
    assert set(data) >= {"tasks", "agents", "totals"}
    assert set(data["tasks"][0]) >= {"id", "title", "agent", "status", "attempts", "overdue"}
    assert set(data["agents"][0]) >= {"name", "state", "task"}
    assert set(data["totals"]) >= {"total", "done", "running", "queued", "failed", "blocked"}

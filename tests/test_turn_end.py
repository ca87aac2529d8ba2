"""A free agent gets its next prompt only once its turn has ended, not once its report landed
(SPEC.md, State and safety): the daemon with real tmux and a scripted TUI that goes on writing
for 2 s after it reports, as Codex 0.169 does, under no busy line (tests/streaming_tui.py)."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Any

from .conftest import Workspace

STREAMER = Path(__file__).parent / "streaming_tui.py"
SLACK = 0.1  # the TUI notes a time just after its write; tmux takes the output just after


def streamer(ws: Workspace, *args: str) -> str:
    log = ws.root / "tui.jsonl"
    return shlex.join([sys.executable, str(STREAMER), str(ws.board), str(log), *args])


def run_two_tasks(
    ws: Workspace, agent: dict[str, Any], first: dict[str, Any] | None = None
) -> dict[tuple[str, str], float]:
    """T-1 (with `first` in its entry) then T-2 to one agent; returns when each event of the
    TUI first happened, and checks that nothing was typed while a turn ran."""
    ws.write_config({"agent": agent})
    ws.write_queue(
        "q.yaml",
        [
            {"id": "T-1", "agent": "agent", "prompt": "Report, then sum up.", **(first or {})},
            {"id": "T-2", "agent": "agent", "prompt": "Report again.", "after": ["T-1"]},
        ],
    )
    result = ws.finish()
    assert result.returncode == 0, result.stdout[-3000:]
    assert ws.statuses() == {"T-1": "done", "T-2": "done"}
    records = [json.loads(x) for x in (ws.root / "tui.jsonl").read_text().splitlines()]
    assert not [r for r in records if r["event"] == "typed-into-turn"], records
    seen: dict[tuple[str, str], float] = {}
    for r in records:
        seen.setdefault((r["event"], r["task"]), float(r["ts"]))
    return seen


def test_an_agent_that_streams_after_its_report_gets_its_next_prompt_once_it_says_the_turn_ended(
    workspace: Workspace,
) -> None:
    seen = run_two_tasks(
        workspace,
        {"command": streamer(workspace, "--stream", "2", "--end-line"), "profile": "codex"},
    )
    assert seen["reported", "T-1"] + 2 <= seen["turn-end", "T-1"] < seen["received", "T-2"]


def test_the_request_for_missing_fields_also_waits_for_the_end_of_the_turn(
    workspace: Workspace,
) -> None:
    seen = run_two_tasks(
        workspace,
        {"command": streamer(workspace, "--stream", "2", "--end-line"), "profile": "codex"},
        {"report": ["Summary"]},
    )
    assert seen["reported", "T-1"] + 2 <= seen["turn-end", "T-1"] < seen["asked", "T-1"]
    assert seen["asked", "T-1"] < seen["received", "T-2"]
    journal = workspace.cli("logs").stdout
    assert "T-1 #1: COMPLETED without Summary: asking for them once agent's turn has ended" in (
        journal
    )


def test_without_an_end_of_turn_line_the_screen_must_have_been_still_for_quiet_seconds(
    workspace: Workspace,
) -> None:
    seen = run_two_tasks(
        workspace,
        {
            "command": streamer(workspace, "--stream", "2"),
            "profile": "codex",
            "submit": {"quiet": 1.5},
            "screen": {"turn_end": []},
        },
    )
    assert seen["received", "T-2"] >= seen["last-output", "T-1"] + 1.5 - SLACK


def test_a_generic_agent_with_quiet_waits_until_its_pane_printed_nothing_for_that_long(
    workspace: Workspace,
) -> None:
    seen = run_two_tasks(
        workspace,
        {
            "command": streamer(workspace, "--stream", "2"),
            "profile": "generic",
            "submit": {"quiet": 1},
        },
    )
    assert seen["received", "T-2"] >= seen["last-output", "T-1"] + 1 - SLACK

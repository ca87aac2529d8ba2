"""Hostile text and planted links: what an agent writes on the board (or a program prints in
its pane) reaches a person only without its control characters; a symbolic link planted in
the workspace is never followed."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from rich.console import Console

from orchestrator.adapters.store import Store
from orchestrator.text import printable
from orchestrator.views.dashboard import LiveView
from orchestrator.views.rows import AgentRow, Snapshot, TaskRow

from .conftest import Workspace, wait_until

# Sets the terminal's title, clears the screen, writes "pwned" into the clipboard (OSC 52),
# an 8-bit CSI and an 8-bit OSC, a backspace and a DEL: around plain words.
HOSTILE = (
    "start\x1b]0;pwned\x07one\x1b[2J\x1b[Htwo\x1b]52;c;cHduZWQ=\x1b\\three"
    "\x9b31mfour\x9d0;x\x9cend\x08\x7f"
)
SHOWN = "startonetwothreefourend"
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


class Case(NamedTuple):
    test_id: str
    text: str
    shown: str


CASES = [
    Case("title (OSC 0, BEL)", "a\x1b]0;pwned\x07b", "ab"),
    Case("clipboard (OSC 52, ST)", "a\x1b]52;c;cHduZWQ=\x1b\\b", "ab"),
    Case("clear screen (CSI)", "a\x1b[2J\x1b[1;1Hb", "ab"),
    Case("private mode (CSI ?)", "a\x1b[?1049hb", "ab"),
    Case("8-bit CSI", "a\x9b31mb", "ab"),
    Case("8-bit OSC up to 8-bit ST", "a\x9d0;pwned\x9cb", "ab"),
    Case("DCS", "a\x1bP1$r0m\x1b\\b", "ab"),
    Case("charset and reset", "a\x1b(B\x1bcb", "ab"),
    Case("hyperlink keeps its words", "\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\", "link"),
    Case("unterminated OSC loses its introducer", "a\x1b]0;b", "a0;b"),
    Case("C0, DEL, C1 alone", "a\x00\x08\r\x7f\x85b", "ab"),
    Case("newline and tab stay", "a\tb\nc", "a\tb\nc"),
    Case("unicode stays", "✅ é 日本", "✅ é 日本"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.test_id for c in CASES])
def test_printable_removes_whole_sequences_and_lone_controls(case: Case) -> None:
    assert printable(case.text) == case.shown


def texts(value: Any) -> list[str]:
    """Every text in a JSON value, keys included."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in [k, *texts(v)]]
    if isinstance(value, list):
        return [t for v in value for t in texts(v)]
    return []


def assert_clean(what: str, text: str) -> None:
    found = CONTROL.search(text)
    assert found is None, f"{what} holds {found.group()!r}: {text[max(found.start() - 80, 0) :]!r}"


def assert_clean_json(what: str, lines: list[str]) -> None:
    """What `jq -r` would print: the decoded texts, free of control characters."""
    for line in lines:
        for text in texts(json.loads(line)):
            assert_clean(what, text)


def test_board_text_reaches_no_terminal_journal_or_status_with_its_controls(
    workspace: Workspace,
) -> None:
    """An agent's reports carry escape sequences in a field (a COMPLETED block's Tests) and
    in a BLOCKED block's Reason; the queue's title holds one too. The journal, `logs`,
    `logs --json`, `status`, `status --json`, `report`, the `start --plain` lines and the
    status file show the words, none of the controls."""
    ws = workspace
    ws.sim_agents(["a"], extra={"a": ["--silent", "A", "--silent", "B"]})  # the test reports
    ws.write_queue(
        "q.yaml",
        [
            {"id": "A", "title": "Fix\x1b]0;pwned\x07 login", "agent": "a", "prompt": "Do A."},
            {"id": "B", "agent": "a", "prompt": "Do B."},
        ],
    )
    daemon = ws.start("--exit-when-done")
    try:
        for task, block in (
            ("A", f"### TODO-A: COMPLETED ✅\n**Tests**: {HOSTILE}\n"),
            ("B", f"### TODO-B: BLOCKED\n**Reason**: {HOSTILE}\n"),
        ):
            wait_until(lambda t=task: ws.markers()[f"[orchestrate {t} #1]"] == 1, what=task)
            with ws.board.open("a", encoding="utf-8") as board:
                board.write(f"\n{block}\n")
        assert daemon.wait(timeout=120) == 1  # B is blocked
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
    assert ws.statuses() == {"A": "done", "B": "blocked"}

    logs = ws.cli("logs", "-n", "1000")
    assert logs.returncode == 0, logs.stderr
    assert f"Tests={SHOWN}" in logs.stdout and SHOWN in logs.stdout
    assert_clean("logs", logs.stdout)
    as_json = ws.cli("logs", "--json", "-n", "1000")
    assert as_json.returncode == 0, as_json.stderr
    assert any(
        e["data"] and e["data"].get("fields") == {"Tests": SHOWN}
        for e in map(json.loads, as_json.stdout.splitlines())
    )
    assert_clean_json("logs --json", as_json.stdout.splitlines())
    status = ws.cli("status", "--json")
    assert status.returncode == 0, status.stderr
    data = json.loads(status.stdout)
    assert {t["id"]: t["title"] for t in data["tasks"]}["A"] == "Fix login"
    assert SHOWN in {t["id"]: t["reason"] for t in data["tasks"]}["B"]
    assert_clean_json("status --json", [status.stdout])
    table = ws.cli("status", env={**os.environ, "COLUMNS": "200"})
    assert table.returncode == 0 and "Fix login" in table.stdout, table.stderr
    assert_clean("status", table.stdout)
    report = ws.cli("report", "-o", "-")
    assert report.returncode == 0 and "Fix login" in report.stdout, report.stderr
    assert_clean("report", report.stdout)
    plain = ws.daemon_log()
    assert SHOWN in plain
    assert_clean("start --plain", plain)
    status_md = (ws.root / "ORCHESTRATOR_STATUS.md").read_text(encoding="utf-8")
    assert "| A | Fix login |" in status_md
    assert_clean("ORCHESTRATOR_STATUS.md", status_md)


def test_the_live_dashboard_shows_hostile_rows_and_events_without_their_controls() -> None:
    """The dashboard on a terminal: a task's title and check, an agent's window and state,
    and an event line, each holding escape sequences. Only rich's own colours go out."""
    row = TaskRow(
        id="A",
        title=f"Fix{HOSTILE}",
        agent="a",
        priority="high",
        status="failed",
        attempts=1,
        since=None,
        estimate=None,
        overdue=False,
        reason=HOSTILE,
        file="q.yaml:2",
        validation=f"`make` exited 2{HOSTILE}",
    )
    agent = AgentRow("a", f"busy{HOSTILE}", "A", f"1:a{HOSTILE}")
    snap = Snapshot("s", "/ws", time.time(), (row,), (agent,), started=time.time())
    out = io.StringIO()
    view = LiveView(Console(file=out, force_terminal=True, width=200, height=30))
    try:
        view.update(snap)
        view.event("report", f"TODO-A: FAILED: Reason={HOSTILE}", "A", None)
    finally:
        view.close()
    shown = out.getvalue()
    assert f"Fix{SHOWN}" in shown and f"Reason={SHOWN}" in shown
    colours = re.compile(r"\x1b\[[0-9;]*m")  # SGR: what rich itself writes
    cursor = re.compile(r"\x1b\[\?25[lh]|\x1b\[[0-9]*[AK]|\r")  # rich.live redraws
    assert_clean("the dashboard", cursor.sub("", colours.sub("", shown)))


def test_journal_rows_written_before_are_shown_without_their_controls(
    workspace: Workspace,
) -> None:
    """A journal an older orchestrate wrote holds the raw field values: `logs`, `logs
    --json` and `watch --plain` clean them when they show them."""
    ws = workspace
    ws.sim_agents(["a"])
    ws.write_queue("q.yaml", [{"id": "A", "agent": "a", "prompt": "Do A."}])
    store = Store(ws.root / ".orchestrate" / "state.db")
    try:
        store.journal(
            "report",
            f"TODO-A: COMPLETED (board line 3): Tests={HOSTILE}",
            "A",
            None,
            {"status": "COMPLETED", "fields": {"Te\x1b[2Jsts": HOSTILE}, "line": 3},
        )
    finally:
        store.close()
    logs = ws.cli("logs")
    assert logs.returncode == 0 and f"Tests={SHOWN}" in logs.stdout, logs.stderr
    assert_clean("logs", logs.stdout)
    as_json = ws.cli("logs", "--json")
    assert as_json.returncode == 0 and SHOWN in as_json.stdout, as_json.stderr
    assert json.loads(as_json.stdout.splitlines()[-1])["data"]["fields"] == {"Tests": SHOWN}
    assert_clean_json("logs --json", as_json.stdout.splitlines())
    watch = subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "-C", str(ws.root), "watch", "--plain"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert watch.stdout is not None
        line = wait_until(watch.stdout.readline, what="watch's first event line")
        assert f"Tests={SHOWN}" in line
        assert_clean("watch --plain", line)
    finally:
        watch.send_signal(signal.SIGINT)
        watch.communicate(timeout=20)


# --------------------------------------------------------------------------- planted links


def test_a_link_at_the_status_files_temporary_name_is_not_followed(
    workspace: Workspace, tmp_path: Path
) -> None:
    """The status file is written through a temporary file: one planted at the name it used
    to have (`.ORCHESTRATOR_STATUS.md.tmp`), pointing at a file of the user's, is left as it
    is, and so is that file."""
    ws = workspace
    ws.sim_agents(["a"])
    ws.write_queue("q.yaml", [{"id": "A", "agent": "a", "prompt": "Do A."}])
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    planted = ws.root / ".ORCHESTRATOR_STATUS.md.tmp"
    planted.symlink_to(victim)
    result = ws.cli("start", "--plain", "--exit-when-done", timeout=120)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr
    assert "| A |" in (ws.root / "ORCHESTRATOR_STATUS.md").read_text(encoding="utf-8")
    assert victim.read_text() == "precious\n"
    assert planted.is_symlink()
    leftovers = [p.name for p in ws.root.iterdir() if p.name.startswith(".ORCHESTRATOR_STATUS")]
    assert leftovers == [planted.name]  # no temporary file left behind


class Linked(NamedTuple):
    test_id: str
    args: tuple[str, ...]


COMMANDS = [
    Linked("start", ("start", "--plain", "--exit-when-done")),
    Linked("start --detach", ("start", "--detach")),
    Linked("logs", ("logs",)),
    Linked("pause", ("pause", "a")),
    Linked("dispatch", ("dispatch", "A")),
    Linked("retry", ("retry", "A")),
    Linked("status", ("status",)),
    Linked("status --json", ("status", "--json")),
    Linked("report", ("report",)),
    Linked("watch --plain", ("watch", "--plain")),
]


@pytest.mark.parametrize("target", ["elsewhere", "nowhere"])
@pytest.mark.parametrize("command", COMMANDS, ids=[c.test_id for c in COMMANDS])
def test_a_state_folder_that_is_a_link_is_refused_with_a_message(
    workspace: Workspace, tmp_path: Path, command: Linked, target: str
) -> None:
    """`.orchestrate` planted as a link, to a folder of the user's or to nothing: refused,
    with its name and what to do; the folder it points at is neither chmod-ed nor written."""
    ws = workspace
    ws.sim_agents(["a"])
    ws.write_queue("q.yaml", [{"id": "A", "agent": "a", "prompt": "Do A."}])
    elsewhere = tmp_path / target
    if target == "elsewhere":
        elsewhere.mkdir(mode=0o755)
        elsewhere.chmod(0o755)
    link = ws.root / ".orchestrate"
    link.symlink_to(elsewhere)
    result = ws.cli(*command.args, timeout=60)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert f"{link} is a symbolic link" in result.stderr, result.stderr
    assert "remove it" in result.stderr
    assert link.is_symlink()
    if target == "elsewhere":
        assert stat.S_IMODE(elsewhere.stat().st_mode) == 0o755
        assert list(elsewhere.iterdir()) == []
    else:
        assert not elsewhere.exists()


@pytest.mark.parametrize("command", [("status",), ("status", "--json"), ("report", "-o", "-")])
def test_a_state_folder_linked_to_another_state_is_refused_by_readers(
    workspace: Workspace, tmp_path: Path, command: tuple[str, ...]
) -> None:
    """The commands that only read the state refuse a linked `.orchestrate` too, rather
    than show the state it points at."""
    ws = workspace
    ws.sim_agents(["a"])
    ws.write_queue("q.yaml", [{"id": "A", "agent": "a", "prompt": "Do A."}])
    other = tmp_path / "other-state"
    Store(other / "state.db").close()
    link = ws.root / ".orchestrate"
    link.symlink_to(other)
    result = ws.cli(*command)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert f"{link} is a symbolic link" in result.stderr, result.stderr

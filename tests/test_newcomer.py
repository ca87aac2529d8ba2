"""What a new user sees (issue: the newcomer's trial): exit codes, messages, `status --json`,
the journal. Each test runs the real CLI as a subprocess, on a private tmux socket."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as hst

from orchestrator import __version__
from orchestrator.adapters.lock import holder
from orchestrator.config import notation
from orchestrator.config import settings as config

from .conftest import Workspace, wait_until

BROKEN = "tasks:\n  - id: A\n    agent: a\n    prompt: [unclosed\n"


# ------------------------------------------------------------------ a broken queue at start


def test_a_queue_file_that_does_not_parse_refuses_the_start(workspace: Workspace) -> None:
    workspace.sim_agents(["a"])
    queue = workspace.root / "queues" / "q.yaml"
    queue.write_text(BROKEN)
    for args in (["--exit-when-done"], ["--detach"]):
        result = workspace.cli("start", *args)
        assert result.returncode == 1, (args, result.stdout, result.stderr)
        assert f"{queue}:4: YAML syntax: this '[' is never closed" in result.stderr
        assert "daemon running" not in result.stdout + result.stderr
    assert holder(workspace.root / ".orchestrate" / "daemon.lock") is None
    assert "daemon stopped" in workspace.cli("status").stdout


def test_a_task_that_does_not_validate_refuses_the_start_too(workspace: Workspace) -> None:
    workspace.sim_agents(["a"])
    queue = workspace.root / "queues" / "q.yaml"
    queue.write_text(
        "tasks:\n  - {id: A, agent: a, prompt: p}\n  - {id: B, agent: a, prompt: q, after: [C]}\n"
    )
    result = workspace.cli("start", "--plain", "--exit-when-done")
    assert result.returncode == 1
    assert f"{queue}:3: task B: 'after' names unknown task 'C'" in result.stderr


# --------------------------------------------------------------------------- agents' shown state


def test_idle_agents_show_idle_once_every_task_is_settled(workspace: Workspace) -> None:
    ws = workspace
    ws.sim_agents(["a", "b"])
    ws.write_queue("q.yaml", [{"id": "T", "agent": "a", "prompt": "one task for a"}])
    with ws.running():
        wait_until(lambda: ws.statuses() == {"T": "done"}, 60, "T done")

        def states() -> dict[str, str]:
            return {a["name"]: a["state"] for a in ws.status()["agents"]}

        wait_until(lambda: states() == {"a": "idle", "b": "idle"}, 30, "both idle")
        status_file = ws.root / "ORCHESTRATOR_STATUS.md"
        wait_until(lambda: "starting" not in status_file.read_text(), 10, "the status file")
        assert "starting" not in ws.cli("status").stdout


# ------------------------------------------------------------------ status, offline and piped


def test_offline_status_lists_the_queue_files_tasks_after_an_offline_command(
    workspace: Workspace,
) -> None:
    ws = workspace
    ws.sim_agents(["a"])
    long_title = "A title far longer than any terminal is wide: " + "word " * 40
    ws.write_queue(
        "q.yaml",
        [
            {"id": "T1", "agent": "a", "prompt": "p", "title": long_title.strip()},
            {"id": "T2", "agent": "a", "prompt": "q"},
        ],
    )
    assert "applied when the daemon next starts" in ws.cli("pause", "a").stdout
    status = ws.status()
    assert [t["id"] for t in status["tasks"]] == ["T1", "T2"]
    assert status["totals"]["total"] == 2 and status["problems"] == []
    piped = ws.cli("status").stdout
    assert "0/2 done" in piped
    (row,) = [line for line in piped.splitlines() if line.startswith("T1 ")]
    assert row.endswith(long_title.strip())  # one line, not wrapped, not cut


def test_a_broken_queue_file_is_a_problem_shown_until_it_is_fixed(workspace: Workspace) -> None:
    ws = workspace
    ws.sim_agents(["a"])
    ws.write_queue("good.yaml", [{"id": "T", "agent": "a", "prompt": "p"}])
    bad = ws.root / "queues" / "bad.yaml"
    status_file = ws.root / "ORCHESTRATOR_STATUS.md"
    expected = f"{bad}:4: YAML syntax: this '[' is never closed"
    with ws.running():
        wait_until(lambda: ws.statuses() == {"T": "done"}, 60, "T done")
        bad.write_text(BROKEN)
        wait_until(
            lambda: any(p.startswith(expected) for p in ws.status()["problems"]), 30, "problem"
        )
        assert expected in ws.cli("status").stdout
        wait_until(lambda: expected in status_file.read_text(), 10, "the status file")
        bad.write_text("tasks:\n  - {id: U, agent: a, prompt: fixed}\n")
        wait_until(lambda: ws.status()["problems"] == [], 30, "the problem gone")
        wait_until(lambda: "Problems" not in status_file.read_text(), 10, "the status file")
    bad.write_text(BROKEN)  # no daemon: what the files say
    assert any(p.startswith(expected) for p in ws.status()["problems"])


# --------------------------------------------------------------------------- entries removed


def test_a_task_removed_from_the_queue_files_is_withdrawn_not_sent(workspace: Workspace) -> None:
    ws = workspace
    ws.sim_agents(["a"], delay=4)
    ws.write_queue("one.yaml", [{"id": "RUNS", "agent": "a", "prompt": "takes a while"}])
    later = ws.write_queue("two.yaml", [{"id": "LATER", "agent": "a", "prompt": "waits"}])
    with ws.running():
        wait_until(lambda: ws.statuses().get("RUNS") == "dispatched", 30, "RUNS dispatched")
        later.unlink()
        wait_until(lambda: ws.statuses().get("LATER") == "cancelled", 30, "LATER withdrawn")
        (ws.root / "queues" / "one.yaml").unlink()  # the running one is left to finish
        wait_until(lambda: ws.statuses().get("RUNS") == "done", 60, "RUNS done")
        journal = ws.cli("logs").stdout
    assert "LATER: withdrawn (its entry is gone from the queue files; it was queued)" in journal
    assert "RUNS: its entry is gone from the queue files; it is dispatched and left to finish" in (
        journal
    )
    (later_task,) = [t for t in ws.status()["tasks"] if t["id"] == "LATER"]
    assert "withdrawn" in later_task["reason"] and later_task["why"].startswith("withdrawn")
    assert [m for m in ws.markers() if "LATER" in m] == []  # never typed


# --------------------------------------------------------------------------- check, in one run


def test_check_reports_every_problem_in_one_run(workspace: Workspace) -> None:
    workspace.sim_agents(["a"])
    (workspace.root / "queues" / "one.yaml").write_text(
        "tasks:\n"
        "  - {id: A, agent: a, prompt: p, priority: urgent}\n"  # its own problem
        "  - {id: B, agent: a, prompt: p, uses: [no-such-playbook]}\n"
        "  - {id: C, agent: a, prompt: p, after: [GHOST]}\n"
        "  - {id: D, agent: a, prompt: p, after: [E]}\n"
        "  - {id: E, agent: a, prompt: p, after: [D]}\n"
        "  - {id: F, agent: a, prompt: p, after: [A]}\n"  # A is invalid, not unknown
    )
    (workspace.root / "queues" / "two.yaml").write_text(
        "tasks:\n  - {id: B, agent: a, prompt: again}\n  - {id: 'X Y', agent: a, prompt: p}\n"
    )
    result = workspace.cli("check")
    assert result.returncode == 1 and result.stderr == ""
    lines = result.stdout.splitlines()
    found = "\n".join(lines)
    for expected in (
        "one.yaml:2: task A: 'priority': unknown priority 'urgent'",
        "one.yaml:3: task B: playbook 'no-such-playbook' (in uses) not found",
        "one.yaml:4: task C: 'after' names unknown task 'GHOST'",
        "one.yaml:5: dependency cycle: D -> E -> D",
        "two.yaml:2: duplicate task id 'B'",
        "two.yaml:3: task X Y: 'id': 'X Y' is not an id: ' ' is not allowed",
    ):
        assert expected in found, found
    assert "unknown task 'A'" not in found  # F waits for A, which is invalid, not unknown
    assert lines[-1] == f"{len(lines) - 1} problem(s)"
    assert len(lines) - 1 == 6, found


# --------------------------------------------------------------------------- priorities


def test_the_hand_run_boards_priorities_are_understood() -> None:
    assert notation.priority_of("BLOQUANT CRITIQUE") == "critical"
    assert notation.priority_of("Haute") == "high"
    assert notation.priority_of("OPTIMISATION") == "low"
    assert notation.priority_of("  moyenne ") == "medium"


@given(hst.lists(hst.sampled_from(sorted(notation.PRIORITY_ALIASES)), min_size=1, max_size=4))
def test_several_priority_words_mean_the_highest_of_them(words: list[str]) -> None:
    spelled = " ".join(w.upper() if i % 2 else w for i, w in enumerate(words))
    ranks = [config.PRIORITIES[notation.PRIORITY_ALIASES[w]] for w in words]
    assert config.PRIORITIES[notation.priority_of(spelled)] == min(ranks)


def test_an_unknown_priority_lists_the_french_names_too(tmp_path: Path) -> None:
    try:
        notation.priority_of("urgent")
    except ValueError as exc:
        assert "critique, bloquant, haute, moyenne, basse or optimisation" in str(exc)
    else:
        raise AssertionError("urgent was taken")


# --------------------------------------------------------------------------- the smaller ones


def test_version_short_help_and_help_without_python_types(workspace: Workspace) -> None:
    version = workspace.cli("--version")
    assert version.returncode == 0 and version.stdout.strip() == f"orchestrate {__version__}"
    for command in ([], ["start"], ["add"], ["logs"]):
        shown = workspace.cli(*command, "-h")
        assert shown.returncode == 0 and "Usage:" in shown.stdout
        assert "<bool>" not in shown.stdout and "list[" not in shown.stdout, shown.stdout


def test_after_takes_ids_separated_by_commas(workspace: Workspace) -> None:
    ws = workspace
    ws.sim_agents(["a"])
    ws.write_queue(
        "q.yaml",
        [{"id": "A", "agent": "a", "prompt": "p"}, {"id": "B", "agent": "a", "prompt": "q"}],
    )
    added = ws.cli("add", "--id", "C", "--agent", "a", "--prompt", "r", "--after", "A,B")
    assert added.returncode == 0, added.stderr
    (task,) = [t for t in config.read_queue(ws.root / "queues" / "q.yaml") if t.id == "C"]
    assert task.after == ("A", "B")


def test_attach_to_an_unknown_agent_lists_the_agents(workspace: Workspace) -> None:
    ws = workspace
    ws.sim_agents(["builder", "reviewer"])
    ws.write_queue("q.yaml", [{"id": "T", "agent": "builder", "prompt": "p"}])
    with ws.running():
        wait_until(lambda: ws.statuses().get("T") == "done", 60, "T done")
        shown = ws.cli("attach", "nobody")
    assert shown.returncode == 1
    assert "no window for 'nobody'" in shown.stderr
    assert "agents: builder, reviewer" in shown.stderr


def test_the_demo_says_its_folder_goes_and_names_nothing_in_it_after(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "orchestrator", "demo", "--plain", "--delay", "0.3"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr
    lines = result.stdout.splitlines()
    folder = lines[0].split()[2]
    assert lines[0] == f"demo workspace: {folder} (removed at the end; --keep keeps it)"
    assert "tmux -L orchestrate-demo-" in lines[1] and "it runs about" in lines[1]
    end = next(i for i, line in enumerate(lines) if line.startswith("# Orchestrator status"))
    assert not [line for line in lines[end:] if folder in line]  # gone by then
    assert lines[-1] == "demo complete: every task done"
    assert not Path(folder).exists()


def test_status_while_a_first_start_creates_the_state_database(workspace: Workspace) -> None:
    """Between the file's creation and its tables, `status` reads the queue files."""
    ws = workspace
    ws.sim_agents(["a"])
    ws.write_queue("q.yaml", [{"id": "T", "agent": "a", "prompt": "p"}])
    state = ws.root / ".orchestrate"
    state.mkdir(mode=0o700)
    (state / "state.db").touch()  # created, no table yet
    shown = ws.cli("status", "--json")
    assert shown.returncode == 0, shown.stderr
    assert [t["id"] for t in json.loads(shown.stdout)["tasks"]] == ["T"]
    db = sqlite3.connect(state / "state.db")
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")  # one of them
    db.commit()
    db.close()
    shown = ws.cli("status", "--json")
    assert shown.returncode == 0, shown.stderr
    assert ws.cli("status").returncode == 0

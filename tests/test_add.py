"""`orchestrate add`: appended as text (comments and layout kept), checked before writing."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

from orchestrator.cli.adding import append_item
from orchestrator.config.queueset import InForce
from orchestrator.config.settings import parse_queue
from orchestrator.core.task import Task

from .conftest import Workspace

QUEUE = """\
# Sprint 12 — the operator's own notes
tasks:
    # first, the login work
    - id: AUTO-001
      agent: a        # the backend agent
      prompt: |
        Do the login.

    - id: AUTO-002
      agent: a
      prompt: Then the logout.
# end of sprint 12
"""


def test_add_keeps_comments_and_layout(workspace: Workspace) -> None:
    ws = workspace
    ws.sim_agents(["a", "b"])
    queue = ws.root / "queues" / "sprint.yaml"
    queue.write_text(QUEUE, encoding="utf-8")
    prompt = "Line one: keep `x; y`\n\n    indented\nlast line 🚀"
    result = ws.cli(
        "add", "--id", "AUTO-003", "--agent", "b", "--priority", "high", "--after", "AUTO-001",
        "--after", "AUTO-002", "--validate", "make test", "--report", "Tests",
        "--estimate", "30m", "--prompt", prompt,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"added AUTO-003 to {queue}:13"
    text = queue.read_text(encoding="utf-8")
    assert text.startswith(QUEUE)  # every line before it kept, byte for byte
    assert text[len(QUEUE) :].startswith("    - id: AUTO-003\n      agent: b\n")
    added = parse_queue(text, queue)[-1]
    assert (added.id, added.agent, added.priority, added.after) == (
        "AUTO-003", "b", "high", ("AUTO-001", "AUTO-002"),
    )  # fmt: skip
    assert added.prompt == prompt and added.validate == ("make test",)
    assert added.report == ("Tests",) and added.estimate == 1800
    assert ws.cli("check").returncode == 0


@pytest.mark.parametrize(
    ("args", "why"),
    [
        (["--id", "AUTO-001", "--agent", "a", "--prompt", "x"], "AUTO-001"),  # a duplicate
        (["--id", "N-1", "--agent", "a", "--after", "GHOST", "--prompt", "x"], "GHOST"),
        (["--id", "N-1", "--agent", "a", "--priority", "urgent", "--prompt", "x"], "priority"),
        (
            ["--id", "N-1", "--agent", "a", "--uses", "no-such-playbook", "--prompt", "x"],
            "no-such-playbook",
        ),
        (["--id", "bad id", "--agent", "a", "--prompt", "x"], "id"),
        (["--id", "N-1", "--agent", "a", "--estimate", "soon", "--prompt", "x"], "soon"),
        (["--id", "N-1", "--agent", "nobody", "--prompt", "x"], "nobody"),
        (["--id", "N-1", "--agent", "a", "--after", "N-1", "--prompt", "x"], "N-1"),  # a cycle
    ],
)
def test_a_bad_task_is_refused_with_the_reason_and_nothing_written(
    workspace: Workspace, args: list[str], why: str
) -> None:
    ws = workspace
    ws.sim_agents(["a"])
    queue = ws.root / "queues" / "sprint.yaml"
    queue.write_text(QUEUE, encoding="utf-8")
    result = ws.cli("add", *args)
    assert result.returncode == 1
    assert result.stderr.startswith(f"not added: {queue}:") and why in result.stderr
    assert queue.read_text(encoding="utf-8") == QUEUE


def test_add_to_a_new_file_and_a_running_daemon_takes_it(workspace: Workspace) -> None:
    ws = workspace
    ws.sim_agents(["a"])
    ws.write_queue("q.yaml", [{"id": "T1", "agent": "a", "prompt": "one"}])
    with ws.running():
        result = ws.cli("add", "--id", "T2", "--agent", "a", "--prompt", "two", "--queue", "z.yaml")
        assert result.returncode == 0, result.stderr
        assert (
            (ws.root / "queues" / "z.yaml")
            .read_text()
            .endswith("tasks:\n  - id: T2\n    agent: a\n    prompt: two\n")
        )
        from .conftest import wait_until

        wait_until(lambda: ws.statuses() == {"T1": "done", "T2": "done"}, 60, "T2 done")
    neither = ws.cli("add", "--id", "T3", "--agent", "a")
    assert neither.returncode == 2 and "--prompt" in neither.stderr


def test_a_queue_file_written_as_the_daemon_starts_is_taken(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file written after the start's read of the queue files and before their watch began
    (an `orchestrate add` beside `orchestrate start`): seen, not left until the next edit."""
    ws = workspace
    ws.sim_agents(["a"], delay=0.2)
    ws.write_queue("q.yaml", [{"id": "T1", "agent": "a", "prompt": "one"}])
    read = InForce.read

    def read_then_add(self: InForce, starting: bool = False) -> list[Task]:
        tasks = read(self, starting)
        if starting:
            ws.write_queue("z.yaml", [{"id": "T2", "agent": "a", "prompt": "two"}])
        return tasks

    monkeypatch.setattr(InForce, "read", read_then_add)
    assert ws.in_process().run() == 0
    assert ws.statuses() == {"T1": "done", "T2": "done"}


LAYOUTS = [
    "tasks:\n",
    "tasks: []\n",
    "# only a comment\n",
    "",
    "tasks:\n- id: X\n  agent: a\n  prompt: p\n",
    "tasks:  # the list\n  - id: X\n    agent: a\n    prompt: |\n      p\n\n# trailing\n",
    "tasks:\n      - {id: X, agent: a, prompt: p}\n",
]


@settings(max_examples=200, deadline=None)
@given(
    layout=hs.sampled_from(LAYOUTS),
    prompt=hs.text(
        hs.characters(blacklist_categories=("Cs",), blacklist_characters="\r\x85\u2028\u2029"),
        min_size=1,
    ).filter(lambda t: t.strip()),
    title=hs.none() | hs.text(hs.characters(whitelist_categories=("L", "N", "Zs")), max_size=20),
)
def test_append_round_trips(layout: str, prompt: str, title: str | None) -> None:
    item = {"id": "NEW-1", "agent": "b", "prompt": prompt}
    if title:
        item["title"] = title
    text = append_item(layout, item)
    assert text.startswith(layout.replace("tasks: []", "tasks:").rstrip("\n"))
    added = parse_queue(text, Path("q.yaml"))[-1]
    assert added.id == "NEW-1" and added.prompt == prompt
    if title and title.strip():
        assert added.title == title

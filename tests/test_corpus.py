"""Bad input, each with the `FILE:LINE: message` a person gets (issue 6's corpus), and hostile
board content: read, reported or skipped, never fatal."""

from __future__ import annotations

import time
from pathlib import Path
from typing import NamedTuple

import pytest

from orchestrator.board import BoardReader, parse_blocks
from orchestrator.config import queueset

from .conftest import Workspace

CONFIG = "agents:\n  a: {}\n"
TASK = "tasks:\n  - id: A\n    agent: a\n    prompt: p\n"


class Bad(NamedTuple):
    name: str
    file: str  # the file written, relative to the workspace
    data: bytes
    expected: str  # the first problem, with the workspace path cut off


def q(text: str) -> bytes:
    return text.encode()


# Each anchor nine times the one before: 9**7 values from a few hundred bytes.
LAUGHS = q(
    "a: &a [x,x,x,x,x,x,x,x,x]\n"
    + "".join(
        f"{n}: &{n} [{', '.join(['*' + p] * 9)}]\n"
        for p, n in zip("abcdef", "bcdefg", strict=False)
    )
)

CASES = [
    Bad("yaml syntax", "queues/q.yaml", q("tasks:\n  - id: A\n    agent: [a\n    prompt: p\n"),
        "queues/q.yaml:3: YAML syntax: this '[' is never closed (line 4: expected ',' or ']', "
        "but got ':')"),
    Bad("a tab", "queues/q.yaml", q("tasks:\n\t- id: A\n"),
        "queues/q.yaml:2: YAML syntax: a tab; YAML is indented with spaces only"),
    Bad("tasks not a list", "queues/q.yaml", q("tasks:\n  a: 1\n"),
        "queues/q.yaml:1: 'tasks': Input should be a valid list"),
    Bad("a task that is text", "queues/q.yaml", q("tasks:\n  - just words\n"),
        "queues/q.yaml:2: task #1: must be a mapping (key: value lines), not str"),
    Bad("no id", "queues/q.yaml", q("tasks:\n  - agent: a\n    prompt: p\n"),
        "queues/q.yaml:2: task #1: missing required key 'id'"),
    Bad("no prompt", "queues/q.yaml", q("tasks:\n  - id: A\n    agent: a\n"),
        "queues/q.yaml:2: task A: missing required key 'prompt'"),
    Bad("empty prompt", "queues/q.yaml", q(TASK.replace("prompt: p", "prompt: ''")),
        "queues/q.yaml:4: task A: 'prompt': String should have at least 1 character"),
    Bad("a misspelt key", "queues/q.yaml", q(TASK + "    priorty: high\n"),
        "queues/q.yaml:5: task A: unknown key 'priorty': did you mean 'priority'?"),
    Bad("an unknown top key", "queues/q.yaml", q("task:\n  - id: A\n"),
        "queues/q.yaml:1: unknown key 'task': did you mean 'tasks'?"),
    Bad("a bad id", "queues/q.yaml", q(TASK.replace("id: A", "id: 'A B'")),
        "queues/q.yaml:2: task A B: 'id': 'A B' is not an id: ' ' is not allowed; an id is "
        "ASCII letters, digits, '_', '.' and '-', starting with a letter or digit"),
    Bad("a bad priority", "queues/q.yaml", q(TASK + "    priority: urgent\n"),
        "queues/q.yaml:5: task A: 'priority': unknown priority 'urgent': use critical, "
        "blocking, high, medium or low (in French: critique, bloquant, haute, moyenne, basse "
        "or optimisation)"),
    Bad("a negative phase", "queues/q.yaml", q(TASK + "    phase: -1\n"),
        "queues/q.yaml:5: task A: 'phase': Input should be greater than or equal to 0"),
    Bad("a bad estimate", "queues/q.yaml", q(TASK + "    estimate: soon\n"),
        "queues/q.yaml:5: task A: 'estimate': 'soon' is not a duration: write 90s, 30m"),
    Bad("validate as text", "queues/q.yaml", q(TASK + "    validate: make test\n"),
        "queues/q.yaml:5: task A: 'validate': Input should be a valid list"),
    Bad("a duplicate key", "queues/q.yaml", q(TASK + "    agent: b\n"),
        "queues/q.yaml:5: duplicate key 'agent': keep only one"),
    Bad("a duplicate id", "queues/q.yaml", q(TASK + TASK.removeprefix("tasks:\n")),
        "queues/q.yaml:5: duplicate task id 'A' (first defined at queues/q.yaml:2)"),
    Bad("a duplicate id across files", "queues/z.yaml", q(TASK),
        "queues/z.yaml:2: duplicate task id 'A' (first defined at queues/q.yaml:2)"),
    Bad("a cycle", "queues/q.yaml",
        q(TASK + "    after: [B]\n  - id: B\n    agent: a\n    prompt: q\n    after: [A]\n"),
        "queues/q.yaml:2: dependency cycle: A -> B -> A"),
    Bad("an unknown dependency", "queues/q.yaml", q(TASK + "    after: [GHOST]\n"),
        "queues/q.yaml:2: task A: 'after' names unknown task 'GHOST'"),
    Bad("a missing playbook", "queues/q.yaml", q(TASK + "    uses: [nope]\n"),
        "queues/q.yaml:2: task A: playbook 'nope' (in uses) not found: create"),
    Bad("an unknown agent", "queues/q.yaml", q(TASK.replace("agent: a", "agent: zed")),
        "queues/q.yaml:2: task A: unknown agent 'zed' (orchestrate.yaml declares a)"),
    Bad("binary garbage", "queues/q.yaml", bytes(range(256)) * 4,
        "queues/q.yaml:2: not UTF-8 text (byte 128): save the file as UTF-8"),
    Bad("latin-1", "queues/q.yaml", TASK.replace("p\n", "caf\xe9\n").encode("latin-1"),
        "queues/q.yaml:4: not UTF-8 text (byte 45): save the file as UTF-8"),
    Bad("a NUL byte", "queues/q.yaml", q(TASK.replace("prompt: p", 'prompt: "p\x00"')),
        "queues/q.yaml:4: character '\\x00' is not allowed in YAML: remove it"),
    Bad("a list at the top", "queues/q.yaml", q("- id: A\n"),
        "queues/q.yaml:1: the file must be a mapping (key: value lines)"),
    Bad("a huge file", "queues/q.yaml", b"tasks: []\n#" + b"x" * (17 * 2**20),
        "queues/q.yaml:1: 17 MB: a file may be at most 16 MB; split it"),
    Bad("billion laughs", "queues/q.yaml",
        LAUGHS,
        "queues/q.yaml:"),  # refused: more than 1,000,000 values (checked below)
    Bad("config syntax", "orchestrate.yaml", q("agents: [a\n"),
        "orchestrate.yaml:1: YAML syntax: this '[' is never closed (the file ends first)"),
    Bad("config misspelt", "orchestrate.yaml", q("sesion: x\n"),
        "orchestrate.yaml:1: unknown key 'sesion': did you mean 'session'?"),
    Bad("an unknown profile", "orchestrate.yaml", q("agents:\n  a:\n    profile: gpt\n"),
        "orchestrate.yaml:3: agent a: 'profile': Input should be 'claude', 'codex'"),
    Bad("a bad pattern", "orchestrate.yaml",
        q("agents:\n  a:\n    profile: codex\n    screen:\n      busy: ['(x']\n"),
        "orchestrate.yaml:5: agent a: 'busy': '(x' is not a regular expression"),
    Bad("a window that is a list", "orchestrate.yaml", q("agents:\n  a:\n    window: [1]\n"),
        "orchestrate.yaml:3: agent a: 'window': must be number or text"),
    Bad("agents as a list", "orchestrate.yaml", q("agents:\n  - a\n"),
        "orchestrate.yaml:1: 'agents': must be a mapping (key: value lines), not list"),
    Bad("two agents in one window", "orchestrate.yaml",
        q("agents:\n  a: {window: 2}\n  b:\n    command: codex\n    window: 2\n"),
        "orchestrate.yaml:5: agent b: the window '2' is agent a's too: both would be typed"),
    Bad("an agent in the daemon's window", "orchestrate.yaml", q("agents:\n  orchestrator:\n"),
        "orchestrate.yaml:2: agent orchestrator: the window 'orchestrator' is the daemon's own"),
    Bad("a bad pause", "orchestrate.yaml", q("agents:\n  a:\n    rate_limit_pause: soon\n"),
        "orchestrate.yaml:3: agent a: 'rate_limit_pause': 'soon' is not a duration"),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_each_bad_file_is_named_with_its_line(tmp_path: Path, case: Bad) -> None:
    (tmp_path / "queues").mkdir()
    (tmp_path / "agents_library").mkdir()
    (tmp_path / "orchestrate.yaml").write_text(CONFIG)
    (tmp_path / "queues" / "q.yaml").write_text(TASK)
    (tmp_path / case.file).write_bytes(case.data)
    started = time.monotonic()
    _, problems = queueset.check_workspace(tmp_path)
    assert problems, "not refused"
    first = str(problems[0]).replace(f"{tmp_path}/", "")
    assert first.startswith(case.expected), first
    if case.name == "billion laughs":
        assert "more than 1,000,000 values (aliases expanding?)" in first
        assert time.monotonic() - started < 60  # refused while expanding, not after


def test_the_cli_reports_them_and_exits_1(workspace: Workspace) -> None:
    ws = workspace
    ws.sim_agents(["a"])
    (ws.root / "queues" / "q.yaml").write_text(TASK + "    priorty: high\n")
    result = ws.cli("check")
    assert result.returncode == 1
    assert f"{ws.root}/queues/q.yaml:5: task A: unknown key 'priorty'" in result.stdout


# --------------------------------------------------------------------------- hostile boards


def test_a_megabyte_line_nul_bytes_and_fenced_headers_are_not_reports(tmp_path: Path) -> None:
    board = tmp_path / "CLAUDE.md"
    board.write_bytes(
        b"x" * 2_000_000
        + b"\n\x00\x00 ### TODO-A: COMPLETED\n\n```\n### TODO-B: COMPLETED\n```\n\n"
        + b"### TODO-C: COMPLETED \xff\xfe\n**Tests**: \x00ok\n\n"
    )
    reader = BoardReader(board)
    blocks = reader.read(final=True).blocks
    assert [b.ref for b in blocks] == ["TODO-C"]  # A is not at a line start, B is fenced
    assert reader.read(final=True).blocks == ()


def test_thousands_of_blocks_at_once_each_once(tmp_path: Path) -> None:
    board = tmp_path / "CLAUDE.md"
    text = "".join(f"### TODO-T{i}: COMPLETED\n**Tests**: {i}\n\n" for i in range(5000))
    board.write_text(text)
    reader = BoardReader(board)
    blocks = reader.read(final=True).blocks
    assert len(blocks) == 5000 and len({b.ref for b in blocks}) == 5000
    assert parse_blocks(text)[-1].field("Tests") == "4999"

"""The YAML loader: what it keeps between loads, and every value it cannot read is a
`FILE:LINE: message`, never an exception of its own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest

from orchestrator.config import yamlsrc
from orchestrator.errors import ConfigError

from .conftest import REPO

# A 10,000-task queue file loaded once, then edited by one line and reloaded 8 times, the
# way the daemon does it when a person edits a queue it runs (the same two calls as
# queueset.InForce.read); the tasks in force stay referenced. Prints, after each load, the
# blocks Python holds (what the code keeps) and the RSS in kB.
RELOADS = """
import sys
from pathlib import Path
from orchestrator.config import queueset
from orchestrator.config import settings as config

def rss_kb():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise SystemExit("no VmRSS in /proc/self/status")

root = Path(sys.argv[1])
(root / "queues").mkdir()
file = root / "queues" / "big.yaml"
lines = ["tasks:"]
for i in range(10_000):
    lines += [f"  - id: T-{i:05d}", f"    title: task {i}", "    agent: a",
              f"    prompt: Do step {i} of the plan.", "    validate: [make check]"]
file.write_text("\\n".join(lines) + "\\n")
settings = config.load_settings(root)
in_force = {}
for n in range(9):
    if n:
        lines[2] = f"    title: edited {n}"
        file.write_text("\\n".join(lines) + "\\n")
    queues = queueset.merge_queues(settings, queueset.read_all(settings, in_force), in_force)
    in_force = dict(queues.by_file)
    assert len(queues.tasks) == 10_000 and not queues.problems
    assert n == 0 or queues.tasks[0].title == f"edited {n}"
    print(sys.getallocatedblocks(), rss_kb())
"""


def test_reloading_a_10000_task_queue_keeps_nothing_of_the_loads_before(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", RELOADS, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPO,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    rows = [tuple(int(n) for n in line.split()) for line in result.stdout.splitlines()]
    assert len(rows) == 9
    blocks, rss = [r[0] for r in rows], [r[1] for r in rows]
    # What Python holds after 8 reloads is what it held after the first load (the leak kept
    # every parsed tree: 99 -> 402 MB after 8), and so is the memory the process takes from
    # the system: the parses run in a child, and unchanged tasks are never copied here.
    assert max(blocks) <= blocks[0] * 1.10, f"allocated blocks after each load: {blocks}"
    assert max(rss) <= rss[0] * 1.10, f"RSS after each load, kB: {rss}"


class Unreadable(NamedTuple):
    test_id: str
    text: str
    expected: str  # the first problem


UNREADABLE = [
    Unreadable("unknown tag", "a: 1\nb: !foo x\n", "q.yaml:2: unknown tag '!foo': remove it"),
    Unreadable(
        "not an int",
        "a: !!int five\n",
        "q.yaml:1: 'five' is not a valid int (invalid literal for int() with base 10: 'five')"
        ": quote it to keep it as text",
    ),
    Unreadable(
        "no such day",
        "tasks:\n  - estimate: 2001-02-30\n",
        "q.yaml:2: '2001-02-30' is not a valid timestamp (day is out of range for month)"
        ": quote it to keep it as text",
    ),
    Unreadable(
        "alias in its own anchor",
        "tasks:\n  - &a [*a]\n",
        "q.yaml:2: YAML syntax: alias *a inside its own anchor &a",
    ),
    Unreadable(
        "undefined alias", "a: *nowhere\n", "q.yaml:1: YAML syntax: found undefined alias 'nowhere'"
    ),
    Unreadable(
        "nested without end",
        "a: " + "[" * 100_000 + "]" * 100_000 + "\n",
        "q.yaml:1: nested more than 100 levels deep",
    ),
    Unreadable(
        "merge of a text", "a:\n  <<: text\n  b: 1\n", "q.yaml:2: `<<` merges a mapping or a list"
    ),
    Unreadable("two documents", "a: 1\n---\nb: 2\n", "q.yaml:2: YAML syntax: a second document"),
]


@pytest.mark.parametrize("case", UNREADABLE, ids=[c.test_id for c in UNREADABLE])
def test_a_value_yaml_cannot_read_is_a_problem_with_its_line(case: Unreadable) -> None:
    with pytest.raises(ConfigError) as caught:
        yamlsrc.load(case.text, Path("q.yaml"))
    assert str(caught.value.problems[0]).startswith(case.expected)


def test_merge_keys_give_the_keys_a_mapping_does_not_set_itself() -> None:
    text = (
        "base: &base {agent: codex, priority: high, retries: 3}\n"
        "more: &more {retries: 5, phase: 2}\n"
        "tasks:\n"
        "  - <<: [*base, *more]\n"
        "    id: A\n"
        "    priority: low\n"
    )
    located = yamlsrc.load(text, Path("q.yaml"))
    task = located.data["tasks"][0]
    assert task == {"agent": "codex", "priority": "low", "retries": 3, "phase": 2, "id": "A"}
    assert located.line_of(("tasks", 0, "priority")) == 6
    assert located.line_of(("tasks", 0, "agent")) == 4  # the `<<` line

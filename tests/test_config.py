"""Config and queue files: every kind of problem is reported as FILE:LINE: message."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from orchestrator.config import notation, queueset
from orchestrator.config import settings as config
from orchestrator.errors import ConfigError


def make(
    tmp_path: Path, files: dict[str, str], playbooks: tuple[str, ...] = ("explore-code",)
) -> Path:
    (tmp_path / "queues").mkdir()
    (tmp_path / "agents_library").mkdir()
    for name in playbooks:
        (tmp_path / "agents_library" / f"{name}.md").write_text("# playbook\n")
    for name, text in files.items():
        (tmp_path / name).write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return tmp_path


AGENTS = """
agents:
  codex: {window: 5}
  antigravity: {window: 3}
"""


def problems(root: Path) -> list[str]:
    _, found = queueset.check_workspace(root)
    return [str(p) for p in found]


def only_problem(root: Path) -> str:
    found = problems(root)
    assert len(found) == 1, found
    return found[0]


def test_valid_workspace_has_no_problems(tmp_path: Path) -> None:
    root = make(
        tmp_path,
        {
            "orchestrate.yaml": AGENTS,
            "queues/a.yaml": """
            tasks:
              - id: A-1
                agent: codex
                priority: CRITIQUE
                estimate: 1h30m
                uses: [explore-code]
                prompt: Use @agents_library/explore-code.md please.
            """,
        },
    )
    assert problems(root) == []
    settings, queues = queueset.load_workspace(root)
    (task,) = queues.tasks
    assert task.priority == "critical" and task.estimate == 5400 and task.line == 2
    assert settings.session == tmp_path.name.replace(".", "_")


def test_yaml_syntax_error_names_its_line(tmp_path: Path) -> None:
    root = make(
        tmp_path, {"queues/a.yaml": "tasks:\n  - id: A\n    prompt: [unclosed\n    agent: x\n"}
    )
    problem = only_problem(root)
    assert problem == (
        f"{root / 'queues/a.yaml'}:3: YAML syntax: this '[' is never closed "
        "(line 4: expected ',' or ']', but got ':')"
    )


def test_unknown_key_with_suggestion(tmp_path: Path) -> None:
    root = make(
        tmp_path,
        {"queues/a.yaml": "tasks:\n  - id: A\n    agent: x\n    prompt: p\n    priorty: high\n"},
    )
    problem = only_problem(root)
    assert problem.startswith(f"{root / 'queues/a.yaml'}:5: task A: unknown key 'priorty'")
    assert "did you mean 'priority'" in problem


def test_unknown_key_in_orchestrate_yaml(tmp_path: Path) -> None:
    root = make(tmp_path, {"orchestrate.yaml": "session: s\nsocet: x\n"})
    assert only_problem(root).startswith(f"{root / 'orchestrate.yaml'}:2: unknown key 'socet'")


def test_unknown_agent(tmp_path: Path) -> None:
    root = make(
        tmp_path,
        {
            "orchestrate.yaml": AGENTS,
            "queues/a.yaml": "tasks:\n  - id: A\n    agent: x\n    prompt: p\n  - id: B\n"
            "    agent: codx\n    prompt: p\n",
        },
    )
    found = problems(root)
    assert f"{root / 'queues/a.yaml'}:2: task A: unknown agent 'x'" in found[0]
    assert found[1].startswith(f"{root / 'queues/a.yaml'}:5: task B: unknown agent 'codx'")
    assert "did you mean 'codex'" in found[1]


def test_duplicate_id_across_files(tmp_path: Path) -> None:
    root = make(
        tmp_path,
        {
            "queues/a.yaml": "tasks:\n  - id: A\n    agent: x\n    prompt: p\n",
            "queues/b.yaml": "# second\ntasks:\n  - id: B\n    agent: x\n    prompt: p\n"
            "  - id: A\n    agent: x\n    prompt: p\n",
        },
    )
    problem = only_problem(root)
    assert problem.startswith(f"{root / 'queues/b.yaml'}:6: duplicate task id 'A'")
    assert f"first defined at {root / 'queues/a.yaml'}:2" in problem


def test_missing_playbook_in_uses_and_in_prompt(tmp_path: Path) -> None:
    root = make(
        tmp_path,
        {
            "queues/a.yaml": "tasks:\n  - id: A\n    agent: x\n    uses: [test-code]\n"
            "    prompt: see @agents_library/debugger.md and @agents_library/explore-code.md\n",
        },
    )
    found = problems(root)
    assert len(found) == 2
    assert found[0].startswith(f"{root / 'queues/a.yaml'}:2: task A: playbook 'test-code'")
    assert "playbook 'debugger' (in prompt) not found" in found[1]


def test_dependency_on_unknown_id(tmp_path: Path) -> None:
    root = make(
        tmp_path,
        {"queues/a.yaml": "tasks:\n  - id: A\n    agent: x\n    prompt: p\n    after: [Z-9]\n"},
    )
    assert only_problem(root) == (
        f"{root / 'queues/a.yaml'}:2: task A: 'after' names unknown task 'Z-9'"
    )


def test_dependency_cycle_is_spelled_out(tmp_path: Path) -> None:
    root = make(
        tmp_path,
        {
            "queues/a.yaml": "tasks:\n"
            "  - {id: A, agent: x, prompt: p, after: [C]}\n"
            "  - {id: B, agent: x, prompt: p, after: [A]}\n"
            "  - {id: C, agent: x, prompt: p, after: [B]}\n"
            "  - {id: D, agent: x, prompt: p, after: [D]}\n",
        },
    )
    found = problems(root)
    assert found == [
        f"{root / 'queues/a.yaml'}:2: dependency cycle: A -> C -> B -> A "
        "(each waits for the next through 'after'): break one link",
        f"{root / 'queues/a.yaml'}:5: dependency cycle: D -> D "
        "(each waits for the next through 'after'): break one link",
    ]


def test_dependency_on_a_later_phase_can_never_run(tmp_path: Path) -> None:
    root = make(
        tmp_path,
        {
            "queues/a.yaml": "tasks:\n"
            "  - {id: A, agent: x, prompt: p, phase: 1, after: [B]}\n"
            "  - {id: B, agent: x, prompt: p, phase: 2}\n",
        },
    )
    assert "task A (phase 1) waits for B (phase 2)" in only_problem(root)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("    priority: urgent", "'priority': unknown priority 'urgent'"),
        ("    estimate: soon", "'estimate': 'soon' is not a duration"),
        ("    retries: -1", "'retries': Input should be greater than or equal to 0"),
        ("    phase: one", "'phase': Input should be a valid integer"),
        ("    id: 'bad id'", "'id': 'bad id' is not an id: ' ' is not allowed"),
    ],
)
def test_wrong_values(tmp_path: Path, line: str, expected: str) -> None:
    body = "tasks:\n  - agent: x\n    prompt: p\n" + line + "\n"
    if "id:" not in line:
        body = body.replace("  - agent", "  - id: A\n    agent")
    root = make(tmp_path, {"queues/a.yaml": body})
    problem = only_problem(root)
    file_line = body.splitlines().index(line) + 1
    assert problem.startswith(f"{root / 'queues/a.yaml'}:{file_line}: "), problem
    assert expected in problem


def test_missing_required_key(tmp_path: Path) -> None:
    root = make(tmp_path, {"queues/a.yaml": "tasks:\n  - id: A\n    agent: x\n"})
    assert (
        only_problem(root) == f"{root / 'queues/a.yaml'}:2: task A: missing required key 'prompt'"
    )


def test_duplicate_yaml_key(tmp_path: Path) -> None:
    root = make(
        tmp_path, {"queues/a.yaml": "tasks:\n  - id: A\n    agent: x\n    id: B\n    prompt: p\n"}
    )
    assert only_problem(root) == f"{root / 'queues/a.yaml'}:4: duplicate key 'id': keep only one"


def test_not_utf8(tmp_path: Path) -> None:
    root = make(tmp_path, {})
    (root / "queues" / "a.yaml").write_bytes(b"tasks:\n  - id: \xff\xfe\n")
    assert "not UTF-8 text" in only_problem(root)


def test_file_that_is_not_a_mapping(tmp_path: Path) -> None:
    root = make(tmp_path, {"queues/a.yaml": "- just\n- a list\n"})
    assert only_problem(root) == (
        f"{root / 'queues/a.yaml'}:1: the file must be a mapping (key: value lines)"
    )


def test_priorities_in_french_and_english() -> None:
    text = "tasks:\n" + "".join(
        f"  - {{id: T{i}, agent: x, prompt: p, priority: {p}}}\n"
        for i, p in enumerate(["CRITIQUE", "BLOQUANT", "HAUTE", "MOYENNE", "OPTIMISATION", "High"])
    )
    tasks = config.parse_queue(text, Path("q.yaml"))
    assert [t.priority for t in tasks] == ["critical", "blocking", "high", "medium", "low", "high"]


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90), ("30m", 1800), ("2h", 7200), ("1h30m", 5400), (45, 45)]
)
def test_durations(text: str | int, seconds: float) -> None:
    assert notation.parse_duration(text) == seconds


def test_merge_keeps_the_last_good_version_of_a_broken_file(tmp_path: Path) -> None:
    root = make(tmp_path, {"queues/a.yaml": "tasks:\n  - {id: A, agent: x, prompt: p}\n"})
    settings = config.load_settings(root)
    first = queueset.merge_queues(settings, queueset.read_all(settings), {})
    assert [t.id for t in first.tasks] == ["A"]
    (root / "queues/a.yaml").write_text("tasks:\n  - {id: A, agent: x, prompt: p}\n  - {id: B\n")
    second = queueset.merge_queues(settings, queueset.read_all(settings), first.by_file)
    assert [t.id for t in second.tasks] == ["A"]
    assert second.problems and "YAML syntax" in str(second.problems[0])


def test_a_reload_keeps_the_objects_of_unchanged_tasks(tmp_path: Path) -> None:
    """Old and new copies of 10,000 unchanged tasks side by side fragment memory at each
    reload: the ones in force are kept, and only changed tasks come back from the child."""
    text = "tasks:\n  - {id: A, agent: x, prompt: p}\n  - {id: B, agent: x, prompt: q}\n"
    root = make(tmp_path, {"queues/a.yaml": text})
    settings = config.load_settings(root)
    first = queueset.merge_queues(settings, queueset.read_all(settings), {})
    (root / "queues/a.yaml").write_text(text.replace("prompt: q", "prompt: r"))
    second = queueset.merge_queues(
        settings, queueset.read_all(settings, first.by_file), first.by_file
    )
    a, b = second.tasks
    assert a is first.tasks[0]
    assert b is not first.tasks[1] and b.prompt == "r"


def test_merge_rolls_back_the_file_that_introduced_a_duplicate(tmp_path: Path) -> None:
    root = make(tmp_path, {"queues/a.yaml": "tasks:\n  - {id: A, agent: x, prompt: p}\n"})
    settings = config.load_settings(root)
    first = queueset.merge_queues(settings, queueset.read_all(settings), {})
    (root / "queues/b.yaml").write_text("tasks:\n  - {id: A, agent: x, prompt: q}\n")
    second = queueset.merge_queues(settings, queueset.read_all(settings), first.by_file)
    assert [t.prompt for t in second.tasks] == ["p"]
    assert "duplicate task id 'A'" in str(second.problems[0])


def test_load_workspace_raises_with_every_problem(tmp_path: Path) -> None:
    root = make(tmp_path, {"queues/a.yaml": "tasks:\n  - {id: A, agent: x}\n  - {id: B}\n"})
    with pytest.raises(ConfigError) as info:
        queueset.load_workspace(root)
    assert len(info.value.problems) == 3  # A: prompt; B: agent, prompt


def test_workspace_is_found_upwards(tmp_path: Path) -> None:
    root = make(tmp_path, {"orchestrate.yaml": "session: s\n"})
    deep = root / "src" / "deep"
    deep.mkdir(parents=True)
    assert config.find_root(deep) == root


def test_agents_inferred_when_none_declared(tmp_path: Path) -> None:
    root = make(
        tmp_path,
        {
            "queues/a.yaml": "tasks:\n  - {id: A, agent: x, prompt: p}\n"
            "  - {id: B, agent: any, prompt: p}\n"
        },
    )
    settings, queues = queueset.load_workspace(root)
    assert [a.name for a in config.agents_for(settings, queues.tasks)] == ["x"]

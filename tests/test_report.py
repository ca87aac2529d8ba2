"""`orchestrate report`: attempts, times against estimates, validation, agents' busy and idle."""

from __future__ import annotations

from orchestrator.adapters.schema import Event
from orchestrator.core import state as st
from orchestrator.views.report import report, running_time, spans

from .conftest import Workspace
from .test_scheduler import task


def ev(seq: int, ts: float, kind: str, task: str | None = None, agent: str | None = None) -> Event:
    return Event(seq, ts, kind, task, agent, f"{kind} {task}", None)


EVENTS = [
    ev(1, 0, "daemon-start"),
    ev(2, 10, "dispatch", "A", "a"),
    ev(3, 70, "retry", "A"),  # a failed validation: back to a
    ev(4, 75, "dispatch", "A", "a"),
    ev(5, 135, "validating", "A"),
    ev(6, 150, "done", "A"),
    ev(7, 20, "dispatch", "B", "b"),
    ev(11, 180, "requeued", "B"),
    ev(8, 200, "daemon-stop"),
    ev(9, 300, "daemon-start"),
    ev(10, 310, "dispatch", "C", "b"),
]


def test_spans_and_running_time() -> None:
    events = sorted(EVENTS, key=lambda e: e.ts)
    found = spans(events)
    assert [(s.task, s.attempt, s.agent, s.start, s.end, s.outcome) for s in found] == [
        ("A", 1, "a", 10, 70, "retry"),
        ("B", 1, "b", 20, 180, "requeued"),
        ("A", 2, "a", 75, 150, "done"),
        ("C", 1, "b", 310, None, "running"),
    ]
    assert running_time(events, now=400) == 200 + 100


def test_the_report_in_markdown() -> None:
    tasks = [
        st.TaskState(task("A", estimate=120.0), 0, st.DONE, 2, "a", validation="2/2 passed",
                     log="/ws/.orchestrate/logs/A-2.log"),
        st.TaskState(task("B", "b", estimate=60.0), 1, st.QUEUED, 1, "b"),
        st.TaskState(task("C", "b"), 2, st.DISPATCHED, 1, "b"),
    ]  # fmt: skip
    text = report(tasks, sorted(EVENTS, key=lambda e: e.ts), 400, "palm-oil")
    assert text.startswith("# Orchestrator report: palm-oil\n")
    assert "3 task(s): 1 dispatched, 1 done, 1 queued" in text
    assert "| A | A | done | 2 | 2m (over) | 2m | 2/2 passed |" in text  # 60 + 75 s > 120 s
    assert "| B | B | queued | 1 | 2m (over) | 1m | - |" in text  # 160 s, back in the queue
    assert "| C | C | dispatched | 1 | 1m | - | - |" in text  # dispatched at 310, 90 s ago
    assert "- A #1 on a, " in text and ", 1m: retry" in text
    assert "  - last validation: 2/2 passed (log: `/ws/.orchestrate/logs/A-2.log`)" in text
    assert "The daemon ran 5m in all." in text
    assert "| a | 1 done of 1 | 2m | 2m | - |" in text
    assert "| b | 0 done of 2 | 4m | 50s | C |" in text  # busy 160 + 90 s of the 300 s it ran


def test_report_after_a_real_run(workspace: Workspace) -> None:
    ws = workspace
    ws.sim_agents(["a"], extra={"a": ["--fail-once", "R-000"]})
    ws.write_queue("q.yaml", [{"id": "R-000", "agent": "a", "prompt": "p", "estimate": "5m"}])
    assert ws.finish().returncode == 0
    written = ws.cli("report")
    assert written.returncode == 0 and written.stdout.startswith("wrote ")
    text = (ws.root / "ORCHESTRATOR_REPORT.md").read_text()
    assert "| R-000 | p | done | 2 |" in text and "| 5m |" in text
    assert "- R-000 #1 on a, " in text and ": retry" in text and "- R-000 #2 on a, " in text
    assert "| a | 1 done of 1 |" in text
    printed = ws.cli("report", "-o", "-").stdout
    assert (
        printed.startswith("# Orchestrator report: orch-test\n")
        and "| R-000 | p | done |" in printed
    )

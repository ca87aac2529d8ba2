"""Deliveries overlap: each agent's paste, gap and Enter are steps the loop takes on as they
come due, so no agent waits for another's gap (real tmux, simulated agents)."""

from __future__ import annotations

import yaml

from .conftest import Workspace, wait_until

GAP = 3.0  # seconds between paste and Enter for every agent below


def test_deliveries_to_different_agents_overlap_each_waiting_only_its_own_gap(
    workspace: Workspace,
) -> None:
    ws = workspace
    names = ["a", "b", "c"]
    ws.sim_agents(names, delay=0.2)
    config = yaml.safe_load((ws.root / "orchestrate.yaml").read_text())
    for name in names:
        config["agents"][name]["submit"] = {"gap": GAP}
    (ws.root / "orchestrate.yaml").write_text(yaml.safe_dump(config))
    with ws.running_here():
        # All three idle first, so that one decision dispatches the three tasks together.
        wait_until(lambda: {a["state"] for a in ws.status()["agents"]} == {"idle"}, 60, "all idle")
        ws.write_queue("q.yaml", [{"id": f"T-{n}", "agent": n, "prompt": "go"} for n in names])
        wait_until(lambda: set(ws.statuses().values()) == {"done"}, 120, "the three done")
    times = sorted(r["ts"] for r in ws.received())
    assert len(times) == 3
    # One after the other, the last prompt would come at least two gaps after the first.
    assert times[-1] - times[0] < GAP, times
    assert ws.markers() == {f"[orchestrate T-{n} #1]": 1 for n in names}


def test_a_command_is_answered_during_a_delivery_and_a_cancelled_task_stays_cancelled(
    workspace: Workspace,
) -> None:
    """The loop serves the operator while a delivery waits its gap; the task cancelled then
    is not put back in the queue when its pane goes before the Enter."""
    ws = workspace
    ws.sim_agents(["a"], delay=0.2)
    config = yaml.safe_load((ws.root / "orchestrate.yaml").read_text())
    config["agents"]["a"]["submit"] = {"gap": 8.0}
    (ws.root / "orchestrate.yaml").write_text(yaml.safe_dump(config))
    ws.write_queue("q.yaml", [{"id": "T", "agent": "a", "prompt": "go"}])
    with ws.running_here():
        wait_until(lambda: "T -> a" in ws.journal(), 30, "T dispatched")
        answer = ws.cli("cancel", "T")
        assert answer.returncode == 0 and "cancelled" in answer.stdout, answer.stderr
        assert ws.received() == []  # answered while the paste waited for its Enter
        ws.kill_agent("a")
        wait_until(lambda: "delivery failed" in ws.journal(), 30, "the failure")
        assert ws.statuses() == {"T": "cancelled"}
    journal = ws.journal()
    assert "the task is cancelled now: left as it is" in journal
    assert "requeued" not in journal

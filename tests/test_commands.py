"""The control commands against a real daemon (a subprocess) and against a stopped one."""

from __future__ import annotations

from .conftest import Workspace, wait_until


def order(ws: Workspace, agent: str) -> list[str]:
    return [r["marker"] for r in ws.received() if r["agent"] == agent]


def test_commands_reach_a_running_daemon(workspace: Workspace) -> None:
    """The agents hold their first tasks (A1, B1) in flight until the commands are given:
    a delay would be a race on a loaded machine."""
    ws = workspace
    hold = ws.root / "hold"
    hold.touch()
    ws.sim_agents(["a", "b"], delay=0.3, extra={n: ["--hold", str(hold)] for n in "ab"})
    ws.write_queue(
        "q.yaml",
        [
            {"id": "A1", "agent": "a", "prompt": "one"},
            {"id": "A2", "agent": "a", "prompt": "two"},
            {"id": "A3", "agent": "a", "prompt": "three", "priority": "low"},
            {"id": "A4", "agent": "a", "prompt": "four", "priority": "low"},
            {"id": "B1", "agent": "b", "prompt": "bee", "priority": "low"},
            {"id": "B2", "agent": "b", "prompt": "bee two", "priority": "low"},
        ],
    )
    with ws.running():
        wait_until(lambda: order(ws, "a") == ["[orchestrate A1 #1]"], 30, "A1 sent")
        paused = ws.cli("pause", "b")
        assert paused.returncode == 0, paused.stderr
        assert paused.stdout.startswith("b: paused")
        urgent = ws.cli("dispatch", "A3")
        assert urgent.returncode == 0 and "A3: goes next" in urgent.stdout
        assert "a is busy with A1" in urgent.stdout
        cancelled = ws.cli("cancel", "A2")
        assert cancelled.returncode == 0 and cancelled.stdout.startswith(
            "A2: cancelled (was queued)"
        )
        refused = ws.cli("cancel", "A2")
        assert refused.returncode == 1 and "nothing to cancel" in refused.stderr
        unknown = ws.cli("pause", "nobody")
        assert unknown.returncode == 1 and "no agent 'nobody'" in unknown.stderr
        hold.unlink()  # A1 and B1 are reported now
        wait_until(lambda: ws.statuses().get("A4") == "done", 60, "a's queue done")
        assert order(ws, "a") == [f"[orchestrate {t} #1]" for t in ("A1", "A3", "A4")]
        assert ws.statuses()["A2"] == "cancelled"
        status = ws.status()
        b = next(a for a in status["agents"] if a["name"] == "b")
        assert b["state"] == "paused" and b["task"] is None
        # b was paused with B1 in hand (held until A1 was), or before it went out: B2 waits
        sent_b = order(ws, "b")
        assert "[orchestrate B2 #1]" not in sent_b
        resumed = ws.cli("resume", "b")
        assert resumed.returncode == 0 and resumed.stdout.startswith("b: resumed")
        wait_until(lambda: ws.statuses().get("B2") == "done", 60, "b's queue after resume")
    log = ws.journal()
    assert "dispatch A3: A3: goes next" in log and "b: paused by the operator" in log


def test_commands_wait_for_a_stopped_daemon(workspace: Workspace) -> None:
    ws = workspace
    ws.sim_agents(["a", "b"], delay=0.3, extra={"a": ["--fail", "F"]})
    tasks = [
        {"id": "F", "agent": "a", "prompt": "fails", "retries": 0},
        {"id": "T1", "agent": "a", "prompt": "one"},
        {"id": "B1", "agent": "b", "prompt": "bee"},
    ]
    ws.write_queue("q.yaml", tasks)
    first = ws.cli("start", "--plain", "--exit-when-done", timeout=120)
    assert first.returncode == 1  # F failed
    assert ws.statuses() == {"F": "failed", "T1": "done", "B1": "done"}
    tasks += [
        {"id": "T4", "agent": "a", "prompt": "four"},
        {"id": "T5", "agent": "a", "prompt": "five", "priority": "low"},
        {"id": "B2", "agent": "b", "prompt": "bee two"},
    ]
    ws.write_queue("q.yaml", tasks)
    queued = "queued; applied when the daemon next starts"
    for command, target in (("pause", "b"), ("cancel", "T4"), ("dispatch", "T5"), ("retry", "F")):
        answer = ws.cli(command, target)
        assert answer.returncode == 0 and answer.stdout.strip() == f"{command} {target}: {queued}"
    # what the stored state (after the commands above) already refuses is refused now
    for command, target, why in (
        ("retry", "T1", "T1 is done; nothing to retry"),
        ("cancel", "NOPE", "no task 'NOPE': `orchestrate status` lists them"),
        ("pause", "zed", "no agent 'zed' (agents: a, b)"),
        ("dispatch", "T4", "T4 is cancelled, not queued"),  # by the cancel waiting above
    ):
        answer = ws.cli(command, target)
        assert answer.returncode == 1, answer.stdout
        assert answer.stderr.startswith(why) and "(no daemon runs; nothing queued)" in answer.stderr
    second = ws.cli("start", "--plain", "--exit-when-done", timeout=120)
    assert second.returncode == 1 and "no task can make progress" in second.stdout  # b paused
    assert ws.statuses() == {
        "F": "failed", "T1": "done", "B1": "done", "T4": "cancelled", "T5": "done", "B2": "queued"
    }  # fmt: skip
    # the retry ran (F #2, failing again with --fail), after T5 that was dispatched ahead
    sent = order(ws, "a")
    assert sent.index("[orchestrate T5 #1]") < sent.index("[orchestrate F #2]")
    assert "[orchestrate T4 #1]" not in sent
    assert ws.cli("resume", "b").returncode == 0
    third = ws.cli("start", "--plain", "--exit-when-done", timeout=120)
    assert third.returncode == 1 and ws.statuses()["B2"] == "done"  # F is still failed
    log = ws.journal()
    for line in ("pause b: b: paused", "cancel T4: T4: cancelled (was queued)",
                 "dispatch T5: T5: ", "retry F: F: back in the queue (was failed)",
                 "resume b: b: resumed"):  # fmt: skip
        assert f"command        {line}" in log
    assert "NOPE" not in log and "zed" not in log and "retry T1" not in log

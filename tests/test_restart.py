"""kill -9 of the daemon at every step of a dispatch, then a restart: none lost, none twice."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from collections import Counter

import pytest

from orchestrator.delivery import FAULT_POINTS
from orchestrator.lock import holder

from .conftest import Workspace, simple_tasks, wait_until


def finish(ws: Workspace, ids: list[str]) -> None:
    """Run a fresh daemon to the end and check every task was delivered exactly once."""
    result = ws.cli("start", "--plain", "--exit-when-done", timeout=180)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    assert ws.statuses() == dict.fromkeys(ids, "done")
    assert ws.markers() == Counter({f"[orchestrate {i} #1]": 1 for i in ids})


RECOVERY = {
    "recorded": "never reached",  # keys not sent yet: sent now, under the same marker
    "pasted-uncommitted": "was still in the input box: submitted it",
    "pasted": "was still in the input box: submitted it",
    "entered": "had been submitted",  # Enter went out: nothing more to send
    "board-read": "daemon started",  # no dispatch in flight: nothing to recover
}


@pytest.mark.parametrize("point", FAULT_POINTS)
def test_kill_9_at_each_step_of_a_dispatch(workspace: Workspace, point: str) -> None:
    ws = workspace
    # Agents slower than a daemon restart, so that the restart finds the prompt on screen.
    ws.sim_agents(["a", "b"], delay=2.5)
    tasks = simple_tasks("T", ["a", "b"], 5)
    ws.write_queue("q.yaml", tasks)
    ids = [t["id"] for t in tasks]
    # Die the 3rd time the point is reached (a dispatch in the middle of the run).
    daemon = ws.start(env={"ORCHESTRATE_FAULT": f"{point}:3"})
    assert daemon.wait(timeout=120) == -signal.SIGKILL, ws.daemon_log()[-3000:]
    finish(ws, ids)
    assert RECOVERY[point] in ws.cli("logs").stdout


CRASHES = int(os.environ.get("ORCHESTRATE_CRASHES", "20"))  # `make soak` asks for 200


def test_random_kill_9s_lose_nothing_and_send_nothing_twice(workspace: Workspace) -> None:
    """kill -9 of the daemon at CRASHES random points: half at a random moment, half at a
    random step of a dispatch (a random fault point, at its 1st to 3rd passage)."""
    ws = workspace
    ws.sim_agents(["a", "b", "c"], delay=0.3)
    tasks: list[dict[str, object]] = []
    rnd = random.Random(int(os.environ.get("ORCHESTRATE_TEST_SEED", "12")))
    lock = ws.root / ".orchestrate" / "daemon.lock"
    kills = 0
    while kills < CRASHES:
        if len(tasks) < 12 or set(ws.statuses().values()) == {"done"}:  # keep work to crash in
            tasks += simple_tasks(f"K{len(tasks)}", ["a", "b", "c"], 6)
            ws.write_queue("q.yaml", tasks)
        if rnd.random() < 0.5:
            fault = f"{rnd.choice(FAULT_POINTS)}:{rnd.randint(1, 3)}"
            daemon = ws.start("--exit-when-done", env={"ORCHESTRATE_FAULT": fault})
            kills += daemon.wait(timeout=120) == -signal.SIGKILL
            continue
        daemon = ws.start()
        try:
            pid = daemon.pid
            wait_until(lambda: holder(lock) == pid, 30, "the daemon to hold the lock")  # noqa: B023
            time.sleep(rnd.uniform(0.0, 1.5))  # chooses the crash point; asserts nothing
        finally:
            daemon.send_signal(signal.SIGKILL)
            daemon.wait(timeout=20)
        kills += 1
    finish(ws, [str(t["id"]) for t in tasks])


def test_restart_after_a_clean_stop_sends_nothing_again(workspace: Workspace) -> None:
    ws = workspace
    ws.sim_agents(["a"], delay=0.2)
    tasks = simple_tasks("S", ["a"], 3)
    ws.write_queue("q.yaml", tasks)
    ids = [t["id"] for t in tasks]
    finish(ws, ids)
    # The run is over; a new daemon finds everything done and sends nothing.
    again = ws.cli("start", "--plain", "--exit-when-done", timeout=60)
    assert again.returncode == 0
    assert ws.markers() == Counter({f"[orchestrate {i} #1]": 1 for i in ids})


def test_daemon_survives_a_sigterm_mid_run_and_resumes(workspace: Workspace) -> None:
    ws = workspace
    ws.sim_agents(["a"], delay=0.5)
    tasks = simple_tasks("R", ["a"], 4)
    ws.write_queue("q.yaml", tasks)
    daemon = ws.start()
    wait_until(lambda: ws.statuses().get("R-001") in ("dispatched", "done"), 60)
    daemon.send_signal(signal.SIGTERM)
    assert daemon.wait(timeout=20) == 0
    subprocess.run(["true"], check=True)
    finish(ws, [t["id"] for t in tasks])


def test_kill_9_during_validation_validates_again_after_the_restart(workspace: Workspace) -> None:
    ws = workspace
    ws.sim_agents(["a"], delay=0.2)
    ws.write_queue("q.yaml", simple_tasks("V", ["a"], 1, validate=["sleep 2", "true"]))
    daemon = ws.start()
    try:
        wait_until(lambda: ws.statuses().get("V-000") == "validating", 60, "validating")
    finally:
        daemon.send_signal(signal.SIGKILL)
        daemon.wait(timeout=20)
    finish(ws, ["V-000"])
    assert "V-000 #1: validating again" in ws.cli("logs").stdout
    assert ws.status()["tasks"][0]["validation"] == "2/2 passed"

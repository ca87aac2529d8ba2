"""kill -9 of the daemon at every step of a dispatch, then a restart: none lost, none twice.

Each crash test runs against three kinds of agent: one whose input line shows the pasted
text's first line (most TUIs), one that shows a `[Pasted text #N +M lines]` placeholder
instead (Claude Code), and one that shows nothing of its input at all, read through the
`generic` profile (which reads no screen): the hardest case. What arrived is counted from
the agents' own logs.
"""

from __future__ import annotations

import itertools
import os
import random
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import NamedTuple

import pytest
import yaml

from orchestrator.adapters.keys import PASTE_TAG
from orchestrator.adapters.lock import holder
from orchestrator.config.settings import Agent
from orchestrator.daemon.delivery import in_input_line
from orchestrator.daemon.faults import FAULT_POINTS
from orchestrator.daemon.screen import classify, profile_for
from orchestrator.prompt import MARKER

from .conftest import Workspace, simple_tasks, wait_until

# kind -> (sim-agent --echo, profile)
KINDS = {
    "echo": ("full", "sim"),
    "placeholder": ("placeholder", "sim"),
    "none": ("none", "generic"),
}


def agents(ws: Workspace, kind: str, names: list[str], delay: float, *extra: str) -> None:
    echo, profile = KINDS[kind]
    ws.sim_agents(
        names, delay=delay, echo=echo, profile=profile, extra={n: list(extra) for n in names}
    )


@contextmanager
def held_until(ws: Workspace, hold: Path, said: str) -> Iterator[None]:
    """The agents' work (sim-agent --hold) goes on until the journal says `said`."""
    hold.touch()

    def release() -> None:
        try:
            wait_until(lambda: said in ws.journal(), 150, said)
        finally:
            hold.unlink(missing_ok=True)

    thread = threading.Thread(target=release)
    thread.start()
    try:
        yield
    finally:
        hold.unlink(missing_ok=True)
        thread.join()


def delivered_once(ws: Workspace, ids: list[str]) -> None:
    """Each task's prompt reached its agent once (by the agents' logs), and no message held a
    prompt twice (a second paste into an input box that still held the first)."""
    assert ws.markers() == Counter({f"[orchestrate {i} #1]": 1 for i in ids})
    doubled = [r["text"][:300] for r in ws.received() if len(MARKER.findall(r["text"])) != 1]
    assert not doubled, doubled


def finish(ws: Workspace, ids: list[str], within: float = 170) -> None:
    """Run a fresh daemon to the end and check every task was delivered exactly once."""
    try:
        result = ws.cli("start", "--plain", "--exit-when-done", timeout=within)
    except subprocess.TimeoutExpired:
        journal = ws.journal()
        raise AssertionError(f"not done within {within:.0f} s: {journal[-3000:]}") from None
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    assert ws.statuses() == dict.fromkeys(ids, "done")
    delivered_once(ws, ids)


def forget_pastes(ws: Workspace) -> None:
    """Remove tmux's record of the pastes waiting for their Enter from every pane (as if the
    daemon that pasted had kept none), so that the screen alone must tell."""
    tmux = ["tmux", "-L", ws.socket]
    panes = subprocess.run(
        [*tmux, "list-panes", "-a", "-F", "#{pane_id}"], capture_output=True, text=True, check=True
    ).stdout.split()
    for pane in panes:
        subprocess.run([*tmux, "set-option", "-p", "-u", "-t", pane, PASTE_TAG], check=True)


# What the journal says after a crash at each point, for each kind of agent.
STILL_THERE = {
    "echo": "input box (its marker on the input line): pressed Enter",
    "placeholder": "input box (a paste placeholder in the input box): pressed Enter",
    "none": "input box (tmux recorded its paste and no Enter; the screen does not show it)",
}
RECOVERY = {
    "recorded": dict.fromkeys(KINDS, "never reached a: sent it now"),  # under the same marker
    "pasted-uncommitted": STILL_THERE,  # Enter, never a second paste
    "pasted": STILL_THERE,
    # Enter went out: nothing more to send (the marker on the screen, or tmux's record)
    "entered": dict.fromkeys(KINDS, "had been submitted"),
    "board-read": dict.fromkeys(KINDS, "daemon started"),  # no dispatch in flight
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("point", FAULT_POINTS)
def test_kill_9_at_each_step_of_a_dispatch(workspace: Workspace, point: str, kind: str) -> None:
    ws = workspace
    hold = ws.root / "hold"
    agents(ws, kind, ["a"], 0.5, "--hold", str(hold))
    tasks = simple_tasks("T", ["a"], 3)
    ws.write_queue("q.yaml", tasks)
    ids = [t["id"] for t in tasks]
    # Die the 2nd time the point is reached (a dispatch in the middle of the run). After its
    # Enter, the prompt must still be in flight when the next daemon starts (not reported
    # yet): the agent works on until that daemon has recovered it, so it dies at the 1st.
    # Elsewhere the text waits anyway, or never left.
    entered = point == "entered"
    with held_until(ws, hold, RECOVERY[point][kind]) if entered else nullcontext():
        daemon = ws.start(env={"ORCHESTRATE_FAULT": f"{point}:{1 if entered else 2}"})
        assert daemon.wait(timeout=120) == -signal.SIGKILL, ws.daemon_log()[-3000:]
        finish(ws, ids)
    assert RECOVERY[point][kind] in ws.journal()


def chain(prefix: str, agent: str, count: int) -> list[dict[str, object]]:
    """Tasks that each wait for the one before."""
    tasks: list[dict[str, object]] = simple_tasks(prefix, [agent], count)
    for before, task in itertools.pairwise(tasks):
        task["after"] = [before["id"]]
    return tasks


@pytest.mark.parametrize(("profile", "record"), [("sim", "kept"), ("generic", "lost")])
def test_a_crash_between_paste_and_enter_on_a_placeholder_agent_loses_nothing(
    workspace: Workspace, profile: str, record: str
) -> None:
    """The agent shows `[Pasted text #N +M lines]`, never the marker. Killed with the 2nd
    prompt pasted and not submitted, the restart submits it and the chain goes on: from
    tmux's record of the paste, or with that record gone, from the placeholder in the input
    line (the profile's `pending` pattern, or the real CLIs' wordings for `generic`)."""
    ws = workspace
    ws.sim_agents(["a"], delay=0.3, echo="placeholder", profile=profile)
    tasks = chain("P", "a", 3)
    ws.write_queue("q.yaml", tasks)
    daemon = ws.start(env={"ORCHESTRATE_FAULT": "pasted:2"})
    assert daemon.wait(timeout=120) == -signal.SIGKILL, ws.daemon_log()[-3000:]
    if record == "lost":
        forget_pastes(ws)
    finish(ws, [str(t["id"]) for t in tasks], within=60)  # a lost prompt stops the chain
    assert "P-001 #1: was still in a's input box (" in ws.journal()


@pytest.mark.parametrize("record", ["kept", "lost"])
def test_a_crash_before_the_paste_is_committed_does_not_paste_again(
    workspace: Workspace, record: str
) -> None:
    """Killed after the paste and before its stage was committed (still `sending`): the
    restart presses Enter on what the input box holds and never pastes a second time, which
    would submit one message holding the prompt twice."""
    ws = workspace
    ws.sim_agents(["a"], delay=0.3, echo="placeholder")
    tasks = chain("U", "a", 3)
    ws.write_queue("q.yaml", tasks)
    daemon = ws.start(env={"ORCHESTRATE_FAULT": "pasted-uncommitted:2"})
    assert daemon.wait(timeout=120) == -signal.SIGKILL, ws.daemon_log()[-3000:]
    if record == "lost":
        forget_pastes(ws)
    finish(ws, [str(t["id"]) for t in tasks])
    (received,) = [r for r in ws.received() if r["marker"] == "[orchestrate U-001 #1]"]
    assert received["text"].count("[orchestrate U-001 #1]") == 1


def test_a_paste_whose_program_was_started_again_before_its_enter_is_sent_again(
    workspace: Workspace,
) -> None:
    """Killed with the 2nd prompt pasted, not submitted; then the agent's program is started
    again in its pane (the pasted text goes with the old one). The restart sends it again,
    though the old program's input line may still show in the pane's history."""
    ws = workspace
    ws.sim_agents(["a"], delay=0.3)
    tasks = chain("R", "a", 3)
    ws.write_queue("q.yaml", tasks)
    daemon = ws.start(env={"ORCHESTRATE_FAULT": "pasted:2"})
    assert daemon.wait(timeout=120) == -signal.SIGKILL, ws.daemon_log()[-3000:]
    command = yaml.safe_load((ws.root / "orchestrate.yaml").read_text())["agents"]["a"]["command"]
    tmux = ["tmux", "-L", ws.socket, "respawn-pane", "-k", "-t", "orch-test:a", command]
    subprocess.run(tmux, check=True)
    finish(ws, [str(t["id"]) for t in tasks], within=60)
    assert "R-001 #1: its paste went to a program of a started again since" in ws.journal()


CRASHES = int(os.environ.get("ORCHESTRATE_CRASHES", "20"))  # per kind; `make soak`: 200


@pytest.mark.parametrize("kind", KINDS)
def test_random_kill_9s_lose_nothing_and_send_nothing_twice(
    workspace: Workspace, kind: str
) -> None:
    """kill -9 of the daemon at CRASHES random points: half at a random moment, half at a
    random step of a dispatch (a random fault point, at its 1st to 3rd passage)."""
    ws = workspace
    agents(ws, kind, ["a", "b", "c"], delay=0.3)
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
    journal = ws.journal(1000000).splitlines()
    outcomes = Counter(
        line.split(": ", 1)[1].split(" (", 1)[0].split(": ", 1)[0]
        for line in journal
        if " recovered " in line or " unconfirmed " in line
    )
    print(f"{kind}: {kills} kills, {len(tasks)} prompts each received once; {dict(outcomes)}")


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
    assert "V-000 #1: validating again" in ws.journal()
    assert ws.status()["tasks"][0]["validation"] == "2/2 passed"


class Shown(NamedTuple):
    test_id: str
    profile: str
    screen: str
    shows: str  # what in_input_line says ("" when the text does not wait there)


TEXT = "[orchestrate W-1 #1] title\n\nDo it.\n\nthe closing line of the prompt"
SHOWN = [
    Shown("marker", "sim", "● done\n> [orchestrate W-1 #1] title  [+4 lines]", "its marker"),
    Shown("tail", "generic", "…\nthe closing line of the prompt", "its last line"),
    Shown("sim placeholder", "sim", "> [Pasted text #1 +4 lines]", "a paste placeholder"),
    Shown("claude", "generic", "> [Pasted text #3 +4 lines]", "a paste placeholder"),
    Shown("plain", "generic", "> [Pasted text +4 lines]", "a paste placeholder"),
    Shown("qwen", "generic", "* [Pasted Content 1234 chars]", "a paste placeholder"),
    # higher on the screen, it was submitted (Claude Code's transcript shows the placeholder)
    Shown("placeholder above", "generic", "> [Pasted text #1 +4 lines]\n● ok\n> ", ""),
    Shown("marker above", "sim", "● received [orchestrate W-1 #1]\n> ", ""),
    Shown("busy", "sim", "> [Pasted text #1 +4 lines]\n✻ Working… (esc to interrupt)", ""),
    Shown("nothing", "generic", "> ", ""),
]


@pytest.mark.parametrize("case", SHOWN, ids=[c.test_id for c in SHOWN])
def test_what_the_input_line_shows_of_a_waiting_text(case: Shown) -> None:
    profile = profile_for(Agent("x", 1, None, case.profile))
    shows = in_input_line(classify(case.screen, profile), "[orchestrate W-1 #1]", TEXT, profile)
    assert shows.startswith(case.shows) and bool(shows) == bool(case.shows)

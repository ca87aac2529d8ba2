"""Scale and idle cost: a 10,000-task queue over 50 agents (check, start-up, decisions per
second, memory, status), and a daemon with 8 idle agents over a minute."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from orchestrator.board import parse_blocks
from orchestrator.config.settings import read_queue
from orchestrator.core import scheduler as sch
from orchestrator.core import state as st

PROMPT = (
    "Implement the next slice of the reconciliation engine: read the module, change what "
    "the step needs, keep the tests green, and report the files you changed. " * 2
)


def workspace(folder: Path, tasks: int, agents: int, command: str) -> tuple[Path, str]:
    """A workspace of `tasks` tasks over `agents` agents in 10 queue files; its tmux socket."""
    socket = f"bench-{uuid.uuid4().hex[:8]}"
    ws = folder / f"scale-{tasks}-{agents}-{socket}"
    (ws / "queues").mkdir(parents=True)
    names = [f"agent{i:02d}" for i in range(agents)]
    config = {
        "session": "bench",
        "socket": socket,
        "agents": {n: {"window": n, "command": command, "profile": "generic"} for n in names},
    }
    (ws / "orchestrate.yaml").write_text(json.dumps(config))
    per_file = tasks // 10
    for f in range(10):
        items = []
        for i in range(f * per_file, (f + 1) * per_file):
            item: dict[str, object] = {
                "id": f"S-{i:05d}",
                "agent": names[i % agents],
                "priority": ["high", "medium", "low"][i % 3],
                "prompt": PROMPT,
                "report": ["Files"],
            }
            if i % 7 == 3 and i >= agents:
                item["after"] = [f"S-{i - agents:05d}"]
            items.append(item)
        (ws / "queues" / f"q{f:02d}.yaml").write_text(json.dumps({"tasks": items}))
    (ws / "CLAUDE.md").write_text("# Board\n\n")
    return ws, socket


def timed(run: Callable[[], object], runs: int = 3) -> float:
    """The median wall time of `runs` runs, in seconds."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def cli(ws: Path, *args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "orchestrator", "-C", str(ws), *args],
        capture_output=True,
        check=False,
    )


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_daemon(ws: Path) -> tuple[subprocess.Popen[bytes], float]:
    """A daemon on `ws`, and how long it took until its first status file (start-up)."""
    status = ws / "ORCHESTRATOR_STATUS.md"
    status.unlink(missing_ok=True)
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "-C", str(ws), "start", "--plain"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    while not status.exists():
        if proc.poll() is not None or time.perf_counter() - started > 600:
            raise RuntimeError("bench: the daemon did not start")
        time.sleep(0.01)
    return proc, time.perf_counter() - started


def stop(proc: subprocess.Popen[bytes], socket: str) -> None:
    proc.terminate()
    proc.wait(timeout=60)
    subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True, check=False)


def decisions_per_second(ws: Path, limit: float = 20.0) -> tuple[float, int]:
    """Feed the scheduler a report for each agent's task in turn, as the daemon would; the
    events it decides per second (each: the state change, blocking, and the next plan)."""
    tasks = [t for f in sorted((ws / "queues").glob("*.yaml")) for t in read_queue(f)]
    names = sorted({t.agent for t in tasks})
    state = st.State(agents=tuple(st.AgentState(n) for n in names))
    now = 0.0
    state = st.fold(state, sch.decide(state, st.QueueLoaded(tuple(tasks)), now), now)
    blocks = {}
    events = 0
    started = time.perf_counter()
    while time.perf_counter() - started < limit:
        held = [a.task for a in state.agents if a.task]
        if not held:
            break
        for task in held:
            if task not in blocks:
                (blocks[task],) = parse_blocks(f"### TODO-{task}: COMPLETED\n**Files**: x\n\n")
            now += 1
            state = st.fold(state, sch.decide(state, st.Reported(blocks[task]), now), now)
            events += 1
    return events / (time.perf_counter() - started), events


def idle(folder: Path, seconds: float = 60.0) -> tuple[float, float]:
    """CPU (% of one core) and RSS (MB) of a daemon with 8 idle agents over `seconds`."""
    ws, socket = workspace(folder, 10, 8, "sleep 100000")
    (ws / "queues" / "q00.yaml").write_text('{"tasks": []}')
    for extra in (ws / "queues").glob("q0[1-9].yaml"):
        extra.unlink()
    proc, _ = start_daemon(ws)
    try:
        time.sleep(2)  # let it settle
        cpu0, t0 = cpu_seconds(proc.pid), time.perf_counter()
        time.sleep(seconds)
        cpu = (cpu_seconds(proc.pid) - cpu0) / (time.perf_counter() - t0) * 100
        return cpu, rss_mb(proc.pid)
    finally:
        stop(proc, socket)

"""Dispatch latency: from a report block landing on the board to the first byte of the next
prompt in that agent's pane, and to its submission (Enter), for the daemon and for the
floor program, on the same bench agents in a private tmux server."""

from __future__ import annotations

import json
import random
import shlex
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

GAP = 0.2  # seconds between paste and Enter for both: the `generic` profile's submit.gap
FILLER = b"Notes from earlier work: nothing here is a report block, just text.\n"


@dataclass(frozen=True)
class Sample:
    paste: float  # seconds from the block landing to the first byte of the next prompt
    enter: float  # ... to its Enter
    at: float = 0.0  # when the block landed (epoch seconds)


def _tmux(socket: str, *args: str) -> str:
    return subprocess.run(
        ["tmux", "-L", socket, *args], capture_output=True, text=True, check=True
    ).stdout.strip()


def _lines(log: Path) -> list[dict[str, object]]:
    if not log.exists():
        return []
    return [json.loads(x) for x in log.read_text().splitlines() if x.strip()]


def _wait(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise RuntimeError(f"bench: timed out waiting for {what}")
        time.sleep(0.002)


def run(system: str, agents: int, rounds: int, board_bytes: int, folder: Path) -> list[Sample]:
    """One measured run: `system` is 'daemon' or 'floor'."""
    socket = f"bench-{uuid.uuid4().hex[:8]}"
    ws = folder / f"{system}-{agents}-{board_bytes}-{socket}"
    (ws / "queues").mkdir(parents=True)
    board = ws / "CLAUDE.md"
    with board.open("wb") as handle:
        for _ in range(board_bytes // len(FILLER) + 1):
            handle.write(FILLER)
    names = [f"a{i}" for i in range(agents)]
    logs = {n: ws / f"{n}.jsonl" for n in names}
    agent_cmd = [sys.executable, "-m", "bench.agent"]
    _tmux(socket, "-f", "/dev/null", "new-session", "-d", "-s", "bench", "-x", "200", "-y", "50")
    panes = {}
    for n in names:
        command = shlex.join([*agent_cmd, str(logs[n])])
        panes[n] = _tmux(socket, "new-window", "-d", "-t", "bench:", "-n", n, "-P", "-F",
                         "#{pane_id}", "-c", str(Path.cwd()), command)  # fmt: skip
    tasks = {n: [f"B{n}-{k}" for k in range(rounds + 1)] for n in names}
    if system == "daemon":
        config = {
            "session": "bench",
            "socket": socket,
            "agents": {n: {"window": n, "profile": "generic",
                           "submit": {"settle": 0.2}} for n in names},
        }  # fmt: skip
        (ws / "orchestrate.yaml").write_text(json.dumps(config))
        queue = {"tasks": [{"id": t, "agent": n, "prompt": "Benchmark step."}
                           for n in names for t in tasks[n]]}  # fmt: skip
        (ws / "queues" / "bench.yaml").write_text(json.dumps(queue))
        argv = [sys.executable, "-m", "orchestrator", "-C", str(ws), "start", "--plain"]
    else:
        plan = {panes[n]: [[t, f"[orchestrate {t} #1] Benchmark step.\n### TODO-{t}: COMPLETED"]
                           for t in tasks[n]] for n in names}  # fmt: skip
        (ws / "plan.json").write_text(json.dumps(plan))
        argv = [sys.executable, "-m", "bench.floor", socket, str(board), str(GAP),
                str(ws / "plan.json")]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    samples: list[Sample] = []
    rnd = random.Random(7)
    try:
        _wait(lambda: all(_lines(logs[n]) for n in names), 600, "the first prompts")
        seen = {n: 1 for n in names}
        for _ in range(rounds):
            landed: dict[str, float] = {}
            for n in rnd.sample(names, len(names)):
                task = _lines(logs[n])[-1]["task"]
                with board.open("ab") as handle:
                    handle.write(f"### TODO-{task}: COMPLETED\n**Tests**: ok\n\n".encode())
                landed[n] = time.time()
                time.sleep(rnd.uniform(0, 0.01))
            for n in names:
                _wait(lambda n=n: len(_lines(logs[n])) > seen[n], 60, f"{n}'s next prompt")
                seen[n] += 1
                record = _lines(logs[n])[-1]
                samples.append(
                    Sample(
                        float(record["paste"]) - landed[n],  # type: ignore[arg-type]
                        float(record["enter"]) - landed[n],  # type: ignore[arg-type]
                        landed[n],
                    )
                )
            time.sleep(0.05)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True, check=False)
    return samples

"""Shared fixtures: a private tmux socket, isolated HOME, workspaces with simulated agents.

Nothing here touches the developer's default tmux server, ~/.tmux.conf or $HOME.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from orchestrator.adapters.store import Store
from orchestrator.adapters.tmux import Tmux, server_for
from orchestrator.cli.demo import sim_command as demo_sim
from orchestrator.daemon.loop import Daemon
from orchestrator.errors import StateError
from orchestrator.views.dashboard import PlainView
from orchestrator.views.rows import journal_line, json_text, status_json
from orchestrator.views.snapshot import read_snapshot

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True, scope="session")
def _isolated_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """tmux reads ~/.tmux.conf when it starts a server: give it an empty HOME."""
    home = tmp_path_factory.mktemp("home")
    saved = {k: os.environ.get(k) for k in ("HOME", "XDG_CONFIG_HOME", "TMUX", "TMUX_PANE")}
    os.environ["HOME"] = str(home)
    os.environ["XDG_CONFIG_HOME"] = str(home / ".config")
    os.environ.pop("TMUX", None)
    os.environ.pop("TMUX_PANE", None)
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(autouse=True)
def _no_leaked_threads() -> Iterator[None]:
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        leaked = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        if not leaked:
            return
        time.sleep(0.05)
    raise AssertionError(f"threads leaked by the test: {leaked}")


@pytest.fixture
def socket_name() -> Iterator[str]:
    name = f"orch-test-{uuid.uuid4().hex[:10]}"
    yield name
    subprocess.run(["tmux", "-L", name, "kill-server"], capture_output=True, check=False)


def wait_until(predicate: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    """Poll `predicate` until it is truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


@dataclass(frozen=True)
class Finished:
    """A daemon run to its end: as a CompletedProcess of `start --plain` reads."""

    returncode: int
    stdout: str


class Workspace:
    """A workspace folder with simulated agents on a private tmux socket."""

    def __init__(self, root: Path, socket: str) -> None:
        self.root = root
        self.socket = socket
        self.board = root / "CLAUDE.md"
        self.logs = root / "sim-logs"

    def write_config(
        self, agents: dict[str, dict[str, Any]], extra: dict[str, Any] | None = None
    ) -> None:
        (self.root / "orchestrate.yaml").write_text(
            yaml.safe_dump(
                {"session": "orch-test", "socket": self.socket, "agents": agents, **(extra or {})},
                sort_keys=False,
            ),
            encoding="utf-8",
        )

    def sim_agents(
        self,
        names: list[str],
        delay: float = 0.3,
        write: str = "append",
        extra: dict[str, list[str]] | None = None,
        echo: str = "full",
        profile: str = "sim",
    ) -> None:
        """Simulated agents; `echo` is what their input line shows of a paste (full,
        placeholder, none), `profile` the one the daemon reads their screens with."""
        self.logs.mkdir(exist_ok=True)
        agents = {}
        for name in names:
            args = ["--log", str(self.logs / f"{name}.jsonl"), *(extra or {}).get(name, [])]
            if echo != "full":
                args += ["--echo", echo]
            agents[name] = {
                "command": demo_sim(name, self.board, delay, write, *args),
                "profile": profile,
            }
        self.write_config(agents)

    def write_queue(self, name: str, tasks: list[dict[str, Any]]) -> Path:
        path = self.root / "queues" / name
        path.write_text(
            yaml.safe_dump({"tasks": tasks}, sort_keys=False, allow_unicode=True),
            encoding="utf-8",
        )
        return path

    def received(self) -> list[dict[str, Any]]:
        """Every prompt the simulated agents received, from their logs."""
        records = []
        if self.logs.is_dir():
            for log in sorted(self.logs.glob("*.jsonl")):
                for line in log.read_text(encoding="utf-8").splitlines():
                    record = json.loads(line)
                    if record["event"] == "received":
                        records.append(record)
        return records

    def markers(self) -> Counter[str]:
        """How many times each prompt marker reached the simulated agents."""
        return Counter(r["marker"] for r in self.received())

    def kill_agent(self, window: str) -> None:
        """Kill the program of an agent's window with SIGKILL, as a crash would."""
        pid = subprocess.run(
            [
                "tmux",
                "-L",
                self.socket,
                "display-message",
                "-p",
                "-t",
                f"orch-test:{window}",
                "#{pane_pid}",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        subprocess.run(["kill", "-9", pid], check=True)

    def cli(
        self, *args: str, timeout: float = 60, **kwargs: Any
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "orchestrator", "-C", str(self.root), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            **kwargs,
        )

    def start(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        with (self.root / "daemon-test.log").open("a") as log:  # the child keeps its own copy
            return subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "orchestrator",
                    "-C",
                    str(self.root),
                    "start",
                    "--plain",
                    *args,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                text=True,
                env={**os.environ, **(env or {})},
            )

    @contextmanager
    def running(self, *args: str) -> Iterator[subprocess.Popen[str]]:
        """A daemon in the background for the duration of the block, stopped with SIGTERM."""
        daemon = self.start(*args)
        try:
            yield daemon
        finally:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(timeout=20)

    @contextmanager
    def running_here(self) -> Iterator[Daemon]:
        """A daemon in a thread of this process for the duration of the block, stopped at
        its end (it must exit 0): for the tests about what it does, not about its process
        (signals, kill -9, its pid), which use `running`."""
        printed = io.StringIO()
        daemon = self.in_process(exit_when_done=False, printed=printed)
        codes: list[int] = []
        thread = threading.Thread(target=lambda: codes.append(daemon.run()), daemon=True)
        thread.start()
        try:
            yield daemon
        finally:
            daemon.stop()
            thread.join(timeout=60)
        assert codes == [0], printed.getvalue()[-3000:]

    def in_process(
        self,
        clock: Callable[[], float] = time.time,
        exit_when_done: bool = True,
        printed: io.StringIO | None = None,
    ) -> Daemon:
        """A daemon to `run()` in this process, on the real tmux, its plain view printing
        into `printed`: for a fault at a known point (a patched function, a clock that
        acts), and under `finish` and `running_here`."""
        view = PlainView(io.StringIO() if printed is None else printed)
        tmux = Tmux(server_for(self.socket))
        return Daemon(self.root, tmux, view, exit_when_done=exit_when_done, clock=clock)

    def finish(self) -> Finished:
        """What `start --plain --exit-when-done` does, run in this process (no interpreter
        to start, no CLI to load): for the tests about what the daemon does, not about the
        command. Its exit code and what its plain view printed."""
        printed = io.StringIO()
        return Finished(self.in_process(printed=printed).run(), printed.getvalue())

    def status(self) -> dict[str, Any]:
        """What `status --json` prints, read from the store in this process (the tests that
        are about the command itself run it: test_quick, test_newcomer, test_hostile)."""
        data: dict[str, Any] = json.loads(
            json_text(status_json(read_snapshot(self.root, time.time())))
        )
        return data

    def journal(
        self,
        last: int = 200,
        as_json: bool = False,
        task: str | None = None,
        agent: str | None = None,
    ) -> str:
        """What `logs` prints with these options, read from the store in this process ('' if
        there is no journal yet); test_hostile runs the command itself."""
        db = self.root / ".orchestrate" / "state.db"
        if not db.exists():
            return ""
        try:
            store = Store(db, readonly=True)
            try:
                events = store.events(task=task, limit=last, agent=agent)
            finally:
                store.close()
        except StateError as exc:
            if "no such table" in str(exc.__cause__):
                return ""  # the daemon is making its tables: nothing in them yet
            raise
        return "".join(journal_line(e, as_json) + "\n" for e in events)

    def statuses(self) -> dict[str, str]:
        return {t["id"]: t["status"] for t in self.status()["tasks"]}

    def daemon_log(self) -> str:
        path = self.root / "daemon-test.log"
        return path.read_text(errors="replace") if path.exists() else ""


@pytest.fixture
def workspace(tmp_path: Path, socket_name: str) -> Workspace:
    root = tmp_path / "ws"
    (root / "queues").mkdir(parents=True)
    shutil.copytree(REPO / "agents_library", root / "agents_library")
    shutil.copy(REPO / "CLAUDE.md", root / "CLAUDE.md")
    return Workspace(root, socket_name)


def simple_tasks(prefix: str, agents: list[str], count: int, **extra: Any) -> list[dict[str, Any]]:
    return [
        {
            "id": f"{prefix}-{i:03d}",
            "title": f"task {i}",
            "agent": agents[i % len(agents)],
            "prompt": f"Do step {i} of the plan.",
            **extra,
        }
        for i in range(count)
    ]

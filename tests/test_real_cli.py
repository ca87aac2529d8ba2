"""The real Claude Code, Codex CLI, Gemini CLI and qwen-code, driven by the daemon, offline.

The pinned CLIs are installed from npm into a cache the tests reuse (.cache/agent-clis/).
The tmux server and the scripted model server run in a network namespace that has loopback
alone, so nothing the CLI tries reaches past 127.0.0.1. Where npm or the namespace cannot be
had, these tests skip and say why; everything else still runs.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.adapters.tmux import Tmux, server_for
from orchestrator.errors import TmuxError

from .conftest import REPO, Workspace, wait_until

CLAUDE = ("@anthropic-ai/claude-code", "2.1.330", "claude")
CODEX = ("@openai/codex", "0.169.0", "codex")
GEMINI = ("@google/gemini-cli", "0.61.0", "gemini")
QWEN = ("@qwen-code/qwen-code", "0.24.4", "qwen")
CLIS = {"claude": CLAUDE, "codex": CODEX, "gemini": GEMINI, "qwen": QWEN}
CACHE = REPO / ".cache" / "agent-clis"
PORT = 8765
KEY = "sk-ant-test-0000000000000000000000000000"
SERVER = Path(__file__).parent / "realcli" / "model_server.py"


def install(package: str, version: str, binary: str) -> Path:
    """The CLI's binary, installed once into the cache. Test processes running side by side
    take turns (a lock per CLI), and a tree counts once npm has finished it (a mark file): a
    CLI another process is still installing is waited for, never run half-written."""
    target = CACHE / f"{binary}-{version}"
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / f"{binary}-{version}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _install(package, version, binary, target)


def _install(package: str, version: str, binary: str, target: Path) -> Path:
    path = target / "node_modules" / ".bin" / binary
    done = target / ".installed"
    if done.exists() and path.exists():
        return path
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed")
    result = subprocess.run(
        [
            "npm",
            "install",
            "--no-audit",
            "--no-fund",
            "--prefix",
            str(target),
            f"{package}@{version}",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode != 0 or not path.exists():
        tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        pytest.skip(f"npm could not install {package}@{version}: {tail[0]}")
    done.touch()
    return path


def namespace_available() -> None:
    if os.geteuid() != 0 or shutil.which("unshare") is None or shutil.which("ip") is None:
        pytest.skip("a loopback-only network namespace needs root, unshare and ip")
    if subprocess.run(["unshare", "-n", "true"], check=False).returncode != 0:
        pytest.skip("unshare -n is not permitted here")


@pytest.fixture(params=sorted(CLIS))
def cli(request: pytest.FixtureRequest) -> tuple[str, Path]:
    """Each real CLI in turn: its name and its installed binary."""
    namespace_available()
    name: str = request.param
    return name, install(*CLIS[name])


@pytest.fixture
def offline(workspace: Workspace, cli: tuple[str, Path]) -> Iterator[Path]:
    """tmux and the model server in a loopback-only namespace; yields the server's log."""
    ws = workspace
    subprocess.run(
        [
            "unshare",
            "-n",
            "sh",
            "-c",
            f"ip link set lo up && exec tmux -L {ws.socket} -f /dev/null new-session -d "
            f"-s orch-test -x 200 -y 50 -c {ws.root}",
        ],
        check=True,
    )
    tmux_pid = subprocess.run(
        ["tmux", "-L", ws.socket, "display-message", "-p", "#{pid}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    log = ws.root / "model-server.jsonl"
    server = subprocess.Popen(
        ["nsenter", "-t", tmux_pid, "-n", sys.executable, str(SERVER), str(PORT), str(log)]
    )

    def listening() -> bool:
        probe = f"import socket; socket.create_connection(('127.0.0.1', {PORT}), 1)"
        return (
            subprocess.run(
                ["nsenter", "-t", tmux_pid, "-n", sys.executable, "-c", probe],
                capture_output=True,
                check=False,
            ).returncode
            == 0
        )

    try:
        wait_until(listening, 20, "the model server")
        # nothing in the namespace reaches past loopback
        outside = subprocess.run(
            ["nsenter", "-t", tmux_pid, "-n", "ip", "route"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert outside.strip() == ""
        yield log
    finally:
        server.kill()
        server.wait()
        screens(ws)


def screens(ws: Workspace) -> None:
    """What each pane shows at the end, printed: pytest shows it when the test failed."""
    tmux = Tmux(server_for(ws.socket))
    for pane in tmux.panes().values():
        print(f"--- {pane.label} ({pane.command}, dead: {pane.dead}) ---")
        try:
            print(tmux.capture(pane.id, history=0))
        except TmuxError as error:
            print(error)


def claude_home(ws: Workspace) -> Path:
    """A fresh HOME with Claude Code's first-run dialogs answered (AGENT_CLIS.md)."""
    home = ws.root.parent / "claude-home"
    (home / ".claude").mkdir(parents=True, exist_ok=True)
    (home / ".claude.json").write_text(
        json.dumps(
            {
                "hasCompletedOnboarding": True,
                "lastOnboardingVersion": CLAUDE[1],
                "lastReleaseNotesSeen": CLAUDE[1],
                "customApiKeyResponses": {"approved": [KEY[-20:]], "rejected": []},
                "projects": {str(ws.root): {"hasTrustDialogAccepted": True, "allowedTools": []}},
            }
        )
    )
    (home / ".claude" / "settings.json").write_text(
        json.dumps({"skipDangerousModePermissionPrompt": True})
    )
    return home


def claude_command(ws: Workspace, claude: Path, bypass: bool) -> str:
    env = {
        "HOME": str(claude_home(ws)),
        "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{PORT}",
        "ANTHROPIC_API_KEY": KEY,
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_ERROR_REPORTING": "1",
    }
    if bypass:
        env["IS_SANDBOX"] = "1"  # root may skip permissions only in a sandbox
    command = "env " + " ".join(f"{k}={v}" for k, v in env.items()) + f" {claude}"
    # Claude Code 2.1.330 starts in "auto mode", which approves commands by itself;
    # "manual" asks a person, as older versions did by default.
    return command + (" --dangerously-skip-permissions" if bypass else " --permission-mode manual")


def codex_command(ws: Workspace, codex: Path, bypass: bool) -> str:
    """CODEX_HOME with a provider on the loopback (AGENT_CLIS.md)."""
    home = ws.root.parent / "codex-home"
    home.mkdir(exist_ok=True)
    (home / "config.toml").write_text(
        'model = "fake-model"\n'
        'model_provider = "fake"\n'
        # without bypass, writes need the sandbox lifted, and the model must ask for that
        f'approval_policy = "{"never" if bypass else "on-request"}"\n'
        f'sandbox_mode = "{"danger-full-access" if bypass else "read-only"}"\n'
        "check_for_update_on_startup = false\n\n"
        "[model_providers.fake]\n"
        'name = "fake"\n'
        f'base_url = "http://127.0.0.1:{PORT}/v1"\n'
        'wire_api = "responses"\n'
        'env_key = "FAKE_API_KEY"\n\n'
        "[features]\n"
        "daemon_auto_start = false\n\n"
        f'[projects."{ws.root}"]\n'
        'trust_level = "trusted"\n'
    )
    return f"env CODEX_HOME={home} HOME={home} FAKE_API_KEY=dummy {codex}"


def gemini_command(ws: Workspace, gemini: Path, bypass: bool) -> str:
    """A HOME whose settings pick API-key auth and trust the workspace (AGENT_CLIS.md)."""
    home = ws.root.parent / "gemini-home"
    (home / ".gemini").mkdir(parents=True, exist_ok=True)
    (home / ".gemini" / "settings.json").write_text(
        json.dumps(
            {
                "security": {"auth": {"selectedType": "gemini-api-key"}},
                "general": {"disableAutoUpdate": True, "disableUpdateNag": True},
                "telemetry": {"enabled": False},
                "privacy": {"usageStatisticsEnabled": False},
            }
        )
    )
    (home / ".gemini" / "trustedFolders.json").write_text(
        json.dumps({str(ws.root): "TRUST_FOLDER"})
    )
    env = {
        "HOME": str(home),
        "GEMINI_API_KEY": "dummy",
        "GOOGLE_GEMINI_BASE_URL": f"http://127.0.0.1:{PORT}",
        "GEMINI_CLI_NO_RELAUNCH": "true",
    }
    # With CI=true in its environment (as on a CI runner) Gemini CLI runs headless and exits.
    command = "env -u CI -u CONTINUOUS_INTEGRATION "
    command += " ".join(f"{k}={v}" for k, v in env.items()) + f" {gemini}"
    return command + (" --yolo" if bypass else "")


def qwen_command(ws: Workspace, qwen: Path, bypass: bool) -> str:
    """An OpenAI-compatible provider on the loopback, from the environment (AGENT_CLIS.md)."""
    home = ws.root.parent / "qwen-home"
    home.mkdir(exist_ok=True)
    env = {
        "HOME": str(home),
        "OPENAI_API_KEY": "dummy",
        "OPENAI_BASE_URL": f"http://127.0.0.1:{PORT}/v1",
        "OPENAI_MODEL": "fake-model",
    }
    command = "env " + " ".join(f"{k}={v}" for k, v in env.items()) + f" {qwen}"
    return command + (" --yolo" if bypass else "")


def configure(
    ws: Workspace,
    cli: tuple[str, Path],
    bypass: bool = True,
    restart: bool = False,
    on_permission: str = "wait",
) -> None:
    name, binary = cli
    make = {
        "claude": claude_command,
        "codex": codex_command,
        "gemini": gemini_command,
        "qwen": qwen_command,
    }[name]
    ws.write_config(
        {
            "agent": {
                "window": 3,
                "command": make(ws, binary, bypass),
                "profile": name,
                "restart": restart,
                "on_permission": on_permission,
            }
        }
    )


def prompts(log: Path) -> Counter[str]:
    if not log.exists():
        return Counter()
    records = [json.loads(line) for line in log.read_text().splitlines()]
    return Counter(r["marker"] for r in records if r["event"] == "prompt")


def test_a_chained_queue_completes_each_prompt_submitted_once(
    workspace: Workspace, offline: Path, cli: tuple[str, Path]
) -> None:
    ws = workspace
    configure(ws, cli)
    big = "\n".join(
        f"Step {i}: keep `x; $HOME \"quoted\" 'single'` as it is; Enter; C-c;" for i in range(80)
    )
    assert len(big.encode()) >= 4096
    ws.write_queue(
        "q.yaml",
        [
            {"id": "CC-1", "agent": "agent", "prompt": "Append the report.", "report": ["Tests"]},
            {
                "id": "CC-2",
                "agent": "agent",
                "prompt": big,
                "after": ["CC-1"],
                "report": ["Notes"],
            },
        ],
    )
    result = ws.cli("start", "--plain", "--exit-when-done", timeout=300)
    assert result.returncode == 0, result.stdout[-3000:]
    assert ws.statuses() == {"CC-1": "done", "CC-2": "done"}
    assert prompts(offline) == Counter({"[orchestrate CC-1 #1]": 1, "[orchestrate CC-2 #1]": 1})
    board = ws.board.read_text()
    assert "### TODO-CC-2: COMPLETED ✅\n**Date**: done by a real CLI" in board
    assert "**Notes**: done by a real CLI" in board
    records = [json.loads(line) for line in offline.read_text().splitlines()]
    assert any(r["event"] == "prompt" and r["chars"] > 4096 for r in records)


def test_a_permission_dialog_is_detected_and_left_alone(
    workspace: Workspace, offline: Path, cli: tuple[str, Path]
) -> None:
    ws = workspace
    configure(ws, cli, bypass=False)
    ws.write_queue("q.yaml", [{"id": "PD-1", "agent": "agent", "prompt": "Append the report."}])
    with ws.running():
        wait_until(
            lambda: "agent waits for a person" in ws.journal(),
            120,
            "the permission dialog",
        )
        # The status is published within a second of the journal's line.
        wait_until(
            lambda: ws.status()["agents"][0]["state"] == "waiting-for-input",
            10,
            "the agent shown waiting for a person",
        )
        assert prompts(offline) == Counter({"[orchestrate PD-1 #1]": 1})
        records = [json.loads(line) for line in offline.read_text().splitlines()]
        assert not any(r["event"] == "tool-result" for r in records)  # nobody approved it
        assert ws.statuses() == {"PD-1": "dispatched"}
    assert "TODO-PD-1" not in ws.board.read_text()


def test_on_permission_approve_answers_the_real_dialog(
    workspace: Workspace, offline: Path, cli: tuple[str, Path]
) -> None:
    ws = workspace
    configure(ws, cli, bypass=False, on_permission="approve")
    ws.write_queue("q.yaml", [{"id": "PA-1", "agent": "agent", "prompt": "Append the report."}])
    result = ws.cli("start", "--plain", "--exit-when-done", timeout=300)
    assert result.returncode == 0, result.stdout[-3000:]
    assert ws.statuses() == {"PA-1": "done"}
    assert prompts(offline) == Counter({"[orchestrate PA-1 #1]": 1})
    assert "(on_permission: approve)" in ws.journal()


def test_a_killed_cli_is_gone_and_restarted_with_its_task(
    workspace: Workspace, offline: Path, cli: tuple[str, Path]
) -> None:
    ws = workspace
    configure(ws, cli, restart=True)
    ws.write_queue(
        "q.yaml",
        [
            {"id": "KR-1", "agent": "agent", "prompt": "TAKE YOUR TIME, then append the report."},
        ],
    )
    with ws.running():
        wait_until(lambda: prompts(offline)["[orchestrate KR-1 #1]"] == 1, 120, "KR-1 sent")
        ws.kill_agent("3")
        wait_until(lambda: ws.statuses() == {"KR-1": "done"}, 180, "KR-1 done after a restart")
    assert prompts(offline) == Counter({"[orchestrate KR-1 #1]": 1, "[orchestrate KR-1 #2]": 1})
    log = ws.journal()
    assert "agent is gone (its program exited)" in log and "(restart 1;" in log


def server_log(log: Path) -> list[dict[str, object]]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_the_next_prompt_waits_until_the_turn_has_ended(
    workspace: Workspace, offline: Path, cli: tuple[str, Path]
) -> None:
    """The model writes the report with a tool call and then streams its answer for about
    2.4 s (Codex 0.169 shows no busy line meanwhile): each next prompt reaches the model only
    after the whole answer was streamed. Three tasks, so that the second turn runs with the
    first turn's end-of-turn line still on the screen."""
    ws = workspace
    configure(ws, cli)
    ids = ["ST-1", "ST-2", "ST-3"]
    ws.write_queue(
        "q.yaml",
        [
            {
                "id": task,
                "agent": "agent",
                "prompt": "ANSWER AT LENGTH: append the report, then sum up what you did.",
                **({"after": [ids[i - 1]]} if i else {}),
            }
            for i, task in enumerate(ids)
        ],
    )
    result = ws.cli("start", "--plain", "--exit-when-done", timeout=300)
    assert result.returncode == 0, result.stdout[-3000:]
    assert ws.statuses() == dict.fromkeys(ids, "done")

    def events() -> list[str]:
        return [
            str(r["event"]) + (f" {r['marker']}" if "marker" in r else "")
            for r in server_log(offline)
            if r["event"] in ("prompt", "answer-start", "answer-end", "answer-cut")
        ]

    # the daemon is done once ST-3 reported; the CLI goes on streaming ST-3's answer
    wait_until(lambda: len(events()) >= 3 * len(ids), 30, "the last answer streamed")
    # every answer streamed whole before the next prompt came, and nothing was cut off
    assert events() == [
        line
        for task in ids
        for line in (f"prompt [orchestrate {task} #1]", "answer-start", "answer-end")
    ], events()

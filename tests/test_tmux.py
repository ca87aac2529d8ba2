"""Delivery on a real tmux server (private socket): hostile prompts arrive byte-exact, once."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest

from orchestrator.adapters.keys import normalize
from orchestrator.adapters.tmux import Tmux, exit_status_of, server_for
from orchestrator.cli.demo import sim_command
from orchestrator.config.settings import Agent
from orchestrator.daemon.delivery import Courier, Parcel
from orchestrator.daemon.faults import Faults
from orchestrator.daemon.screen import profile_for
from orchestrator.errors import StateError, TmuxError

from .conftest import wait_until


@pytest.fixture
def tmux(socket_name: str, tmp_path: Path) -> Iterator[Tmux]:
    t = Tmux(server_for(socket_name))
    t.ensure_session("t", tmp_path)
    yield t
    t.close()
    t.kill_server()


def start_sim(tmux: Tmux, tmp_path: Path, name: str = "sim") -> tuple[str, Path]:
    log = tmp_path / f"{name}.jsonl"
    session = tmux.session_id("t")
    assert session
    pane = tmux.create_window(
        session,
        name,
        name,
        sim_command(name, tmp_path / "board.md", 0.05, "append", "--log", str(log)),
        tmp_path,
    )
    wait_until(lambda: "sim-agent" in tmux.capture(pane), 20, "the simulated agent to start")
    return pane, log


def received(log: Path) -> list[str]:
    if not log.exists():
        return []
    return [
        json.loads(line)["text"]
        for line in log.read_text(encoding="utf-8").splitlines()
        if json.loads(line)["event"] == "received"
    ]


def deliver(tmux: Tmux, pane: str, text: str) -> None:
    tmux.keys.paste(pane, text)
    tmux.keys.press_enter(pane)


HOSTILE = {
    "quotes and shell": 'it\'s "quoted" `cmd` $HOME $(rm -rf /) \\ back\\slash',
    "semicolons at line ends": "first;\nsecond ;\nthird;;\n;",
    "key names as lines": "Enter\nC-c\nC-d\nEscape\nC-m\nBSpace",
    "emoji and rtl": "✅ 🤖 done — émoji\nשלום עולם مرحبا\n\u202eRTL override",
    "bracketed paste end inside": "before\x1b[201~after\x1b[200~again",
    "control characters": "bell\x07 null\x00 backspace\x08 esc\x1b[31m red\x7f del\x9b csi",
    "crlf and cr": "one\r\ntwo\rthree",
    "tabs kept": "col1\tcol2\t\tcol4",
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_prompt_arrives_exactly_once_as_normalized(
    tmux: Tmux, tmp_path: Path, name: str
) -> None:
    pane, log = start_sim(tmux, tmp_path)
    text = f"[orchestrate H-1 #1] {name}\n" + HOSTILE[name]
    deliver(tmux, pane, text)
    got = wait_until(lambda: received(log), 20, "the prompt to arrive")
    assert got == [normalize(text)]
    assert "\x1b" not in got[0] and "\x00" not in got[0]


def test_20kb_prompt_with_everything_arrives_byte_exact(tmux: Tmux, tmp_path: Path) -> None:
    pane, log = start_sim(tmux, tmp_path)
    body = "\n".join(HOSTILE.values())
    lines = [f"[orchestrate BIG-1 #1] line {i}: {body}" for i in range(40)]
    text = "\n".join(lines)
    while len(text.encode()) < 20_000:
        text += f"\nmore; $x 'y' \"z\" Enter C-c ✅ {len(text)};"
    assert len(text.encode()) >= 20_000
    deliver(tmux, pane, text)
    got = wait_until(lambda: received(log), 30, "the 20 KB prompt to arrive")
    assert len(got) == 1
    assert got[0] == normalize(text)


def test_two_prompts_in_a_row_arrive_as_two(tmux: Tmux, tmp_path: Path) -> None:
    pane, log = start_sim(tmux, tmp_path)
    deliver(tmux, pane, "[orchestrate A #1] first\nline two")
    wait_until(lambda: len(received(log)) == 1, 20, "the first prompt")
    deliver(tmux, pane, "[orchestrate B #1] second")
    assert wait_until(lambda: received(log) if len(received(log)) == 2 else None, 20) == [
        "[orchestrate A #1] first\nline two",
        "[orchestrate B #1] second",
    ]


def test_paste_into_a_dead_pane_is_refused_and_the_server_survives(
    tmux: Tmux, tmp_path: Path
) -> None:
    session = tmux.session_id("t")
    assert session
    pane = tmux.create_window(session, "dead", "dead", "true", tmp_path)  # kept when it exits
    wait_until(lambda: tmux.panes()[pane].dead, 10, "the pane to die")
    with pytest.raises(TmuxError, match="dead"):
        tmux.keys.paste(pane, "hello")
    assert tmux.alive()
    assert pane in tmux.panes()


def test_a_shell_is_never_typed_into(tmux: Tmux, tmp_path: Path, socket_name: str) -> None:
    session = tmux.session_id("t")
    assert session
    pane = tmux.create_window(session, "sh", "sh", None, tmp_path)  # a shell
    wait_until(lambda: tmux.panes()[pane].command in ("bash", "sh", "zsh"), 10, "the shell")
    marker = tmp_path / "ran"
    for send in (
        lambda: tmux.keys.paste(pane, f"touch {marker}"),
        lambda: tmux.keys.press_enter(pane),
    ):
        with pytest.raises(TmuxError, match="runs a shell"):
            send()
    screen = tmux.capture(pane)
    assert "touch" not in screen and not marker.exists()
    buffers = subprocess.run(
        ["tmux", "-L", socket_name, "list-buffers"], capture_output=True, text=True, check=True
    )
    assert buffers.stdout == ""  # the refused text is not left behind in a buffer


def test_paste_into_a_missing_pane_is_refused(tmux: Tmux) -> None:
    with pytest.raises(TmuxError, match="gone"):
        tmux.keys.paste("%999", "hello")


def test_copy_mode_is_left_before_pasting(tmux: Tmux, tmp_path: Path, socket_name: str) -> None:
    pane, log = start_sim(tmux, tmp_path)
    subprocess.run(["tmux", "-L", socket_name, "copy-mode", "-t", pane], check=True)
    assert tmux.panes()[pane].in_mode
    deliver(tmux, pane, "[orchestrate C #1] after copy mode")
    assert wait_until(lambda: received(log), 20) == ["[orchestrate C #1] after copy mode"]


def test_windows_are_found_by_exact_name_or_index_never_by_prefix(
    tmux: Tmux, tmp_path: Path
) -> None:
    session = tmux.session_id("t")
    assert session
    agent10 = tmux.create_window(session, "agent10", "agent10", None, tmp_path)
    assert tmux.find_window(session, "agent1") is None  # tmux itself would prefix-match this
    assert tmux.find_window(session, "agent10") == agent10
    at7 = tmux.create_window(session, 7, "seven", None, tmp_path)
    assert tmux.find_window(session, 7) == at7
    assert tmux.panes()[at7].label == "7:seven"


def test_a_command_that_fails_at_once_leaves_its_window_and_last_words(
    tmux: Tmux, tmp_path: Path
) -> None:
    session = tmux.session_id("t")
    assert session
    failing = "echo starting; echo 'Invalid auth method selected.' >&2; exit 41"
    pane = tmux.create_window(session, "broken", "broken", failing, tmp_path)
    info = wait_until(
        lambda: (p := tmux.panes().get(pane)) and p.dead and p.dead_status and p, 10, "its death"
    )
    assert info.dead_status == "41" and info.label.endswith(":broken")
    assert tmux.last_lines(pane) == ["starting", "Invalid auth method selected."]
    assert tmux.find_window(session, "broken") == pane
    # a person opens a new window of that name: it is the one found, the dead one is not
    again = tmux.create_window(session, "broken", "broken", "sleep 60", tmp_path)
    assert tmux.find_window(session, "broken") == again != pane
    # a window made by create_window without `keep` closes with its command
    gone = tmux.create_window(session, 9, "nine", "true", tmp_path, keep=False)
    wait_until(lambda: gone not in tmux.panes(), 10, "the window to close")


def test_a_named_window_takes_the_first_free_index(tmux: Tmux, tmp_path: Path) -> None:
    session = tmux.session_id("t")
    assert session
    tmux.create_window(session, 2, "two", None, tmp_path)
    first = tmux.create_window(session, "x", "x", "sleep 60", tmp_path)
    second = tmux.create_window(session, "y", "y", "sleep 60", tmp_path)
    assert (tmux.panes()[first].label, tmux.panes()[second].label) == ("1:x", "3:y")


def test_normalize_table() -> None:
    assert normalize("a\r\nb\rc\n") == "a\nb\nc\n"
    assert normalize("x\x1b[201~y") == "x[201~y"
    assert normalize("t\tu\x00v\x7fw\x85z") == "t\tuvwz"
    assert normalize("✅ émoji") == "✅ émoji"


def _zombie(argv: list[str]) -> subprocess.Popen[bytes]:
    """A child of ours that has exited and is not reaped yet."""
    child = subprocess.Popen(argv)
    wait_until(lambda: Path(f"/proc/{child.pid}/stat").read_text().split(") ")[1][0] == "Z", 10)
    return child


def test_the_exit_status_of_a_zombie_tmux_has_not_collected() -> None:
    ours = str(os.getpid())
    exited = _zombie(["sh", "-c", "exit 41"])
    killed = _zombie(["sh", "-c", "kill -9 $$"])
    try:
        assert exit_status_of(exited.pid, ours) == "41"
        assert exit_status_of(exited.pid, "1") == ""  # not a child of that server: not asked
        assert exit_status_of(killed.pid, ours) == ""  # a signal is no exit status
    finally:
        assert (exited.wait(), killed.wait()) == (41, -9)
    assert exit_status_of(exited.pid, ours) == ""  # reaped: nothing left to read
    assert exit_status_of(os.getpid(), ours) == ""  # living


class FlakyStore:
    """A store whose transactions fail while `full` (a full disk), recording the stages it
    committed: what the Courier needs of the store, and no more."""

    def __init__(self) -> None:
        self.full = False
        self.stages: list[str] = []

    @contextmanager
    def transaction(self) -> Iterator[None]:
        if self.full:
            raise StateError("state database: database or disk is full")
        yield

    def set_stage(self, task: str, n: int, stage: str, now: float, kind: str) -> None:
        self.stages.append(stage)


def test_no_enter_goes_before_the_pastes_stage_is_committed(tmux: Tmux, tmp_path: Path) -> None:
    """A paste whose `pasted` stage cannot be committed (a full disk) waits: were its Enter to
    go first, a crash then would leave `sending` and no tmux tag, which recovery reads as a
    paste that never happened, and the text would be sent twice."""
    pane, log = start_sim(tmux, tmp_path)
    store = FlakyStore()
    courier = Courier(tmux, store, time.time, time.sleep, Faults(""))  # type: ignore[arg-type]
    generic = Agent(name="sim", window="sim", command=None, profile="generic")
    profile = replace(profile_for(generic), gap=0.05)
    store.full = True
    (delivery,) = courier.start_all([Parcel("T", 1, "prompt", pane, "the text", profile, 1.0)])
    wait_until(lambda: delivery.call is not None and delivery.call.done(), 20, "the paste")
    for _ in range(3):
        with pytest.raises(StateError):
            courier.step_all([delivery])
        time.sleep(0.1)  # past the gap: Enter would be due
    assert tmux.keys.pending_paste(pane)[0] == "T/1/prompt/1.0", "no Enter went"
    assert received(log) == [] and store.stages == []
    store.full = False
    assert courier.finish(delivery) is True
    assert store.stages == ["pasted", "sent"]
    wait_until(lambda: received(log) == ["the text"], 20, "the text, once")

"""Profiles as data, and reading a screen into a state (screens as AGENT_CLIS.md measured)."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import pytest

from orchestrator.config import notation, queueset
from orchestrator.config import settings as config
from orchestrator.core.lifecycle import output_still, turn_over
from orchestrator.core.reading import BUSY, IDLE, RATE_LIMITED, STARTING, UNKNOWN, WAITING, Reading
from orchestrator.daemon.screen import classify, profile_for

RULE = "─" * 60


def agent(profile: str, **overrides: object) -> config.Agent:
    return config.Agent("x", 1, None, profile, **overrides)  # type: ignore[arg-type]


class Case(NamedTuple):
    test_id: str
    profile: str
    screen: str
    state: str


CASES = [
    Case("claude idle", "claude", f"{RULE}\n❯\xa0\n{RULE}\n  ? for shortcuts", IDLE),
    Case(
        "claude busy keeps its input box",
        "claude",
        f"· Schlepping… (3s · esc to interrupt)\n{RULE}\n❯\xa0\n{RULE}",
        BUSY,
    ),
    Case(
        "claude permission",
        "claude",
        "Bash command\n  echo hi >> CLAUDE.md\nDo you want to proceed?\n❯ 1. Yes\n  2. No",
        WAITING,
    ),
    Case("claude > is not its prompt", "claude", "> \n", UNKNOWN),
    Case(
        "codex loading is not ready",
        "codex",
        ">_ OpenAI Codex (loading)\n\n› Ask Codex to do anything",
        STARTING,
    ),
    Case("codex idle", "codex", "› Ask Codex to do anything\n\n  gpt-5 · /work/ws", IDLE),
    Case("codex working", "codex", "• Working (2s • esc to interrupt)\n› Ask Codex", BUSY),
    Case(
        "codex approval",
        "codex",
        "Would you like to run the following command?\n› 1. Yes, proceed (y)",
        WAITING,
    ),
    Case("gemini idle", "gemini", " >   Type your message or @path/to/file", IDLE),
    Case(
        "gemini thinking",
        "gemini",
        "⠏ Thinking... (esc to cancel, 2s)\n >   Type your message",
        BUSY,
    ),
    Case("gemini allow", "gemini", "Allow execution of [Shell]?\n● 1. Allow once", WAITING),
    Case("qwen idle", "qwen", f"{RULE}\n*   Type your message or @path/to/file\n{RULE}", IDLE),
    # after a task it suggests what to type next, in place of the placeholder (measured, 0.24.4)
    Case("qwen suggesting", "qwen", f"  ◆︎ Done.\n{RULE}\n* Run the tests\n{RULE}", IDLE),
    Case("qwen transcript bullet", "qwen", "  ◆︎ Steps:\n* first\n> quoted", UNKNOWN),
    Case("qwen busy", "qwen", "… (2s · esc to cancel)\n> Type your message", BUSY),
    Case("qwen allow", "qwen", "Allow execution of: 'echo'?\n› 1. Yes, allow once", WAITING),
    Case("opencode idle", "opencode", "  Ask anything…\n  ctrl+p commands", IDLE),
    Case("opencode busy", "opencode", "  esc interrupt\n  Ask anything…", BUSY),
    Case("aider idle", "aider", "Added CLAUDE.md to the chat\ndiff> ", IDLE),
    Case("aider question", "aider", "Create new file? (Y)es/(N)o [Yes]:", WAITING),
    Case(
        "claude usage limit",
        "claude",
        "Claude usage limit reached. Your limit will reset at 3pm (Europe/Paris)",
        RATE_LIMITED,
    ),
    Case(
        "claude session limit",
        "claude",
        f"You’ve hit your session limit · resets 1:20am (Europe/Vienna)\n{RULE}\n❯\xa0",
        RATE_LIMITED,
    ),
    Case("codex usage limit", "codex", "■ You've hit your usage limit. Try again", RATE_LIMITED),
    Case("gemini quota", "gemini", "✕ [API Error: 429 Quota exceeded for x]", RATE_LIMITED),
    Case("qwen 429", "qwen", "✕ [API Error: 429 Too Many Requests]", RATE_LIMITED),
    Case("aider rate limit", "aider", "litellm.RateLimitError: slow down\ndiff> ", RATE_LIMITED),
    Case(
        "an agent writing about rate limits is idle",
        "gemini",
        "rate limits\n >   Type your message",
        IDLE,
    ),
    Case("sim idle", "sim", "sim-agent a: a simulated coding agent\n> ", IDLE),
    Case("sim busy", "sim", "● received [orchestrate T #1]\n✻ Working… (esc to interrupt)", BUSY),
    Case("sim dialog", "sim", "Do you want to proceed? ❯ 1. Yes  2. No", WAITING),
    Case("generic reads nothing", "generic", "anything at all\n> ", UNKNOWN),
]


@pytest.mark.parametrize("case", CASES, ids=[c.test_id for c in CASES])
def test_classify(case: Case) -> None:
    assert classify(case.screen, profile_for(agent(case.profile))).state == case.state


def test_every_shipped_profile_loads_and_only_generic_reads_no_screen() -> None:
    for name in notation.PROFILES:
        profile = profile_for(agent(name))
        assert profile.gap > 0 and profile.settle >= 0
        assert profile.reads_screen == (name != "generic")


def test_the_line_and_what_it_says_of_the_reset_are_reported() -> None:
    claude = profile_for(agent("claude"))
    reading = classify(
        "x\nYou've hit your session limit · resets 5:10pm (Europe/Paris)\n/upgrade\n❯\xa0", claude
    )
    assert reading.state == RATE_LIMITED and reading.line.startswith("You've hit your session")
    assert reading.reset == reading.line  # nothing cut: the next line is not part of it
    wrapped = classify(
        "■ You've hit your usage limit. Upgrade to Pro (https://x) or try again in 2 days 17\n"
        "minutes.\n› Ask Codex to do anything",
        profile_for(agent("codex")),
    )
    assert wrapped.reset is not None and wrapped.reset.endswith("in 2 days 17 minutes.")
    dialog = classify("a\nDo you want to proceed?\n❯ 1. Yes", claude)
    assert dialog.line == "Do you want to proceed?"


def test_notices_are_counted_and_old_ones_skipped() -> None:
    sim = profile_for(agent("sim"))
    screen = "usage limit reached\nwork\nusage limit reached · resets in 5s\n> "
    assert classify(screen, sim).notices == 2
    assert classify(screen, sim, stale=1).state == RATE_LIMITED
    assert classify(screen, sim, stale=1).line.endswith("resets in 5s")
    assert classify(screen, sim, stale=2).state == IDLE


def test_orchestrate_yaml_overrides_a_profile(tmp_path: Path) -> None:
    (tmp_path / "queues").mkdir()
    (tmp_path / "orchestrate.yaml").write_text(
        "agents:\n"
        "  mine:\n"
        "    profile: claude\n"
        "    submit: {gap: 0.5}\n"
        "    screen:\n"
        "      idle: ['^READY$']\n"
    )
    settings = config.load_settings(tmp_path)
    profile = profile_for(settings.agents[0])
    assert profile.gap == 0.5 and profile.settle == 1.0
    assert classify("READY", profile).state == IDLE
    assert classify("x\nesc to interrupt\nREADY", profile).state == BUSY  # the rest is kept


def test_a_bad_pattern_in_an_override_is_reported_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "queues").mkdir()
    (tmp_path / "orchestrate.yaml").write_text(
        "agents:\n  mine:\n    profile: codex\n    screen:\n      busy: ['(unclosed']\n"
    )
    _, problems = queueset.check_workspace(tmp_path)
    (problem,) = problems
    assert str(problem).startswith(f"{tmp_path / 'orchestrate.yaml'}:5: agent mine: 'busy'")
    assert "is not a regular expression" in str(problem)


def test_a_text_is_held_while_its_marker_or_a_placeholder_shows_and_the_agent_is_not_busy() -> None:
    sim = profile_for(agent("sim"))
    mark = "[orchestrate T #1]"
    assert classify(f"sim-agent\n> {mark} title  [+20 lines]\n", sim).holds(mark)
    assert not classify(f"● received {mark}\n> \n", sim).holds(mark)  # submitted, box empty
    assert not classify(f"> {mark}\n✻ Working… (esc to interrupt)", sim).holds(mark)  # busy
    claude = profile_for(agent("claude"))
    assert classify(f"{RULE}\n❯\xa0[Pasted text #1 +40 lines]\n{RULE}", claude).holds(mark)


# Codex 0.169.0's screen, as measured (docs/AGENT_CLIS.md): no busy line while it streams the
# answer that follows the report; "Worked for" when the turn ends.
CODEX_FOOT = "\n\n› Ask Codex to do anything\n\n  fake-model default · /ws · Task\n  ← for agents"
CODEX_TURN_1 = (
    "  >_ OpenAI Codex (v0.169.0)\n\n› [orchestrate ST-1 #1] Measure\n\n"
    "• Ran printf '%s\\n' '### TODO-ST-1: COMPLETED ✅' >> CLAUDE.md\n  └ (no output)\n\n"
    "• Done: the report is on the board.\n  Summary line 2 of 12: what was done.\n"
)
CODEX_END_1 = CODEX_TURN_1 + "  Summary line 12 of 12: what was done.\n\n  Worked for 2s • 21:48\n"
CODEX_TURN_2 = (
    CODEX_END_1 + "\n\n› [orchestrate ST-2 #1] Measure\n\n• Ran printf >> CLAUDE.md\n\n"
    "• Done: the report is on the board.\n"
)
CODEX_END_2 = CODEX_TURN_2 + "  Summary line 12 of 12: what was done.\n\n  Worked for 2s • 21:49\n"
# Claude Code 2.1.330: its busy line holds while it streams; "✻ <verb> for Ns" ends the turn
CLAUDE_BOX = f"{RULE}\n❯\xa0\n{RULE}\n  ⏵⏵ bypass permissions on (shift+tab to cycle)"
CLAUDE_END_1 = (
    "❯ [orchestrate ST-1 #1] Measure\n\n● Done: the report is on the board.\n\n"
    "✻ Cogitated for 3s · done 9:51 PM\n\n"
)
CLAUDE_TURN_2 = (
    CLAUDE_END_1 + "❯ [orchestrate ST-2 #1] Measure\n\n● Done: the report is on the board.\n"
)


class Turn(NamedTuple):
    test_id: str
    profile: str
    screen: str
    state: str
    ended: bool


TURNS = [
    Turn(
        "codex streams after its report: idle, not ended",
        "codex",
        CODEX_TURN_1 + CODEX_FOOT,
        IDLE,
        False,
    ),
    Turn("codex worked-for ends the turn", "codex", CODEX_END_1 + CODEX_FOOT, IDLE, True),
    Turn(
        "codex: the first turn's line does not end the second",
        "codex",
        CODEX_TURN_2 + CODEX_FOOT,
        IDLE,
        False,
    ),
    Turn("codex second turn ended", "codex", CODEX_END_2 + CODEX_FOOT, IDLE, True),
    Turn(
        "codex working over an old line",
        "codex",
        CODEX_END_1 + "• Working (0s • esc to interrupt)" + CODEX_FOOT,
        BUSY,
        True,
    ),
    Turn("claude turn ended", "claude", CLAUDE_END_1 + CLAUDE_BOX, IDLE, True),
    Turn(
        "claude turn ended, a notice under its line",
        "claude",
        CLAUDE_END_1 + "     tmux focus-events off · add 'set -g focus-events on'\n" + CLAUDE_BOX,
        IDLE,
        True,
    ),
    Turn(
        "claude: the first turn's line does not end the second",
        "claude",
        CLAUDE_TURN_2 + "\n" + CLAUDE_BOX,
        IDLE,
        False,
    ),
    Turn(
        "sim reported",
        "sim",
        "● received [orchestrate A #1] (90 chars)\n✓ reported ### TODO-A\n> ",
        IDLE,
        True,
    ),
    Turn("sim silent", "sim", "● received x (9 chars)\n○ done, nothing reported\n> ", IDLE, True),
    Turn(
        "sim: an old report line above a new prompt",
        "sim",
        "✓ reported ### TODO-A\n● received [orchestrate B #1] (90 chars)\n> ",
        IDLE,
        False,
    ),
    Turn(
        "gemini draws no end line", "gemini", " >   Type your message or @path/to/file", IDLE, False
    ),
]


@pytest.mark.parametrize("case", TURNS, ids=[c.test_id for c in TURNS])
def test_the_end_of_the_latest_turn_is_read(case: Turn) -> None:
    reading = classify(case.screen, profile_for(agent(case.profile)))
    assert (reading.state, reading.ended) == (case.state, case.ended)


class Rule(NamedTuple):
    test_id: str
    reading: Reading
    still: float
    over: bool


RULES = [
    Rule("idle and its end line shows: at once", Reading(IDLE, ended=True), 0.0, True),
    Rule("idle, no end line, still too short", Reading(IDLE), 2.9, False),
    Rule("idle, no end line, still for quiet", Reading(IDLE), 3.0, True),
    Rule("busy, whatever else", Reading(BUSY, ended=True), 60.0, False),
    Rule("a dialog is no end of turn", Reading(WAITING, ended=True), 60.0, False),
    Rule("an unknown screen is no end of turn", Reading(UNKNOWN), 60.0, False),
    Rule("starting is no end of turn", Reading(STARTING), 60.0, False),
]


@pytest.mark.parametrize("case", RULES, ids=[c.test_id for c in RULES])
def test_a_prompt_goes_only_once_the_turn_is_over(case: Rule) -> None:
    codex = profile_for(agent("codex"))
    assert codex.quiet == 3.0
    assert turn_over(case.reading, case.still, codex.pace) == case.over


def test_output_is_still_from_the_end_of_the_second_tmux_names() -> None:
    # window_activity 100 means a last output in [100, 101): still for at least now - 101
    assert output_still(100.0, 100.5) == 0.0
    assert output_still(100.0, 101.0) == 0.0
    assert output_still(100.0, 103.25) == 2.25


def test_quiet_and_turn_end_are_overridden_in_orchestrate_yaml(tmp_path: Path) -> None:
    (tmp_path / "queues").mkdir()
    (tmp_path / "orchestrate.yaml").write_text(
        "agents:\n"
        "  mine:\n"
        "    profile: generic\n"
        "    submit: {quiet: 2.5}\n"
        "    screen:\n"
        "      turn_end: ['^DONE$']\n"
    )
    profile = profile_for(config.load_settings(tmp_path).agents[0])
    assert profile.quiet == 2.5 and profile.reads_screen
    assert classify("DONE", profile).ended
    assert profile_for(agent("generic")).quiet == 0.0  # generic: as fast as before by default

"""What an agent's screen asks of the daemon after a look (pure): was a delivery taken (Enter
once more if the text still sits in the input box, never blind), and is the agent waiting
for a person (told once; with `on_permission: approve`, answered).

`attend` takes what is kept of one agent between looks (`Watch`), what its screen says now
and what it holds, and returns the next `Watch` with the actions for the shell: keys to send
(`Approve`, `PressEnter`) and lines to journal (`Say`). A key that cannot be sent leaves the
watch the action names as `kept` (as if it had not been tried) and its journal line unsaid.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .reading import BUSY, RATE_LIMITED, WAITING, Reading

CONFIRM_WITHIN = 10.0  # seconds for a delivery to show on the agent's screen
APPROVE_AGAIN = 3.0  # seconds before a dialog still up after approval is approved again


@dataclass(frozen=True)
class Unconfirmed:
    """A text sent to an agent whose screen has not yet shown that it took it."""

    task: str
    n: int
    label: str  # how the journal names the delivery (prompt.label)
    marker: str
    sent: float
    pressed_again: bool = False


@dataclass(frozen=True)
class Watch:
    """What is kept of one agent's screen between two looks."""

    screen: str | None = None  # the state its screen last read as
    waiting_since: float | None = None  # since when a dialog is up
    approved: float | None = None  # when the dialog up was last approved
    unconfirmed: Unconfirmed | None = None  # its last delivery, until its screen takes it


@dataclass(frozen=True)
class Manner:
    """How the agent is answered: from its configuration and its profile."""

    approve: tuple[str, ...] | None  # the keys that approve a dialog; None: a person answers
    settle: float  # a dialog ignores keys this long after it appears
    window: str  # where a person finds it ("index:name")


@dataclass(frozen=True)
class Say:
    kind: str
    message: str
    task: str | None = None


@dataclass(frozen=True)
class Approve:
    keys: tuple[str, ...]
    said: Say  # journaled once the keys went out
    kept: Watch  # the watch if they could not be sent


@dataclass(frozen=True)
class PressEnter:
    said: Say
    kept: Watch


Action = Say | Approve | PressEnter


def attend(
    agent: str,
    watch: Watch,
    reading: Reading | None,
    holding: str | None,
    in_flight: bool,
    manner: Manner,
    now: float,
) -> tuple[Watch, tuple[Action, ...]]:
    """One look at `agent`: its screen's `reading` (None if not read this time), the task it
    `holds`, and whether its unconfirmed delivery is still the task's attempt in flight (else a
    report moved it on: the text was taken)."""
    actions: list[Action] = []
    if reading is not None:
        watch, said = _dialog(agent, watch, reading, holding, manner, now)
        actions += said
    if watch.unconfirmed is not None:
        watch, said = _confirm(agent, watch, watch.unconfirmed, reading, in_flight, manner, now)
        actions += said
    return watch, tuple(actions)


def _dialog(
    agent: str, watch: Watch, reading: Reading, holding: str | None, manner: Manner, now: float
) -> tuple[Watch, list[Action]]:
    before, watch = watch.screen, replace(watch, screen=reading.state)
    if reading.state != WAITING:
        watch = replace(watch, waiting_since=None, approved=None)
        back: list[Action] = [Say("agent", f"{agent}: {reading.state} again")]
        return watch, back if before == WAITING else []
    since = watch.waiting_since if watch.waiting_since is not None else now
    watch = replace(watch, waiting_since=since)
    if manner.approve is None:
        if before == WAITING:
            return watch, []
        message = (
            f"{agent} waits for a person: {reading.line!r}; nothing is typed into it "
            f"(tmux attach, window {manner.window})"
        )
        return watch, [Say(WAITING, message, holding)]
    # A dialog ignores keys for a moment after it appears (a guard against keys meant for
    # the input box): let it settle, and press again if it is still up a while later.
    last = watch.approved
    if now - since < manner.settle or (last is not None and now - last < APPROVE_AGAIN):
        return watch, []
    more = " again: it was still up" if last is not None else ""
    said = Say(
        "approved",
        f"{agent}: approved {reading.line!r} with {' '.join(manner.approve)}{more} "
        "(on_permission: approve)",
        holding,
    )
    return replace(watch, approved=now), [Approve(manner.approve, said, kept=watch)]


def _confirm(
    agent: str,
    watch: Watch,
    sent: Unconfirmed,
    reading: Reading | None,
    in_flight: bool,
    manner: Manner,
    now: float,
) -> tuple[Watch, list[Action]]:
    """Did the agent take the text? Busy, a dialog, or an emptied input box say yes. The text
    still in the input box of an agent that is not busy gets Enter once more, never blind;
    past CONFIRM_WITHIN the delivery is journaled as unconfirmed."""
    taken = replace(watch, unconfirmed=None)
    if not in_flight:
        return taken, []
    if reading is not None:
        if reading.state in (BUSY, WAITING, RATE_LIMITED) or not reading.holds(sent.marker):
            return taken, []
        if not sent.pressed_again:
            said = Say(
                "resubmitted",
                f"{sent.label}: still in {agent}'s input box: pressed Enter once more",
                sent.task,
            )
            pressed = replace(watch, unconfirmed=replace(sent, pressed_again=True))
            return pressed, [PressEnter(said, kept=watch)]
    if now - sent.sent > CONFIRM_WITHIN:
        message = (
            f"{sent.label}: {agent}'s screen has not shown that it took the text within "
            f"{CONFIRM_WITHIN:.0f}s; look at window {manner.window}"
        )
        return taken, [Say("unconfirmed", message, sent.task)]
    return watch, []

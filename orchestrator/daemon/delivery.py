"""Exactly-once delivery of a text into an agent's pane.

Every send is recorded before its keys go out (stage `sending`, by the caller, in the same
transaction as the decision to send), and its stage is committed after each step:
`pasted` once the text is in the input box, `sent` once Enter went out. tmux keeps its own
record, which a crash cannot split from the keys: the command that pastes tags the pane with
the send, the one that presses Enter removes the tag. After a crash, even `kill -9`,
`recover` decides from all it can see (the stage, that tag, the agent's screen: its state,
the marker or a paste placeholder in the input line, the marker higher up) what reached the
agent, so that a text is never lost and never sent twice, and says how it decided.

Where the agent's screen is read, Enter waits until the paste shows: a TUI that has not drawn
the paste yet may not have taken it in (qwen-code then submitted its "[Pasted Content N
chars]" placeholder instead of the text).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from concurrent.futures import Future, wait
from dataclasses import dataclass
from functools import partial

from ..adapters.schema import PASTED, PROMPT, SENT, Attempt
from ..adapters.store import Store
from ..adapters.tmux import Tmux
from ..core.reading import BUSY, WAITING, Reading
from ..errors import TmuxError
from ..prompt import label, last_line, marker
from .faults import Faults
from .screen import Profile, classify

LANDING_LIMIT = 3.0  # seconds a paste may take to show before Enter goes anyway
LANDING_POLL = 0.05
# What the real CLIs show in their input line instead of a pasted text (Claude Code
# "[Pasted text #1 +10 lines]", "[Pasted text +10 lines]", qwen-code "[Pasted Content 1234
# chars]"): looked for on the input line when the profile names no `pending` patterns.
PLACEHOLDERS = re.compile(
    r"\[Pasted text #\d+ \+\d+ lines\]|\[Pasted text \+\d+ lines\]|\[Pasted Content \d+ chars\]"
)


@dataclass(frozen=True)
class Sent:
    """What became of a delivery: `kind` and `message` are for the journal. `pressed`: Enter
    went out just now (its screen may confirm it); `requeue`: the text never reached the agent
    and must not go now (it is busy, or a dialog is up): the task goes back to the queue."""

    kind: str
    message: str
    pressed: bool = False
    requeue: bool = False


def in_input_line(reading: Reading, mark: str, text: str, profile: Profile) -> str:
    """How the screen shows that `text` still waits in the input box ("" if it does not): its
    marker or its last line on the input line (the last line with text), or a paste
    placeholder (the profile's `pending` patterns; without any, the real CLIs' wordings on
    the input line). Never while the agent is busy. Pure."""
    if reading.state == BUSY:
        return ""
    tail = last_line(text).strip()[-40:]
    if mark in reading.bottom:
        return "its marker on the input line"
    if tail and tail in reading.bottom:
        return "its last line on the input line"
    if reading.placeholder or (not profile.pending and PLACEHOLDERS.search(reading.bottom)):
        return "a paste placeholder in the input box"
    return ""


@dataclass
class Delivery:
    """One text on its way into a pane, from its paste to its Enter: the loop takes it on
    with `Courier.step_all` when `next_at` comes or its tmux call has returned, so that no
    agent waits for another's, and the loop waits for no tmux call."""

    task: str
    n: int
    kind: str
    pane: str
    profile: Profile
    next_at: float  # when the next step is due (while no call is under way)
    before: str | None = None  # the screen before the paste (None: the profile reads none)
    landing: str | None = None  # while waiting for the paste to show: the screen last seen
    limit: float = 0.0  # when Enter goes even though the paste has not shown
    shown: bool = True  # the paste showed (or there was nothing to look at)
    staged: bool = False  # its paste went, and its stage `pasted` is committed
    entered: bool = False  # Enter went out (its stage may still wait to be committed)
    call: Future[object] | None = None  # the tmux call under way: a paste, a look, Enter
    doing: str = ""  # which: PASTING, LOOKING or ENTERING


PASTING, LOOKING, ENTERING = "pasting", "looking", "entering"


@dataclass(frozen=True)
class Parcel:
    """A text to deliver: the send it is (task, attempt, kind) and where it goes."""

    task: str
    n: int
    kind: str
    pane: str
    text: str
    profile: Profile
    created: float | None = None  # when its attempt was recorded (None: look it up)


@dataclass(frozen=True)
class Outcome:
    """A delivery that left the outbox: submitted, or (`error`) refused by its pane."""

    agent: str
    delivery: Delivery
    chars: int
    error: TmuxError | None = None


class Outbox:
    """The deliveries in flight, at most one per agent, each taken on when its next step is
    due: many agents' pastes, gaps and Enters overlap, and the loop never sleeps for one."""

    def __init__(self, courier: Courier) -> None:
        self.courier = courier
        self.flying: dict[str, tuple[Delivery, int]] = {}

    def begin(self, agent: str, delivery: Delivery, chars: int) -> None:
        self.flying[agent] = (delivery, chars)

    def drop(self, agent: str, error: TmuxError) -> list[Outcome]:
        """The agent's delivery in flight, given up: its program is gone, and its Enter must
        not go to the one started in its place."""
        if agent not in self.flying:
            return []
        delivery, chars = self.flying.pop(agent)
        return [Outcome(agent, delivery, chars, error)]

    def due(self) -> float | None:
        """When the next step of any delivery is due (None: none, or only tmux calls under
        way: their ends wake the loop)."""
        return min((d.next_at for d, _ in self.flying.values() if d.call is None), default=None)

    def advance(self, wait: bool = False, agent: str | None = None) -> list[Outcome]:
        """Every step that is due (of `agent`'s delivery only, if named), all at once; with
        `wait`, each delivery to its end, sleeping between steps (a stop, or a new text for
        the agent)."""
        names = [name for name in self.flying if agent is None or name == agent]
        if not wait:
            steps = self.courier.step_all([self.flying[name][0] for name in names])
            return [
                o for name, step in zip(names, steps, strict=True) if (o := self._left(name, step))
            ]
        done: list[Outcome] = []
        for name in names:
            step = self.courier.finish(self.flying[name][0])
            done += [o for o in [self._left(name, step)] if o]
        return done

    def _left(self, name: str, step: bool | TmuxError) -> Outcome | None:
        """The delivery's outcome, if that step ended it (it leaves the outbox)."""
        if step is False:
            return None
        delivery, chars = self.flying.pop(name)
        return Outcome(name, delivery, chars, step if isinstance(step, TmuxError) else None)


class Courier:
    def __init__(
        self,
        tmux: Tmux,
        store: Store,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
        faults: Faults,
        wake: Callable[[], None] = lambda: None,
    ) -> None:
        self.tmux = tmux
        self.store = store
        self.clock = clock
        self.sleep = sleep
        self.faults = faults
        self.wake = wake  # called (from another thread) when a delivery's tmux call returns

    def send(self, task: str, n: int, kind: str, pane: str, text: str, profile: Profile) -> bool:
        """`start` and every step of one delivery, waiting between them (recovery at start,
        before the loop runs). False when the paste did not show within LANDING_LIMIT seconds
        (Enter went anyway). Raises TmuxError if the pane refused a step."""
        (delivery,) = self.start_all([Parcel(task, n, kind, pane, text, profile)])
        finished = self.finish(delivery)
        if isinstance(finished, TmuxError):
            raise finished
        return delivery.shown

    def finish(self, delivery: Delivery) -> bool | TmuxError:
        """Every step of the delivery, waiting for each (True, or the pane's refusal)."""
        step = self.step_all([delivery])[0]
        while step is False:
            if delivery.call is not None:
                wait([delivery.call])
            else:
                self.sleep(max(0.0, delivery.next_at - self.clock()))
            step = self.step_all([delivery])[0]
        return step

    def start_all(self, parcels: Sequence[Parcel]) -> list[Delivery]:
        """The first step of each delivery: its paste, under way in tmux when this returns
        (each pane's through tmux clients of its own; the loop waits for none of them)."""
        begun = []
        for p in parcels:
            tag = self._tag(p.task, p.n, p.kind, p.created)  # the store: in this thread
            self.faults.reached("recorded")
            delivery = Delivery(p.task, p.n, p.kind, p.pane, p.profile, self.clock())
            self._call(delivery, PASTING, partial(self._paste, p, tag))
            begun.append(delivery)
        return begun

    def _paste(self, parcel: Parcel, tag: str) -> str | None:
        """The screen before (None: the profile reads none), then the paste."""
        pane = parcel.pane
        before = self.tmux.capture(pane, history=0) if parcel.profile.reads_screen else None
        self.tmux.keys.paste(pane, parcel.text, tag)
        return before

    def _call(self, delivery: Delivery, doing: str, call: Callable[[], object]) -> None:
        delivery.call, delivery.doing = self.tmux.submit(call), doing
        delivery.call.add_done_callback(lambda _: self.wake())

    def step_all(self, deliveries: Sequence[Delivery]) -> list[bool | TmuxError]:
        """Take each delivery on: the tmux calls that have returned, then the steps that are
        due. True once its Enter went out and its stage `sent` is committed; a TmuxError if
        its pane refused a step. The stages of several deliveries commit in one transaction.

        Where the profile reads the screen, Enter waits until the paste shows: the screen has
        changed since before the paste and then held still for one poll (the program drew it
        and is done drawing), or LANDING_LIMIT has passed (`shown` False). Then the gap.
        """
        now = self.clock()
        out: list[bool | TmuxError] = [False] * len(deliveries)
        for i, d in enumerate(deliveries):
            if d.call is None or not d.call.done():
                continue
            result, doing, d.call = d.call.result(), d.doing, None
            if isinstance(result, TmuxError):
                out[i] = result
            elif doing == PASTING:
                d.before = result if isinstance(result, str) else None
            elif doing == LOOKING:
                self._looked(d, str(result), now)
            else:  # once: a stage that could not be committed is committed again
                d.entered = True
                self.faults.reached("entered")
        # Pasted, the stage not committed yet (or its commit failed): nothing goes on before.
        pasted = [
            d
            for i, d in enumerate(deliveries)
            if not d.staged and d.call is None and out[i] is False
        ]
        self._commit(pasted, PASTED)
        for d in pasted:
            d.staged = True
            if d.before is None:  # nothing to see: the gap, then Enter
                d.next_at = now + d.profile.gap
            else:
                d.landing, d.limit, d.next_at = d.before, now + LANDING_LIMIT, now + LANDING_POLL
        finished = [i for i, d in enumerate(deliveries) if d.entered and out[i] is False]
        self._commit([deliveries[i] for i in finished], SENT)
        for i in finished:
            out[i] = True
        for i, d in enumerate(deliveries):
            if out[i] is not False or d.call is not None or now < d.next_at:
                continue
            if d.landing is not None:
                self._call(d, LOOKING, partial(self.tmux.capture, d.pane, history=0))
            else:
                self._call(d, ENTERING, partial(self.tmux.keys.press_enter, d.pane))
        return out

    def _looked(self, d: Delivery, screen: str, now: float) -> None:
        landed = screen != d.before and screen == d.landing
        if not landed and now < d.limit:
            d.landing, d.next_at = screen, now + LANDING_POLL
        else:
            d.shown, d.landing, d.next_at = landed, None, now + d.profile.gap

    def _commit(self, deliveries: Sequence[Delivery], stage: str) -> None:
        """The stage of each delivery, in one transaction."""
        if not deliveries:
            return
        if stage == PASTED:
            for _ in deliveries:
                self.faults.reached("pasted-uncommitted")
        with self.store.transaction():
            for d in deliveries:
                self.store.set_stage(d.task, d.n, stage, self.clock(), d.kind)
        if stage == PASTED:
            for _ in deliveries:
                self.faults.reached("pasted")

    def settle(self, task: str, n: int, kind: str) -> None:
        with self.store.transaction():
            self.store.set_stage(task, n, SENT, self.clock(), kind)

    def _tag(self, task: str, n: int, kind: str, created: float | None = None) -> str:
        """How tmux names this send on the pane: the attempt and when it was recorded (so that
        a fresh state, after `rm -rf .orchestrate`, never takes an old tag for its own)."""
        if created is None:
            created = next(
                (a.created for a in self.store.attempts(task) if a.n == n and a.kind == kind), 0.0
            )
        return f"{task}/{n}/{kind}/{created!r}"

    def recover(self, attempt: Attempt, pane: str, text: str, profile: Profile) -> Sent:
        """Resolve a send that a crash interrupted, from all there is to see: the stage, the
        pane's tmux record of a paste still waiting for its Enter, and the screen (a dialog,
        the text or its placeholder in the input line, its marker higher up, busy)."""
        task, n, kind, agent = attempt.task, attempt.n, attempt.kind, attempt.agent
        name = label(task, n, kind)
        mark = marker(task, n, kind)
        reading = classify(self.tmux.capture(pane, history=0), profile)
        history = self.tmux.capture(pane, history=2000)
        tag, same_program = self.tmux.keys.pending_paste(pane)
        ours = tag == self._tag(task, n, kind, attempt.created)
        if ours and not same_program:
            # pasted into a program that has been started again since, and no Enter followed:
            # the text went with it (what the old program showed may still be in the history)
            if reading.state in (WAITING, BUSY):
                return self._back(attempt, f"{agent} is {reading.state}")
            self.send(task, n, kind, pane, text, profile)
            message = f"{name}: its paste went to a program of {agent} started again since, "
            return Sent("recovered", message + "never submitted: sent it now", pressed=True)
        shows = in_input_line(reading, mark, text, profile)
        # The tag goes with the paste in one tmux command and leaves with the Enter in one:
        # without it, `sending` means the paste never happened, `pasted` that Enter went out.
        pasted = ours or attempt.stage == PASTED
        if reading.state == WAITING:  # never typed into: Enter would answer the dialog
            dialog = f"{agent} shows a dialog ({reading.line!r})"
            if ours or shows:
                self.settle(task, n, kind)
                return Sent(
                    "unconfirmed",
                    f"{name}: pasted, not submitted, and {dialog}: left alone, Enter would "
                    "answer it; submit the text by hand once the dialog is answered",
                )
            if not (pasted or mark in history):
                return self._back(attempt, dialog)
            self.settle(task, n, kind)
            return Sent("recovered", f"{name}: had been submitted ({dialog}: left alone)")
        if shows or ours:
            self.tmux.keys.press_enter(pane)
            self.settle(task, n, kind)
            how = shows or "tmux recorded its paste and no Enter; the screen does not show it"
            message = f"{name}: was still in {agent}'s input box ({how}): pressed Enter"
            return Sent("recovered", message, pressed=True)
        if mark in history:
            self.settle(task, n, kind)
            return Sent("recovered", f"{name}: had been submitted (its marker is on the screen)")
        if pasted:
            self.settle(task, n, kind)
            why = f"{agent} is busy" if reading.state == BUSY else "tmux recorded its Enter"
            return Sent("recovered", f"{name}: had been submitted ({why})")
        if reading.state == BUSY:
            return self._back(attempt, f"{agent} is busy")
        self.send(task, n, kind, pane, text, profile)
        return Sent("recovered", f"{name}: never reached {agent}: sent it now", pressed=True)

    def _back(self, attempt: Attempt, why: str) -> Sent:
        """The text never reached the agent, which cannot take it now: never typed into a
        dialog or a running turn. A prompt goes back to the queue; a request for missing
        fields is dropped, and said so."""
        self.settle(attempt.task, attempt.n, attempt.kind)
        name = label(attempt.task, attempt.n, attempt.kind)
        if attempt.kind == PROMPT:
            message = f"{name}: never reached it, {why}: back in the queue"
            return Sent("recovered", message, requeue=True)
        return Sent(
            "unconfirmed",
            f"{name}: not sent, {why}; `orchestrate retry {attempt.task}` sends the task again",
        )

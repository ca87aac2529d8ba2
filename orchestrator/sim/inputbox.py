"""The simulated agent's input box: what has been typed and pasted, and what the box shows of
it. A multi-line or long paste shows as `[Pasted text #N +M lines]` with `--echo
placeholder` (as in Claude Code), never as its text; a backspace takes the whole of such a
paste; a paste that came in pieces is one paste."""

from __future__ import annotations

PLACEHOLDER_FROM = 800  # a one-line paste this long shows as a placeholder too


class InputBox:
    def __init__(self, placeholders: bool) -> None:
        self.placeholders = placeholders
        self.parts: list[tuple[str, str]] = []  # (text, what the input line shows of it)
        self.pastes = 0  # pastes so far (a placeholder shows its number, as in Claude Code)
        self.extending = False  # the last paste came in pieces and its rest is still to come

    @property
    def text(self) -> str:
        return "".join(text for text, _ in self.parts)

    @property
    def shown(self) -> str:
        return "".join(shown for _, shown in self.parts)

    def type(self, text: str) -> None:
        """Keys typed (or a placeholder the program puts in itself): shown as they are."""
        self.parts.append((text, text))

    def paste(self, text: str, partial: bool = False) -> None:
        """A paste enters the box (`partial`: more of it comes in the next read)."""
        if self.extending and self.parts:
            text = self.parts.pop()[0] + text
        else:
            self.pastes += 1
        self.extending = partial
        shown = text
        if self.placeholders and ("\n" in text or len(text) >= PLACEHOLDER_FROM):
            shown = f"[Pasted text #{self.pastes} +{text.count(chr(10))} lines]"
        self.parts.append((text, shown))

    def backspace(self) -> None:
        """Deletes the last character, or the whole of a paste shown as a placeholder."""
        if self.parts:
            text, shown = self.parts.pop()
            if text == shown and len(text) > 1:
                self.parts.append((text[:-1], shown[:-1]))

    def clear(self) -> None:
        self.parts = []

"""YAML with line numbers: the one module that imports PyYAML.

`load(text, file)` returns plain Python data plus a map from each key path
(`("tasks", 0, "agent")`) to its 1-based line, so that validation errors can be
reported as `FILE:LINE: message` once, at the edge.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError, Problem

Path_ = tuple[str | int, ...]
# libyaml's parser when PyYAML was built with it (ten times faster on a 10,000-task queue);
# the same events, marks and errors either way.
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass
class Located:
    data: Any
    lines: dict[Path_, int] = field(default_factory=dict)

    def line_of(self, loc: Sequence[str | int]) -> int:
        """The line of the longest prefix of `loc` that exists in the file."""
        path = tuple(loc)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), 1)


def load(text: str, file: Path) -> Located:
    """Parse one YAML document; syntax errors, duplicate keys and values that cannot be read
    raise ConfigError (every problem of the file at once where the syntax allows)."""
    try:
        try:
            out = _Builder(file).build(text, _LOADER)
        except yaml.YAMLError:  # the pure parser says what is wrong in plainer words
            out = _Builder(file).build(text, yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        raise ConfigError([_syntax(exc, file)]) from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow
        line = text[: exc.position].count("\n") + 1
        char = chr(exc.character) if isinstance(exc.character, int) else str(exc.character)
        raise ConfigError(
            [Problem(file, line, f"character {char!r} is not allowed in YAML: remove it")]
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError([Problem(file, 1, f"not readable as YAML: {exc}")]) from None
    return out


_OPENED = {"flow sequence": "'['", "flow mapping": "'{'", "quoted scalar": "quoted string"}


def _syntax(exc: yaml.MarkedYAMLError, file: Path) -> Problem:
    """A syntax error in words, at the line where the trouble is: for a bracket or a quote
    that is never closed, the line where it opens (and where the parser gave up)."""
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark else 1
    problem, context = exc.problem or "", exc.context or ""
    if "character '\\t'" in problem:  # PyYAML writes the tab as its escape
        return Problem(file, line, "YAML syntax: a tab; YAML is indented with spaces only")
    opens = exc.context_mark.line + 1 if exc.context_mark else line
    opened = next((what for key, what in _OPENED.items() if key in context), None)
    if opened and opens != line:
        ends = "end of stream" in problem or "<stream end>" in problem
        why = "the file ends first" if ends else f"line {line}: {problem}"
        return Problem(file, opens, f"YAML syntax: this {opened} is never closed ({why})")
    what = problem or context or "invalid YAML"
    if context and problem and opens != line:
        what += f" ({context} that starts on line {opens})"
    return Problem(file, line, f"YAML syntax: {what}")


MAX_VALUES = 1_000_000  # aliases can make a small file expand without end ("billion laughs")
MAX_DEPTH = 100  # under libyaml's own limit, whose error sends us to the slow pure parser
_RESOLVER: Any = yaml.resolver.Resolver()  # untyped in types-PyYAML
_MERGE = "tag:yaml.org,2002:merge"
_STR = "tag:yaml.org,2002:str"
_NO_KEY: Any = object()  # a mapping waits for its next key
_DROP: Any = object()  # the key was refused (reported): its value is read and dropped
_MERGING: Any = object()  # the key is `<<`: its value's keys go under the mapping's own


@dataclass(eq=False)
class _Open:
    """A mapping or a sequence being read."""

    value: dict[Any, Any] | list[Any]
    path: Path_ | None  # None: inside a key or a dropped value (no lines recorded)
    line: int
    anchor: str | None
    counted: int  # values counted before it opened (its size, for its aliases)
    key: Any = _NO_KEY
    key_line: int = 0
    merged: list[tuple[dict[Any, Any], int]] = field(default_factory=list)  # with their lines


class _Builder:
    """Plain data and the line of each key path, built from the parser's events as they
    come: no node tree is kept (it took 40 MB, and as many again after each reload of a
    10,000-task file while the cache of a shared constructor held every tree ever read).
    An alias gives the anchor's value itself, not a copy; it counts all the values it
    stands for, so that an alias bomb is refused before anyone walks it."""

    def __init__(self, file: Path) -> None:
        self.file = file
        self.lines: dict[Path_, int] = {}
        self.problems: list[Problem] = []
        self.anchors: dict[str, tuple[Any, int]] = {}
        self.open: list[_Open] = []
        self.counted = 0
        self.documents = 0
        self.root: Any = None
        # A constructor of this load alone, for the scalars (it caches what it builds).
        self.constructor = yaml.constructor.SafeConstructor()

    def build(self, text: str, loader: Any) -> Located:
        for event in yaml.parse(text, Loader=loader):
            self.feed(event)
        if self.problems:
            raise ConfigError(self.problems)
        return Located(self.root, self.lines)

    def feed(self, event: yaml.Event) -> None:
        line = event.start_mark.line + 1 if event.start_mark else 1
        if isinstance(event, yaml.ScalarEvent):
            self._count(1, line)
            value, tag = self._scalar(event, line)
            if event.anchor is not None:
                self.anchors[event.anchor] = (value, 1)
            self._place(value, line, merge=tag == _MERGE)
        elif isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
            self._count(1, line)
            if len(self.open) >= MAX_DEPTH:
                raise ConfigError(
                    [Problem(self.file, line, f"nested more than {MAX_DEPTH} levels deep")]
                )
            empty: dict[Any, Any] | list[Any] = (
                {} if isinstance(event, yaml.MappingStartEvent) else []
            )
            opened = _Open(empty, self._next_path(), line, event.anchor, self.counted - 1)
            self.open.append(opened)
        elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
            done = self.open.pop()
            value = done.value
            if isinstance(value, dict) and done.merged:
                value = self._merge(done, value)
            if done.anchor is not None:
                self.anchors[done.anchor] = (value, self.counted - done.counted)
            self._place(value, done.line)
        elif isinstance(event, yaml.AliasEvent):
            name = event.anchor
            if name not in self.anchors:
                inside = any(o.anchor == name for o in self.open)
                what = (
                    f"alias *{name} inside its own anchor &{name}"
                    if inside
                    else f"found undefined alias {name!r}"
                )
                raise ConfigError([Problem(self.file, line, f"YAML syntax: {what}")])
            value, size = self.anchors[name]
            self._count(size, line)
            self._place(value, line)
        elif isinstance(event, yaml.DocumentStartEvent):
            self.documents += 1
            if self.documents > 1:
                raise ConfigError(
                    [Problem(self.file, line, "YAML syntax: a second document (---): keep one")]
                )

    def _count(self, values: int, line: int) -> None:
        self.counted += values
        if self.counted > MAX_VALUES:
            raise ConfigError(
                [Problem(self.file, line, f"more than {MAX_VALUES:,} values (aliases expanding?)")]
            )

    def _scalar(self, event: yaml.ScalarEvent, line: int) -> tuple[Any, str]:
        tag = event.tag
        if tag is None or tag == "!":
            tag = _RESOLVER.resolve(yaml.ScalarNode, event.value, event.implicit)
        if tag in (_STR, _MERGE):  # most values: the text itself
            return event.value, tag
        node = yaml.ScalarNode(tag, event.value, None, None, event.style)
        try:
            return self.constructor.construct_object(node, deep=True), tag
        except (yaml.constructor.ConstructorError, ValueError) as exc:
            if tag not in self.constructor.yaml_constructors:
                why = f"unknown tag {tag!r}: remove it"
            else:
                kind = tag.rsplit(":", 1)[-1]
                why = f"{event.value!r} is not a valid {kind} ({exc}): quote it to keep it as text"
            self.problems.append(Problem(self.file, line, why))
            return None, tag
        finally:
            self.constructor.constructed_objects.pop(node, None)

    def _next_path(self) -> Path_ | None:
        """The key path of the value that comes next (None: lines not recorded)."""
        if not self.open:
            return ()
        top = self.open[-1]
        if top.path is None:
            return None
        if isinstance(top.value, list):
            return (*top.path, len(top.value))
        if top.key is _NO_KEY or top.key is _DROP or top.key is _MERGING:
            return None
        return (*top.path, top.key)

    def _place(self, value: Any, line: int, merge: bool = False) -> None:
        if not self.open:
            self.root = value
            self.lines.setdefault((), line)
            return
        top = self.open[-1]
        if isinstance(top.value, list):
            if top.path is not None:
                self.lines.setdefault((*top.path, len(top.value)), line)
            top.value.append(value)
        elif top.key is _NO_KEY:
            top.key, top.key_line = self._key(top, value, line, merge), line
        else:
            key, top.key = top.key, _NO_KEY
            if key is _MERGING:
                self._to_merge(top, value)
            elif key is not _DROP:
                if top.path is not None:
                    self.lines[(*top.path, key)] = top.key_line
                top.value[key] = value

    def _key(self, top: _Open, key: Any, line: int, merge: bool) -> Any:
        if merge:
            return _MERGING
        if not isinstance(key, str | int):
            self.problems.append(Problem(self.file, line, f"a key must be text, not {key!r}"))
            return _DROP
        if key in top.value:
            self.problems.append(Problem(self.file, line, f"duplicate key {key!r}: keep only one"))
            return _DROP
        return key

    def _to_merge(self, top: _Open, value: Any) -> None:
        """`<<: *base` or `<<: [*a, *b]`: the keys the mapping does not set itself (the
        first mapping listed wins), as PyYAML's safe_load does."""
        merged = value if isinstance(value, list) else [value]
        if not all(isinstance(m, dict) for m in merged):
            self.problems.append(
                Problem(self.file, top.key_line, "`<<` merges a mapping or a list of mappings")
            )
            return
        top.merged += [(m, top.key_line) for m in merged]

    def _merge(self, done: _Open, own: dict[Any, Any]) -> dict[Any, Any]:
        value: dict[Any, Any] = {}
        for mapping, line in done.merged:
            for key, item in mapping.items():
                if key not in own and key not in value:
                    value[key] = item
                    if done.path is not None:
                        self.lines.setdefault((*done.path, key), line)
        value.update(own)
        return value


def dump(data: Any) -> str:
    """Plain block-style YAML, keys in the given order, unicode kept."""
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


class _BlockDumper(yaml.SafeDumper):
    """Multi-line strings as literal blocks (`|`), as people write prompts by hand."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _str)


def dump_item(item: dict[str, Any]) -> str:
    """One list item (`- key: value` …), block style, prompts as literal blocks."""
    text: str = yaml.dump(
        [item], Dumper=_BlockDumper, sort_keys=False, allow_unicode=True, width=100
    )
    return text

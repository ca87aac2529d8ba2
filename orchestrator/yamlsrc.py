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

from .errors import ConfigError, Problem

Path_ = tuple[str | int, ...]
# libyaml's parser when PyYAML was built with it (ten times faster on a 10,000-task queue);
# the same nodes, marks and errors either way.
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
    """Parse one YAML document; syntax errors and duplicate keys raise ConfigError."""
    try:
        try:
            node = yaml.compose(text, Loader=_LOADER)
        except yaml.YAMLError:  # the pure parser says what is wrong in plainer words
            node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        what = exc.problem or exc.context or "invalid YAML"
        raise ConfigError([Problem(file, line, f"YAML syntax: {what}")]) from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow
        line = text[: exc.position].count("\n") + 1
        char = chr(exc.character) if isinstance(exc.character, int) else str(exc.character)
        raise ConfigError(
            [Problem(file, line, f"character {char!r} is not allowed in YAML: remove it")]
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError([Problem(file, 1, f"not readable as YAML: {exc}")]) from None
    out = Located(None)
    if node is None:
        return out
    problems: list[Problem] = []
    budget = [MAX_VALUES]
    out.data = _convert(node, (), out.lines, file, problems, budget)
    if problems:
        raise ConfigError(problems)
    return out


_constructor = yaml.SafeLoader("")
MAX_VALUES = 1_000_000  # aliases can make a small file expand without end ("billion laughs")


def _convert(
    node: yaml.Node,
    path: Path_,
    lines: dict[Path_, int],
    file: Path,
    problems: list[Problem],
    budget: list[int],
) -> Any:
    budget[0] -= 1
    if budget[0] < 0:
        where = node.start_mark.line + 1
        raise ConfigError(
            [Problem(file, where, f"more than {MAX_VALUES:,} values (aliases expanding?)")]
        )
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _constructor.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if not isinstance(key, str | int):
                problems.append(Problem(file, line, f"a key must be text, not {key!r}"))
                continue
            if key in result:
                problems.append(Problem(file, line, f"duplicate key {key!r}: keep only one"))
                continue
            lines[(*path, key)] = line
            result[key] = _convert(value_node, (*path, key), lines, file, problems, budget)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [
            _convert(item, (*path, index), lines, file, problems, budget)
            for index, item in enumerate(node.value)
        ]
    return _constructor.construct_object(node, deep=True)


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

"""forked.run: the result comes from a child; when the child fails, `fn` runs here instead,
with the same result or the same exception, and no child is left behind."""

from __future__ import annotations

import os
import pickle
import time
from pathlib import Path

import pytest

from orchestrator.adapters import forked
from orchestrator.errors import ConfigError, Problem

PARENT = os.getpid()


def where() -> int:
    return os.getpid()


def children() -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[1]) == PARENT:
            found.add(int(stat.parent.name))
    return found


def test_the_result_is_computed_in_a_child_and_brought_back() -> None:
    before = children()
    pid = forked.run(where)
    assert pid != PARENT
    assert children() == before  # reaped


def test_a_child_that_raises_lets_fn_run_here() -> None:
    def only_here() -> int:
        if os.getpid() != PARENT:
            raise RuntimeError("not in the child")
        return os.getpid()

    assert forked.run(only_here) == PARENT


def test_an_exception_of_fn_is_raised_here_as_fn_raises_it() -> None:
    problem = Problem(Path("queues/a.yaml"), 3, "bad")

    def refused() -> None:
        raise ConfigError([problem])

    with pytest.raises(ConfigError) as caught:
        forked.run(refused)
    assert caught.value.problems == [problem]


def test_a_child_past_its_time_is_killed_and_fn_runs_here() -> None:
    before = children()

    def slow_in_child() -> int:
        if os.getpid() != PARENT:
            time.sleep(60)
        return os.getpid()

    started = time.monotonic()
    assert forked.run(slow_in_child, timeout=0.5) == PARENT
    assert time.monotonic() - started < 30
    assert children() == before


def test_a_config_error_pickles_with_its_problems() -> None:
    error = ConfigError([Problem(Path("q.yaml"), 2, "one"), Problem(Path("q.yaml"), 5, "two")])
    again = pickle.loads(pickle.dumps(error))
    assert again.problems == error.problems
    assert str(again) == str(error)

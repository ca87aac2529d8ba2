"""`orchestrate sim-agent`: the simulated agent's command line.

It starts in every test and in the demo, several times a run, so it loads the standard library
and the agent alone (argparse, not the CLI framework and the settings: a start costs a tenth of
a second of CPU instead of most of one). The command's entry point hands it the arguments.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .agent import ECHOES, LIMIT_NOTICE, SimAgent, SimOptions

WRITES = ("append", "split", "rename")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="orchestrate sim-agent",
        description="A simulated coding agent for tmux (used by `demo` and the tests).",
    )
    p.add_argument("--name", required=True, help="The agent's name, written in its reports.")
    p.add_argument("--board", required=True, type=Path, help="The board file to append to.")
    p.add_argument("--delay", type=float, default=1.0, help="Seconds of work per prompt.")
    p.add_argument(
        "--write",
        choices=WRITES,
        default="append",
        help="How to write the board: append, split (two writes) or rename.",
    )

    def many(flag: str, help: str, metavar: str = "ID") -> None:
        p.add_argument(flag, action="append", default=[], metavar=metavar, help=help)

    many("--fail", "Report FAILED for this task id.")
    many("--fail-once", "Report FAILED on the first attempt only.")
    many("--block", "Report BLOCKED for this task id.")
    many("--silent", "Never report this task id.")
    many("--omit", "Leave this field out of first reports (not follow-ups).", "FIELD")
    many("--ask", "Show a permission dialog before this task id.")
    p.add_argument(
        "--swallow",
        type=int,
        default=0,
        help="Ignore this many Enters after each paste (a paste-burst guard).",
    )
    p.add_argument(
        "--slow-paste",
        type=float,
        default=0.0,
        help="Seconds before a paste shows; an Enter sooner submits a placeholder instead.",
    )
    many("--limit", "Show a usage-limit notice when starting this id.")
    p.add_argument("--limit-notice", default=LIMIT_NOTICE, help="The usage-limit notice's words.")
    p.add_argument("--log", type=Path, help="Append what it receives (JSON lines).")
    p.add_argument(
        "--echo",
        choices=ECHOES,
        default="full",
        help="What the input line shows of a paste: full (its first line), placeholder "
        "('[Pasted text #N +M lines]', as Claude Code) or none.",
    )
    p.add_argument(
        "--hold", type=Path, help="While this file exists, it works on and reports nothing."
    )
    p.add_argument(
        "--load",
        type=float,
        default=0.0,
        help="Seconds it loads before it draws anything; what is typed meanwhile is lost.",
    )
    return p


def main(argv: list[str]) -> int:
    """Run the simulated agent in this terminal until its input ends; its exit status."""
    a = parser().parse_args(argv)
    options = SimOptions(
        name=a.name,
        board=a.board.resolve(),
        delay=a.delay,
        write=a.write,
        fail=set(a.fail),
        fail_once=set(a.fail_once),
        block=set(a.block),
        silent=set(a.silent),
        omit=set(a.omit),
        ask=set(a.ask),
        swallow=a.swallow,
        slow_paste=a.slow_paste,
        limit=set(a.limit),
        limit_notice=a.limit_notice,
        log=a.log.resolve() if a.log else None,
        echo=a.echo,
        hold=a.hold.resolve() if a.hold else None,
        load=a.load,
    )
    return SimAgent(options).run()

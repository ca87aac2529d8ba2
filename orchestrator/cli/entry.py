"""The `orchestrate` command: `status` at once when a running daemon's snapshot can answer it
(quick.py), `sim-agent` with its own lean command line (sim/command.py), else the full CLI."""

from __future__ import annotations

import os
import sys

from .quick import status


def main() -> None:
    if sys.argv[1:2] == ["sim-agent"]:  # started in every test and demo: no CLI framework
        from ..sim.command import main as sim_main

        sys.exit(sim_main(sys.argv[2:]))
    try:
        served = status(sys.argv[1:])
    except BrokenPipeError:  # `orchestrate status | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)
    if not served:
        from .commands import main as full

        full()

"""The `orchestrate` command: `status` at once when a running daemon's snapshot can answer it
(quick.py), else the full CLI."""

from __future__ import annotations

import os
import sys

from .quick import status


def main() -> None:
    try:
        served = status(sys.argv[1:])
    except BrokenPipeError:  # `orchestrate status | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)
    if not served:
        from .cli import main as full

        full()

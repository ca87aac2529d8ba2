"""Fault injection for the crash tests: the points where they kill the daemon, as `kill -9`
would, between any two steps of a dispatch or as a validation starts."""

from __future__ import annotations

import os
import signal

# Where the crash tests kill the daemon: every step of a dispatch, and a validation started
# whose process group is not yet recorded.
FAULT_POINTS = ("recorded", "pasted-uncommitted", "pasted", "entered", "board-read")
CHECK_FAULT_POINTS = ("validating",)


class Faults:
    """Fault injection for the crash tests: `ORCHESTRATE_FAULT=POINT:N` (comma-separated).

    The daemon kills itself with SIGKILL the N-th time it reaches POINT, exactly as
    `kill -9` would, so the tests can crash it between any two steps of a dispatch (or as
    a validation starts).
    Without the variable nothing happens.
    """

    def __init__(self, spec: str) -> None:
        self.limits: dict[str, int] = {}
        self.counts: dict[str, int] = {}
        for item in filter(None, (s.strip() for s in spec.split(","))):
            point, _, count = item.partition(":")
            if point not in (*FAULT_POINTS, *CHECK_FAULT_POINTS):
                raise ValueError(f"ORCHESTRATE_FAULT: unknown point {point!r}")
            self.limits[point] = int(count or 1)

    def reached(self, point: str) -> None:
        if point in self.limits:
            self.counts[point] = self.counts.get(point, 0) + 1
            if self.counts[point] == self.limits[point]:
                os.kill(os.getpid(), signal.SIGKILL)

"""Sampling paced against monotonic deadlines, never sleep(1/fs).

A fixed sleep drifts by the time the work takes; deadlines do not. When the loop
falls behind by a whole period or more, the missed deadlines are counted (the
caller fills and records them as a gap) and the schedule moves on rather than
racing to catch up.
"""
from __future__ import annotations

import time


class Pacer:
    """Deadlines every `period` seconds on the monotonic clock."""

    def __init__(self, period: float, clock=time.monotonic, sleep=time.sleep):
        if period <= 0:
            raise ValueError("period must be positive")
        self.period = period
        self._clock = clock
        self._sleep = sleep
        self.next_deadline = clock()
        self.missed = 0

    def wait(self) -> int:
        """Sleep until the next deadline; return how many deadlines were missed before it."""
        now = self._clock()
        late = now - self.next_deadline
        missed = 0
        if late >= self.period:
            missed = int(late // self.period)
            self.next_deadline += missed * self.period
            self.missed += missed
        elif late < 0:
            self._sleep(-late)
        self.next_deadline += self.period
        return missed

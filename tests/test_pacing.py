"""Pacing against monotonic deadlines."""
from __future__ import annotations

from sensor.pacing import Pacer


class Clock:
    def __init__(self):
        self.t = 0.0
        self.slept = 0.0

    def __call__(self):
        return self.t

    def sleep(self, s):
        self.slept += s
        self.t += s


def test_deadlines_do_not_drift_with_the_work_done():
    c = Clock()
    p = Pacer(0.004, c, c.sleep)
    for _ in range(1000):
        p.wait()
        c.t += 0.001            # the work of one reading
    assert abs(c.t - 4.0) < 0.01 and p.missed == 0


def test_a_stall_counts_the_missed_deadlines_and_does_not_race_to_catch_up():
    c = Clock()
    p = Pacer(0.01, c, c.sleep)
    p.wait()
    c.t += 0.055                # stalled
    assert p.wait() == 4       # 0.01-0.04 missed; this reading stands for 0.05
    slept = c.slept
    p.wait()
    assert c.slept > slept      # back on the schedule, sleeping again

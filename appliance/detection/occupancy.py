"""In bed or out of bed, from the signal itself.

An empty bed and a still sleeper differ in two ways a strip can see: a load sensor
(load cell, force-sensing resistor) carries the sleeper's static weight, so its
level sits far from the empty level compared with everything that moves it while
someone lies there (breathing, a change of posture); and any strip sees the
heartbeat and breathing of a body, so its resting activity sits well above the
empty bed's electrical noise. Getting in or out is a burst of activity between two
quiet states that differ in one of those ways.

So the tracker compares each quiet second with the current state, and confirms a
change after `bed_confirm_s` quiet seconds that differ from it. Which state is the
empty one is known from a stored reference (the daemon keeps one from the empty
bed by day), or learnt at the first change: the lower load, or where the load does
not differ, the lower activity. Until then the sleeper is assumed to be in bed
(a recording usually has someone on it), unless the quiet seconds carry no more
activity than the ADC's own rounding makes: nothing lies on that strip. A change is placed at the start of the
activity burst for getting in, and at its end for getting out.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

ENERGY_RATIO = 3.0     # resting activity this many times apart: a different state
LEVEL_STEPS = 20.0     # level this many noise widths apart: a different load
STATS_TICKS = 30
STARTUP_TICKS = 1
BURST_SLACK_TICKS = 5
EDGE_FRACTION = 0.2   # in bed once the load is a fifth of the way up from empty


@dataclass
class QuietState:
    """Medians over recent quiet seconds of one state."""

    level: float
    spread: float
    energy: float
    wander: float = 0.0    # half the range of the level over those seconds: slow drift and creep

    def as_dict(self) -> dict:
        return {"level": self.level, "spread": self.spread, "energy": self.energy, "wander": self.wander}


def _energies_differ(x: float, y: float) -> bool:
    lo, hi = (x, y) if x < y else (y, x)
    return hi > ENERGY_RATIO * lo + 1e-300


def _scale(s: QuietState) -> float:
    """What moves a state's level without a change of load: noise, breathing, slow drift."""
    return max(s.spread, s.energy, s.wander, 1e-9 * abs(s.level))


def _steps_apart(x: float, y: float, scale: float) -> bool:
    return abs(x - y) > LEVEL_STEPS * max(scale, 1e-300)


def _level_differs(a: QuietState, b: QuietState) -> bool:
    """A step in the load far beyond noise, breathing and either state's own slow drift."""
    return _steps_apart(a.level, b.level, max(_scale(a), _scale(b)))


def differs(a: QuietState, b: QuietState) -> bool:
    return _energies_differ(a.energy, b.energy) or _level_differs(a, b)


def _plainly_same(state: QuietState, level: float, energy: float) -> bool:
    """A quick sufficient test that a second is not `differs` from `state`: the usual one.

    The full test's scale only grows with the second's own, so a second within the
    state's own scale is the same state; no QuietState need be built for it.
    """
    return not _energies_differ(energy, state.energy) and not _steps_apart(level, state.level, _scale(state))


class _Recent:
    """The last STATS_TICKS quiet seconds of one state, and their medians.

    The medians are refreshed every few additions: a state's summary moves
    slowly, and a median per second of signal is the tracker's whole cost.
    """

    REFRESH = 5

    def __init__(self):
        self.items: deque = deque(maxlen=STATS_TICKS)
        self._cached: QuietState | None = None
        self._since = 0

    def add(self, t) -> None:
        self.items.append((t.level, t.spread, t.energy))
        self._since += 1
        if len(self.items) <= self.REFRESH or self._since >= self.REFRESH:
            self._cached = None

    def state(self) -> QuietState:
        if self._cached is None:
            cols = list(zip(*self.items))
            self._cached = QuietState(*(_median(c) for c in cols), wander=(max(cols[0]) - min(cols[0])) / 2)
            self._since = 0
        return self._cached

    def __len__(self):
        return len(self.items)


AT_FLOOR = 1.5   # a quiet second within this of the ADC's own floor carries no body


def at_the_adcs_floor(tick) -> bool:
    """A still second whose resting activity is no more than rounding to the ADC's step makes.

    A body on the strip brings a heartbeat and breathing above that; an empty bed on a
    coarse ADC sits on one count or two. Only a floor that is measured counts (a float
    recording or a 24-bit ADC has next to none).
    """
    return tick.floor > 0 and tick.energy <= AT_FLOOR * tick.floor


def _median(values) -> float:
    v = sorted(values)
    n = len(v)
    return float(v[n // 2]) if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2.0


class BedTracker:
    """Follows in bed / out of bed over per-second ticks."""

    def __init__(self, tick_s: float, confirm_s: float = 10.0, empty_ref: QuietState | None = None,
                 load_sign: int = 1):
        self.tick_s = tick_s
        self.confirm = max(2, int(round(confirm_s / tick_s)))
        self.refs: dict[str, QuietState | None] = {"out": empty_ref, "in": None}
        self.load_sign = load_sign
        self.initial: str | None = None     # state at the stream start, once known
        self.state: str | None = None
        self.changes: list[tuple[float, str]] = []   # (time s, 'in' or 'out')
        self._cur = _Recent()
        self._cand = _Recent()
        self._last_same: int | None = None
        self._first_diff: int | None = None
        self._last_quiet = 0
        self._bursts: list[list[int]] = []   # [first, last] tick of activity bursts
        self._levels: deque = deque(maxlen=600)   # (tick, level) of every recent tick
        self._prev_active = False

    @property
    def empty_ref(self) -> QuietState | None:
        """The empty bed as last seen: the daemon keeps it for the next start."""
        return self.refs["out"]

    @property
    def resolved_until_s(self) -> float:
        """Before this time the state is final.

        Not quite up to the last quiet second of the current state: a change found
        later may still be placed up to BURST_SLACK_TICKS before it (the end of a
        burst just before it), and a movement released meanwhile would miss it.
        """
        if self.state is None or self._last_same is None:
            return 0.0
        return max(0.0, (self._last_same + 1 - BURST_SLACK_TICKS - 1) * self.tick_s)

    def add(self, tick) -> None:
        if tick.flat or tick.index < STARTUP_TICKS:   # the filters' start-up is no state
            return
        self._levels.append((tick.index, tick.level))
        if not tick.quiet:
            if self._prev_active and self._bursts:
                self._bursts[-1][1] = tick.index
            else:
                self._bursts.append([tick.index, tick.index])
            self._bursts = self._bursts[-50:]
            self._prev_active = True
            return
        self._prev_active = False
        self._last_quiet = tick.index
        if self._cur.items and not self._cand.items and _plainly_same(self._cur.state(), tick.level, tick.energy):
            self._stay(tick)
            return
        x = QuietState(tick.level, tick.spread, tick.energy)
        if len(self._cur) == 0:
            self._cur.add(tick)
            self._last_same = tick.index
            if self.refs["out"] is not None:
                self.state = self.initial = "out" if not differs(x, self.refs["out"]) else "in"
            elif at_the_adcs_floor(tick):
                self.state = self.initial = "out"     # nothing on the strip but the ADC's own steps
            return
        if not differs(x, self._cur.state()):
            self._cand = _Recent()
            self._first_diff = None
            self._stay(tick)
            return
        if len(self._cand) and differs(x, self._cand.state()):
            self._cand = _Recent()            # a third state: start the candidate again
            self._first_diff = None
        if self._first_diff is None:
            self._first_diff = tick.index
        self._cand.add(tick)
        if len(self._cand) >= self.confirm:
            self._change()

    def _stay(self, tick) -> None:
        """A quiet second of the current state."""
        self._cur.add(tick)
        self._last_same = tick.index
        if self.state is not None:
            self.refs[self.state] = self._cur.state()

    def finish(self) -> None:
        """At the end of the stream, a change with fewer confirming seconds still counts.

        If the stream ends in activity, its last seconds stand in for the quiet
        state that never came, when their load alone shows the change.
        """
        if len(self._cand) >= 2:
            self._change()
            return
        if self._prev_active and len(self._cur) and len(self._levels) >= 2:
            tail = list(self._levels)[-2:]
            cur = self._cur.state()
            guess = QuietState(float(np.median([lv for _, lv in tail])), cur.spread, cur.energy)
            if _level_differs(cur, guess):
                self._first_diff = tail[0][0]
                self._cand = _Recent()
                self._cand.add(guess)
                self._change(moved=True)

    def _label(self, cand: QuietState, cur: QuietState) -> str:
        """Which state `cand` is: the nearer of the two known ones; near or far from the empty bed when
        only that is known; at the very first change with nothing known, the emptier of the two."""
        out_ref, in_ref = self.refs["out"], self.refs["in"]
        if out_ref is not None and in_ref is not None:
            if _level_differs(out_ref, in_ref):
                near_out = abs(cand.level - out_ref.level) < abs(cand.level - in_ref.level)
            else:
                ln = np.log(max(cand.energy, 1e-300))
                near_out = (abs(ln - np.log(max(out_ref.energy, 1e-300)))
                            < abs(ln - np.log(max(in_ref.energy, 1e-300))))
            return "out" if near_out else "in"
        if out_ref is not None:
            return "out" if not differs(cand, out_ref) else "in"
        if _level_differs(cur, cand):
            cand_empty = (cand.level - cur.level) * self.load_sign < 0
        else:
            cand_empty = cand.energy < cur.energy
        if self.state is None:
            self.state = self.initial = "in" if cand_empty else "out"
        return "out" if cand_empty else "in"

    def _change(self, moved: bool = False) -> None:
        """The candidate is confirmed: a change of bed, if someone moved on the way to it (`moved`: the
        stream ended moving)."""
        cur, cand = self._cur.state(), self._cand.state()
        if not (moved or self._bursts_between()):
            # quiet all the way from one state to the other: the level crept (a bridge's thermal drift,
            # an ADC's bias), no one got in or out, for no body does that without moving
            if self.state is not None:
                self.refs[self.state] = cand
            self._cur, self._cand = self._cand, _Recent()
            self._last_same, self._first_diff = self._last_quiet, None
            return
        old = self.state
        new = self._label(cand, cur)
        if old is None:
            old = self.state
        self.refs[old] = cur
        self.refs[new] = cand
        if new != old:
            self.changes.append((self._place(new, cur, cand), new))
            self.state = new
        self._cur, self._cand = self._cand, _Recent()
        self._last_same, self._first_diff = self._last_quiet, None

    def _place(self, new: str, cur: QuietState, cand: QuietState) -> float:
        """Time of the change.

        Where the load differs: the first second with the load more than a fifth of
        the way up from empty (getting in), or back within a fifth of empty (out):
        the moment the body arrives or is gone, not a halfway point of sitting on
        the edge. Otherwise the activity burst between the two quiet states: its
        start for getting in, its end for getting out.
        """
        a, b = self._last_same, self._first_diff
        if _level_differs(cur, cand):
            empty, full = (cur.level, cand.level) if new == "in" else (cand.level, cur.level)
            threshold = empty + EDGE_FRACTION * (full - empty)
            up = np.sign(full - empty)
            for i, lv in self._levels:
                if a < i <= b and ((lv - threshold) * up > 0) == (new == "in"):
                    return i * self.tick_s
        inside = self._bursts_between()
        if not inside:
            return (a + b + 1) / 2 * self.tick_s
        if new == "in":
            return inside[0][0] * self.tick_s
        return (inside[-1][1] + 1) * self.tick_s

    def _bursts_between(self) -> list[list[int]]:
        """The bursts of activity between the old state's last quiet second and the new one's first.

        One that ended just before the old state's last quiet second still counts (the
        first quiet second after a piezo's exit can look like the old state).
        """
        a, b = self._last_same, self._first_diff
        return [br for br in self._bursts if br[1] >= a - BURST_SLACK_TICKS and br[1] < b]

    def periods(self, end_s: float) -> list[tuple[float, float]]:
        """In-bed periods up to `end_s`; an unresolved start counts as in bed."""
        state = self.initial or "in"
        out, since = [], 0.0
        for t, new in self.changes:
            if state == "in" and new == "out":
                out.append((since, t))
            if new == "in":
                since = t
            state = new
        if state == "in":
            out.append((since, end_s))
        return [(a, b) for a, b in out if b > a]

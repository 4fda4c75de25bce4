"""Two sleepers, a strip under each: whose movement it was, and who is in bed.

The physics it rests on, and nothing of one mattress:

- Each strip lies under one sleeper's calves. Their own force reaches it directly,
  through the mattress's thickness. The other's force reaches it only sideways across
  the mattress: a share of it (0.1-0.6 on the beds we model), passed whole at low
  frequency and, above a corner anywhere from about 5 Hz (soft foam) to 40 Hz (a firm
  bed or a shared frame), less. A share under one and a filter that never amplifies
  mean that a movement is always stronger on the mover's own strip than on the
  other, in the strips' own units, whatever the mattress: by 1/0.6 at the least.
  So each movement belongs to the side whose strip carries more of its sustained
  activity over its duration (both strips of one kit read through matched front
  ends). When both move at once, each strip's detector finds its own sleeper's
  movement, and each keeps the one that is stronger on its own side.
- Through the mattress an empty side also carries the other's heartbeat, breath and
  (on load cells) part of their weight, so on its own it can look faintly
  occupied. But what crosses the mattress is the other's force through a linear
  filter: it can be predicted, all but the electrical noise, by a short linear
  filter of the other strip. A strip with its own sleeper carries a heart and a
  breath of its own that the other strip cannot predict. Over each still 30 s the
  strip's unpredicted power, as a share of the other strip's power, is the test:
  an empty side's is under a twentieth (it is noise against a heartbeat); an
  occupied side's is a sizeable share even when its sleeper lies lightly and the
  mattress passes much. Five windows' median decides (a stray window does not), and
  a side is in bed where its own tracker (appliance.detection.occupancy) and its own
  rhythm both say so.

The band for that test is the heartbeat's, at 50 samples a second: two boxcars of
1/50 s and 1/60 s null mains hum, a difference cuts the static load, and the mean
over 0.7 s is taken off to leave breathing's slope out.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from appliance.detection.pipeline import BED_CHANGE_MARGIN_S, Events, StreamDetector
from appliance.detection.scoring import Movement, bed_periods, in_any
from appliance.detection.settings import DetectionConfig

WINDOW_S = 30.0           # the own-rhythm test looks at this much signal at a time
MARGIN_S = 1.0            # filter edges: this much more signal on each side of a window
RHYTHM_RATE = 50.0        # samples per second of the heartbeat band
LAGS = 5                  # the mattress as a linear filter: taps at -0.1..+0.1 s
OWN_MIN = -1.25           # log10 of the unpredicted share over which a strip has a body of its own
SMOOTH = 2                # a window's verdict: the median of it and this many valid windows each side
KEEP_FRAMES_S = 900.0     # frames of sustained activity kept for attribution
CHANGE_BEFORE_S = 300.0   # a change of own rhythm is placed at a movement of that side's from
CHANGE_AFTER_S = 60.0     # this long before the window where it shows to this long after


def heart_band(x: np.ndarray, fs: float) -> np.ndarray:
    """The heartbeat band of one strip at about RHYTHM_RATE samples a second (see the module's notes)."""
    y = x
    for hz in (50.0, 60.0):
        k = max(1, int(round(fs / hz)))
        if k > 1:
            y = np.convolve(y, np.ones(k) / k, mode="same")
    step = max(1, int(round(fs / RHYTHM_RATE)))
    y = y[::step]
    d = np.diff(y, prepend=y[:1])
    k = int(0.7 * fs / step) | 1
    return d - np.convolve(d, np.ones(k) / k, mode="same")


def unpredicted_share(own: np.ndarray, other: np.ndarray) -> float:
    """log10 of the power of `own` that a short linear filter of `other` cannot predict, over `other`'s power."""
    n = min(len(own), len(other))
    own, other = own[:n], other[:n]
    if n <= 4 * LAGS + 2:
        return 0.0
    cols = np.column_stack([np.roll(other, k) for k in range(-LAGS, LAGS + 1)])[LAGS:n - LAGS]
    y = own[LAGS:n - LAGS]
    coef, *_ = np.linalg.lstsq(cols, y, rcond=None)
    resid = y - cols @ coef
    power = float(np.mean(other[LAGS:n - LAGS] ** 2))
    return float(np.log10(max(float(np.mean(resid ** 2)), 1e-300) / max(power, 1e-300)))


def _verdict_at(verdicts: list[tuple[float, str]], t: float) -> str | None:
    """The rhythm's verdict in force at time t (None before the first)."""
    state = None
    for when, new in verdicts:
        if when > t:
            break
        state = new
    return state


def own_bodies(shares) -> tuple[str, str]:
    """Each strip's verdict from the two unpredicted shares of a window.

    One body on the bed makes the two strips one signal seen twice: each predicts the
    other, and the copy across the mattress, which carries only noise of its own, has
    the far lower share. So a share under OWN_MIN says one body, on the other strip;
    two shares over it say a body on each (or, with nobody in bed, noise on each: the
    trackers say so).
    """
    low = int(np.argmin(shares))
    if shares[low] < OWN_MIN:
        return ("out", "in") if low == 0 else ("in", "out")
    return ("in", "in")


class OwnRhythm:
    """Raw samples of both strips in; per 30 s window, each strip's unpredicted share.

    Each window is computed from its own samples and a margin, so the answer does not
    depend on how the samples were chunked.
    """

    def __init__(self, fs: float):
        self.fs = fs
        self.win = int(round(WINDOW_S * fs))
        self.margin = int(round(MARGIN_S * fs))
        self._buf = np.empty((0, 2))
        self._buf_start = 0          # sample number of _buf[0]
        self.shares: list[tuple[float, float]] = []   # per window, strip 0's and strip 1's

    def feed(self, samples: np.ndarray) -> None:
        self._buf = np.concatenate([self._buf, samples])
        step = max(1, int(round(self.fs / RHYTHM_RATE)))
        while True:
            i = len(self.shares)
            a, b = max(i * self.win - self.margin, 0), (i + 1) * self.win + self.margin
            if self._buf_start + len(self._buf) < b:
                break
            chunk = self._buf[a - self._buf_start:b - self._buf_start]
            bands = [heart_band(chunk[:, k], self.fs) for k in range(2)]
            lo = (i * self.win - a) // step
            inner = [bd[lo:lo + self.win // step] for bd in bands]
            self.shares.append((unpredicted_share(inner[0], inner[1]), unpredicted_share(inner[1], inner[0])))
            drop = (i + 1) * self.win - self.margin - self._buf_start
            if drop > 0:
                self._buf = self._buf[drop:]
                self._buf_start += drop


@dataclass
class _Side:
    det: StreamDetector
    frames_start: int = 0                    # frame number of sus[0]
    sus: np.ndarray = None                   # sustained activity per frame, in the strip's units
    ratio: np.ndarray = None                 # sustained activity over its resting level, per frame
    tracker_changes: list = None             # the side's own tracker's bed changes
    pending: list = None                     # its detector's movements not yet attributed
    owned: list = None                       # movements attributed to this side's sleeper, not yet sent
    verdicts: list = None                    # (time, 'in'/'out'): where its own rhythm changes
    verdict: str | None = None
    changes_sent: int = 0
    own: list = None                         # (time, 'in'/'out'): the side's own-rhythm state, final
    own_state: str = "out"
    own_done: float = -1.0                   # events up to this time are in `own`
    tracker_in: bool = False

    def __post_init__(self):
        self.sus, self.ratio = np.empty(0), np.empty(0)
        self.tracker_changes, self.pending, self.owned, self.verdicts, self.own = [], [], [], [], []
        self.moves: list[Movement] = []      # recent movements attributed to this side: where a bed change can be

    @property
    def released_until_s(self) -> float:
        """Its detector has released every movement that ends before this."""
        return self.det.bed.resolved_until_s - BED_CHANGE_MARGIN_S


class CoupleDetector:
    """Two strips, two sleepers: feed both strips' samples, get each sleeper's movements and bed changes.

    Channel k is sleeper k's strip. Each strip has its own detector and bed tracker
    (appliance.detection.pipeline); here their movements are attributed and their
    beds checked against each strip's own rhythm. A side's own rhythm may change
    only where that side's sleeper moved (nobody gets into or out of bed without
    moving), and the change is placed there. Everything is held until both
    strips and the rhythm test have passed it, so the answer is the same in any
    chunking, a few minutes behind the signal.
    """

    def __init__(self, fs: float, detection: DetectionConfig | None = None, *, rails=None,
                 provisional_after_s: float | None = None):
        self.rules = detection or DetectionConfig()
        self.sides = [_Side(StreamDetector(fs, 1, self.rules, rails=rails, provisional_after_s=provisional_after_s,
                                           keep_frames=True)) for _ in range(2)]
        self.fs = float(fs)
        self.frame_s = self.sides[0].det.frame_s
        self.rhythm = OwnRhythm(self.fs)
        self._quiet: list[bool] = []        # per window: no strip held activity over the onset margin
        self._decided = 0                   # windows whose own-rhythm verdict is final
        self._final = False

    @property
    def end_s(self) -> float:
        return self.sides[0].det.end_s

    @property
    def health(self):
        return self.sides[0].det.health

    def feed(self, samples: np.ndarray, gap_samples: int = 0) -> list[Events]:
        samples = np.asarray(samples, dtype=np.float64)
        if samples.ndim != 2 or samples.shape[1] != 2:
            raise ValueError(f"two sleepers need two channels, got shape {samples.shape}")
        for k, side in enumerate(self.sides):
            self._take(side, side.det.feed(samples[:, k], gap_samples))
        self.rhythm.feed(samples)
        return self._release()

    def finish(self) -> list[Events]:
        for side in self.sides:
            self._take(side, side.det.finish())
        self._final = True
        return self._release()

    # -- internals ---------------------------------------------------------
    def _take(self, side: _Side, ev: Events) -> None:
        ch = side.det.chans[0]
        if ch.ratio_frames:
            side.ratio = np.concatenate([side.ratio, *ch.ratio_frames])
            ch.ratio_frames.clear()
        if ch.sus_frames:
            side.sus = np.concatenate([side.sus, *ch.sus_frames])
            ch.sus_frames.clear()
        side.pending.extend(ev.movements)
        side.tracker_changes.extend(ev.bed_changes)

    def _frames_known_s(self) -> float:
        return min(s.frames_start + min(len(s.ratio), len(s.sus)) for s in self.sides) * self.frame_s

    def _attributed_until_s(self) -> float:
        """Every movement ending before this has been given to its sleeper."""
        if self._final:
            return float("inf")
        return min(self._frames_known_s(), *(s.released_until_s for s in self.sides)) - BED_CHANGE_MARGIN_S

    def _attribute(self) -> None:
        """Give each movement its detector released to the sleeper on whose strip it is stronger."""
        known = float("inf") if self._final else self._frames_known_s() - BED_CHANGE_MARGIN_S
        for k, side in enumerate(self.sides):
            keep = []
            for m in side.pending:
                if m.offset_s > known:
                    keep.append(m)
                elif self._stronger_on(m) == k:
                    side.owned.append(m)
                    side.moves.append(m)
            side.pending = keep

    def _stronger_on(self, m: Movement) -> int:
        """The side whose strip carries more of the movement's sustained activity."""
        a = int(m.onset_s / self.frame_s)
        b = max(int(m.offset_s / self.frame_s), a + 1)
        sizes = []
        for s in self.sides:
            x = s.sus[max(a - s.frames_start, 0):max(b - s.frames_start, 0)]
            sizes.append(float(x.mean()) if len(x) else 0.0)
        return int(np.argmax(sizes))

    def _decide_windows(self) -> None:
        """Each side's own-rhythm verdict, window by window, once its neighbours are known."""
        shares = self.rhythm.shares
        limit = 1.0 + self.rules.onset_margin
        known_frames = self._frames_known_s() / self.frame_s
        while len(self._quiet) < len(shares):
            i = len(self._quiet)
            a, b = int(i * WINDOW_S / self.frame_s), int((i + 1) * WINDOW_S / self.frame_s)
            if b > known_frames:
                break
            self._quiet.append(all(float(s.ratio[a - s.frames_start:b - s.frames_start].max(initial=0.0)) < limit
                                   for s in self.sides))
        known = len(self._quiet)
        while self._decided < known and (self._final or self._decided + SMOOTH < known):
            i = self._decided
            near = [shares[j] for j in range(max(0, i - SMOOTH), min(known, i + SMOOTH + 1)) if self._quiet[j]]
            if near:                # else nothing still nearby: the verdict before stands
                for side, state in zip(self.sides, own_bodies(np.median(np.array(near), axis=0))):
                    if state != side.verdict:
                        side.verdict = state
                        side.verdicts.append((i * WINDOW_S, state))
            self._decided += 1

    def _follow_own(self, side: _Side, until: float) -> None:
        """Extend the side's own-rhythm changes (side.own) through `until`, within its tracker's periods.

        Each period the tracker finds starts as the rhythm says once settled (a window
        in); inside it, a change needs a movement of this side's sleeper near where the
        rhythm changed, and is placed at it: nobody gets into or out of bed without
        moving. Only what is final is taken, so the answer does not depend on chunking.
        """
        events = [(t, "tracker", new) for t, new in side.tracker_changes]
        events += [(t, "rhythm", new) for t, new in side.verdicts]
        for t, what, new in sorted(events, key=lambda e: (e[0], e[1] == "rhythm")):
            if t <= side.own_done or t > until - WINDOW_S:
                continue
            if what == "tracker":
                side.tracker_in = new == "in"
                state = _verdict_at(side.verdicts, (np.floor(t / WINDOW_S) + 1) * WINDOW_S) if side.tracker_in else "out"
                side.own.append((t, state))
                side.own_state = state
            elif side.tracker_in and new != side.own_state:
                near = [m for m in side.moves if t - CHANGE_BEFORE_S <= m.onset_s and m.offset_s <= t + CHANGE_AFTER_S]
                if near:
                    side.own.append((near[0].onset_s if new == "in" else near[-1].offset_s, new))
                    side.own_state = new
            side.own_done = t

    def _decided_until_s(self) -> float:
        if self._final:
            return self.end_s
        return min(min(s.det.bed.resolved_until_s for s in self.sides),
                   self._decided * WINDOW_S - CHANGE_AFTER_S, self._attributed_until_s() - CHANGE_AFTER_S)

    def _bed(self, side: _Side, until: float) -> list[tuple[float, float]]:
        """The side's in-bed periods up to `until`: where its tracker and its own rhythm both say in bed."""
        self._follow_own(side, until)
        tracker = bed_periods(side.tracker_changes, until)
        own = bed_periods(side.own, until)
        out = []
        for a, b in tracker:
            for c, d in own:
                lo, hi = max(a, c), min(b, d)
                if hi > lo:
                    out.append((lo, hi))
        return out

    def _changes(self, periods: list[tuple[float, float]], until: float) -> list[tuple[float, str]]:
        """The bed changes of these periods; a period's end at `until` (or the stream's end) is no change."""
        out = []
        for a, b in periods:
            out.append((a, "in"))
            if b < until and b < self.end_s:
                out.append((b, "out"))
        return out

    def _release(self) -> list[Events]:
        self._attribute()
        self._decide_windows()
        until = self._decided_until_s()
        out = [Events(), Events()]
        for k, side in enumerate(self.sides):
            bed = self._bed(side, until)
            changes = self._changes(bed, until)
            keep = []
            for m in side.owned:
                if not self._final and m.offset_s + BED_CHANGE_MARGIN_S > until:
                    keep.append(m)
                    continue
                if not in_any(m.onset_s, m.offset_s, bed):
                    continue        # its sleeper is not in bed: the other's after all, or nobody's
                if any(m.onset_s - BED_CHANGE_MARGIN_S <= t <= m.offset_s + BED_CHANGE_MARGIN_S
                       for t, _ in changes if t > 0):
                    m.kind = "large"     # getting in or out of bed
                out[k].movements.append(m)
            side.owned = keep
            # a change is final only once the signal after it is decided: the last waits for the end
            final = changes if self._final else [c for c in changes if c[0] < until - WINDOW_S]
            new = final[side.changes_sent:]
            side.changes_sent += len(new)
            out[k].bed_changes.extend(new)
            side.moves = [m for m in side.moves if m.offset_s > until - 2 * CHANGE_BEFORE_S - WINDOW_S]
        self._trim(until)
        return out

    def _trim(self, until: float) -> None:
        """Forget frames that no movement still waiting on either side can need."""
        keep_from = int((min(until, self._frames_known_s()) - KEEP_FRAMES_S) / self.frame_s)
        waiting = [m.onset_s for side in self.sides for m in side.pending]
        if waiting:
            keep_from = min(keep_from, int(min(waiting) / self.frame_s) - 10)
        keep_from = min(keep_from, int(len(self._quiet) * WINDOW_S / self.frame_s))
        for side in self.sides:
            drop = keep_from - side.frames_start
            if drop > 0:
                side.sus, side.ratio = side.sus[drop:], side.ratio[drop:]
                side.frames_start += drop

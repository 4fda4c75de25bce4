"""Two sleepers, a strip under each: whose movement it was, and who is in bed.

The physics it rests on, and nothing of one mattress:

- Each strip lies under one sleeper's calves. Their own force reaches it directly,
  through the mattress's thickness. The other's force reaches it only sideways across
  the mattress: a share of it (0.1-0.6 on the beds we model), passed whole at low
  frequency and, above a corner anywhere from about 5 Hz (soft foam) to 40 Hz (a firm
  bed or a shared frame), less. A share under one and a filter that never amplifies
  mean that a movement is always stronger on the mover's own strip than on the
  other, in the strips' own units, whatever the mattress: by 1/0.6 at the least.
  And the share that crosses is a linear filter that can be measured in the bed:
  each side's detector reads its strip with the other strip's share taken off
  (appliance.detection.crosstalk), so it sees its own sleeper alone -- no second
  heart beating against its own, no partner's kick beside its own. A movement
  found there while the other strip (its share taken off too) holds still is this
  side's. Otherwise each movement belongs to the side whose strip carries more of
  its sustained activity, frame by frame over most of its duration and by
  WHOLE_LEAD over all of it (both strips of one kit read through matched front
  ends). When both move at once, each strip's detector finds activity on its strip,
  and each side keeps the stretch where its own strip leads by PART_LEAD, more than
  crosstalk can bring. Once the filter is sure (fitted on half a minute of the other's
  movement), what is left of the other's movement on this strip is measured too
  (a few percent of its size), and the leads shrink to LEFT_MARGIN times that: a
  sleeper whose strip reads them weakly still keeps a kick made while the other
  kicked. And a kick made while the other turns over for half a minute starts and
  stops on its own: just before and after it, this strip held still while the
  other's went on moving, so what leaks across is measured right there (no more
  than this strip's activity over theirs, its own heart included, and never less
  than LEAK_FLOOR), and a lead of LEFT_MARGIN times that is this side's kick. The
  fit's `left`, a median over many movements, misses a turn whose leak is smaller:
  without this, kicks inside the other's turn were lost (8 of one held-out
  sleeper's 12 misses).
- A strip held at its ADC's rails no longer measures what moves it: a kick that
  drives its own strip from rail to rail reads smaller there than it is, and the
  filter, fitted on movements that did not clip, no longer says what is left of it
  on the other strip (on one held-out bed, a fifth of it, where the fit said a
  twentieth). The mattress passes at most 0.6 of a force across, so the strip held
  at its rails more is the mover's. Where over a movement the other strip was held
  there more, the frames it was held in (and PINNED_PAD either side) are the
  other's, and of the rest this side keeps only a stretch where its strip leads by
  PART_LEAD (both moved at once: she answers his kick while his strip still clips).
- Through the mattress an empty side also carries the other's heartbeat, breath and
  (on load cells) part of their weight, so on its own it can look faintly
  occupied. But what crosses the mattress is the other's force through a linear
  filter: it can be predicted, all but the electrical noise, by a short linear
  filter of the other strip. A strip with its own sleeper carries a heart and a
  breath of its own that the other strip cannot predict. Over the still samples of
  each 30 s, each strip's unpredicted power as a share of the other strip's power is
  the test (bodies): one body on the bed makes the copy's share tiny (it is noise
  against a heartbeat), two bodies leave both sizeable, even when one lies lightly
  and the mattress passes much; a strip's unpredicted power far over its own floor
  (its electrical noise) is a body too. Five windows' median decides (a stray window
  does not). Where the test says one body, that settles who is in bed; where it says
  two or none, each strip's own tracker (appliance.detection.occupancy) does -- but
  "two or none" right after "one body, on the other strip" is none when the other's
  tracker saw them get up; and when the other's tracker sees them back while the
  verdict still says "two or none", it is two (this side came back first: none
  to two is no change of verdict). Likewise "two or none" right after "one body,
  on this strip" is none when the other's tracker still sees nobody come (this
  side's tracker may be wrong: see next). A tracker that says "out" seconds after
  the other's said "in" read the other's weight arriving (on load cells it moves
  this strip's level too): while the rhythm says "two or none", a body came and
  none went. A verdict moves anybody only once it has held MIN_HOLD_S (a trip out
  of bed lasts longer; a sleeper lying lightly can let the other's heart seem the
  only one for a window or two). A change of who is in bed is placed at a movement
  of that side's sleeper: nobody gets into or out of bed without moving (lying down
  is the strongest movement near, getting up the last). And nobody is out of bed
  while their movements go on: movements that stand out on this strip over the
  other are made by a body on this side, so the rhythm's "out" is not taken when
  STILL_MOVING of them follow within MIN_HOLD_S.

The band for that test is the heartbeat's, at 50 samples a second: two boxcars of
1/50 s and 1/60 s null mains hum, a difference cuts the static load, and the mean
over 0.7 s is taken off to leave breathing's slope out.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from appliance.detection.clipping import HeldAtRails
from appliance.detection.crosstalk import Crosstalk
from appliance.detection.pipeline import BED_CHANGE_MARGIN_S, Events, StreamDetector, at_a_bed_change
from appliance.detection.scoring import Movement, bed_periods, classify, in_any
from appliance.detection.settings import DetectionConfig

WINDOW_S = 30.0           # the own-rhythm test looks at this much signal at a time
MARGIN_S = 1.0            # filter edges: this much more signal on each side of a window
RHYTHM_RATE = 50.0        # samples per second of the heartbeat band
LAGS = 5                  # the mattress as a linear filter: taps at -0.1..+0.1 s
OWN_MIN = -1.25           # log10 of the unpredicted share over which a strip has a body of its own
OWN_OVER_FLOOR = 1.0      # or log10 of its unpredicted power this far over the strip's lowest
COPY_ONLY = -2.5          # (unless its share is under this: a copy, whatever its power)
SMOOTH = 2                # a window's verdict: the median of it and this many valid windows each side
MIN_STILL_S = 10.0        # a window is judged on at least this much still signal
STILL_PAD_S = 0.5         # and not this close to a movement on either strip
WHOLE_LEAD = 1.2          # a movement is a side's if its strip carries this much more of it than the other
LEFT_MARGIN = 3.0         # once the other's share is taken off, a lead of this many times what is left of it
LEAK_BESIDE_S = 1.5       # what of the other's movement leaks across is measured this long either side of one
LEAK_GAP_S = 0.3          # this far from it (both within the BED_CHANGE_MARGIN_S known after a movement)
LEAK_FLOOR = 0.02         # and taken as no less than this: the filter takes a movement off no closer than a few
                          # percent, varying with the movement (chosen from 0.02 and 0.04 on two of bench.sleepers'
                          # nights, couple_loadcell 206 and 207, which are no longer held out for this rule)
PART_LEAD = 1.5           # a stretch of a mixed one is, where its strip carries this much more (crosstalk <= 0.6)
PINNED_PAD = 2            # and frames either side of it (the misfit lasts the filter's 0.24 s past the clipping)
KEEP_FRAMES_S = 900.0     # frames of sustained activity kept for attribution
CHANGE_BEFORE_S = 300.0   # a change of own rhythm is placed at a movement of that side's from
CHANGE_AFTER_S = 60.0     # this long before the window where it shows to this long after
SETTLE_S = 120.0          # a tracker's change is judged by the rhythm this long after it
MIN_HOLD_S = 240.0        # a rhythm verdict counts once it has held this long (a trip out of bed lasts longer)
STILL_MOVING = 2          # a side's own movements after the rhythm said it was empty that keep its sleeper in bed


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


def unpredicted(own: np.ndarray, other: np.ndarray, still: np.ndarray | None = None) -> tuple[float, float] | None:
    """The power of `own` that a short linear filter of `other` cannot predict: log10 of its share of
    `other`'s power, and log10 of the power itself.

    Only samples where `still` is true count (movement would swamp the hearts); None
    when too few are left to judge by.
    """
    n = min(len(own), len(other))
    own, other = own[:n], other[:n]
    rows = np.ones(n - 2 * LAGS, bool) if still is None else still[LAGS:n - LAGS]
    if rows.sum() < MIN_STILL_S * RHYTHM_RATE:
        return None
    cols = sliding_window_view(other, 2 * LAGS + 1)[rows]     # other[t - LAGS .. t + LAGS], row by row
    y = own[LAGS:n - LAGS][rows]
    gram, cross = cols.T @ cols, cols.T @ y
    try:
        coef = np.linalg.solve(gram, cross)
    except np.linalg.LinAlgError:                        # a strip with nothing on it: no filter to fit
        coef = np.linalg.lstsq(cols, y, rcond=None)[0]
    left = max(float(y @ y - coef @ cross) / len(y), float(np.mean(y ** 2)) * 1e-12, 1e-300)
    resid = np.log10(left)
    return resid - np.log10(max(float(np.mean(cols[:, LAGS] ** 2)), 1e-300)), resid


def _leads_whole(mine: np.ndarray, theirs: np.ndarray, lead: float) -> bool:
    """A movement is all this side's: its strip carries `lead` times the other's over most of its frames,
    and WHOLE_LEAD times that over all of them."""
    return (mine >= lead * theirs).mean() >= 0.5 and mine.mean() >= lead * WHOLE_LEAD * theirs.mean()


def _verdict_at(verdicts: list[tuple[float, str]], t: float) -> str | None:
    """The state in force at time t of a list of (time, state) changes: the rhythm's verdicts, or a
    tracker's bed changes (None before the first)."""
    state = None
    for when, new in verdicts:
        if when > t:
            break
        state = new
    return state


def bodies(shares, powers, floors) -> str:
    """Who is on the bed, from a window's two unpredicted shares and powers (log10) and each strip's floor.

    One body on the bed makes the two strips one signal seen twice: each predicts the
    other, and the copy across the mattress, which carries only noise of its own, has
    the far lower share. So a share under OWN_MIN says one body, on the other strip
    ("0" or "1") -- unless that strip's own unpredicted power stands well over the
    lowest it has shown (its electrical noise, once it has been empty): a sleeper
    lying lightly beside one lying heavily. But a share under COPY_ONLY is a copy
    whatever its power: what a short filter leaves of a strong body's signal across
    the mattress stands over a quiet strip's noise too, and a sleeper's own heart,
    however lightly they lie, is not a three-hundredth of the other's across the
    mattress (their couplings to their own strips would differ eighteenfold).
    Otherwise "2": a body on each, or nobody (each strip's tracker tells which).
    """
    low = int(np.argmin(shares))
    if shares[low] < OWN_MIN and (powers[low] < floors[low] + OWN_OVER_FLOOR or shares[low] < COPY_ONLY):
        return "1" if low == 0 else "0"
    return "2"


class OwnRhythm:
    """Raw samples of both strips in; per 30 s window, both strips' heartbeat band (judged later).

    Each window is computed from its own samples and a margin, so the answer does not
    depend on how the samples were chunked.
    """

    def __init__(self, fs: float):
        self.fs = float(fs)
        self.win = int(round(WINDOW_S * fs))
        self.margin = int(round(MARGIN_S * fs))
        self._buf = np.empty((0, 2))
        self._buf_start = 0          # sample number of _buf[0]
        self.step = max(1, int(round(fs / RHYTHM_RATE)))
        self.bands: list[tuple[np.ndarray, np.ndarray]] = []   # per window, both strips' heartbeat band
        self.first = 0                                         # window number of bands[0]

    def feed(self, samples: np.ndarray) -> None:
        self._buf = np.concatenate([self._buf, samples])
        step = self.step
        while True:
            i = self.first + len(self.bands)
            a, b = max(i * self.win - self.margin, 0), (i + 1) * self.win + self.margin
            if self._buf_start + len(self._buf) < b:
                break
            chunk = self._buf[a - self._buf_start:b - self._buf_start]
            bands = [heart_band(chunk[:, k], self.fs) for k in range(2)]
            lo = (i * self.win - a) // step
            self.bands.append(tuple(bd[lo:lo + self.win // step] for bd in bands))
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
    held: np.ndarray = None                  # samples its ADC held at a rail, per frame (from frames_start too)
    tracker_changes: list = None             # the side's own tracker's bed changes
    pending: list = None                     # its detector's movements not yet attributed
    owned: list = None                       # movements attributed to this side's sleeper, not yet sent
    changes_sent: int = 0
    own: list = None                         # (time, 'in'/'out'): the side's bed changes, final
    own_state: str = "out"
    own_done: float = -1.0                   # events up to this time are in `own`
    tracker_in: bool = False

    def __post_init__(self):
        self.sus, self.ratio, self.held = np.empty(0), np.empty(0), np.empty(0, int)
        self.tracker_changes, self.pending, self.owned, self.own = [], [], [], []
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
                                           keep_frames=True, whole=True)) for _ in range(2)]
        self.fs = float(fs)
        self.frame_s = self.sides[0].det.frame_s
        self._rails = HeldAtRails(2, self.sides[0].det.chans[0].h)   # counts per frame what the crosstalk flags
        self.rhythm = OwnRhythm(self.fs)
        self.crosstalk = Crosstalk(self.fs, rails)   # each side's detector reads its strip less the other's share
        self._shares: list[tuple[float, float] | None] = []   # per window judged: both unpredicted shares
        self._decided = 0                   # windows whose own-rhythm verdict is final
        self._floors = np.full(2, np.inf)   # each strip's lowest unpredicted power so far (log10)
        self._floored = 0                   # windows taken into the floors
        self._verdict: str | None = None
        self._verdicts: list[tuple[float, str]] = []   # (time, '0', '1' or '2'): who is on the bed
        self._final = False

    @property
    def end_s(self) -> float:
        return self.sides[0].det.end_s

    @property
    def health(self):
        """The first strip's health (each strip's is in sides[k].det.health)."""
        return self.sides[0].det.health

    @property
    def tick_s(self) -> float:
        return self.sides[0].det.tick_s

    @property
    def samples_seen(self) -> int:
        return self.sides[0].det.samples_seen

    def separate(self, samples: np.ndarray) -> np.ndarray:
        """Each strip less the other sleeper's share (appliance.detection.crosstalk): what `feed`
        reads, and what each one's heart and breathing are read from. Once per block, in order."""
        samples = np.asarray(samples, dtype=np.float64)
        if samples.ndim != 2 or samples.shape[1] != 2:
            raise ValueError(f"two sleepers need two channels, got shape {samples.shape}")
        return self.crosstalk.feed(samples)

    def feed(self, samples: np.ndarray, gap_samples: int = 0, own: np.ndarray | None = None) -> list[Events]:
        """Both strips' samples; `own`, when the caller has already separated them (`separate`)."""
        samples = np.asarray(samples, dtype=np.float64)
        own = self.separate(samples) if own is None else own
        held = self._rails.count(self.crosstalk.held)       # separate() found them in these samples
        for k, side in enumerate(self.sides):
            side.held = np.concatenate([side.held, held[:, k]])
            self._take(side, side.det.feed(own[:, k], gap_samples, raw=samples[:, k]))
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
                else:
                    own = self._own_part(m, k)
                    if own is not None:
                        side.owned.append(own)
                        side.moves.append(own)
            side.pending = keep

    def _own_part(self, m: Movement, k: int) -> Movement | None:
        """What of a movement side k's detector found is side k's sleeper's own, or None.

        Frame by frame, the movement is k's where strip k carries more of it than the
        other strip. Mostly k's: all of it. Mostly the other's: the longest stretch
        where k's strip leads, if it is long enough to be a movement (both moved at
        once, and this is k's part), else none of it (the other's, through the mattress).
        """
        a = int(round(m.onset_s / self.frame_s))
        b = max(int(round(m.offset_s / self.frame_s)), a + 1)
        mine, theirs = (s.sus[max(a - s.frames_start, 0):max(b - s.frames_start, 0)] for s in (self.sides[k], self.sides[1 - k]))
        n = min(len(mine), len(theirs))
        if n == 0:
            return None
        mine, theirs = mine[:n], theirs[:n]
        other = self.sides[1 - k]
        still = other.ratio[max(a - other.frames_start, 0):max(b - other.frames_start, 0)]
        if len(still) and still.max() <= 1.0 + self.rules.onset_margin:
            return m          # the other strip (the other's share taken off) holds still: nobody else moved
        # with the other's share taken off, what is left of their movement on this strip is a small part
        # of it, measured (Crosstalk.fit_at): a lead a few times that is enough (margins tuned on TUNING nights)
        # (not where the other strip was held at its ADC's rails: the fit is of movements that were not)
        left, sure = self.crosstalk.fit_at(k, int(m.onset_s * self.fs))
        pinned = self._pinned(k, a, n)
        lead = min(1.0, LEFT_MARGIN * left) if sure else 1.0
        if not pinned.any():
            if _leads_whole(mine, theirs, lead):
                return m
            leak = self._leak_beside(k, a, b)
            if leak is not None and _leads_whole(mine, theirs, min(1.0, LEFT_MARGIN * max(leak, LEAK_FLOOR))):
                return m
        side = self.sides[k]
        ratio = side.ratio[max(a - side.frames_start, 0):max(b - side.frames_start, 0)][:n]
        best, run_start, longest = None, None, 0
        for i, ahead in enumerate(np.append((mine >= lead * PART_LEAD * theirs) & ~pinned, False)):
            if ahead and run_start is None:
                run_start = i
            elif not ahead and run_start is not None:
                if i - run_start > longest:
                    best, longest = (run_start, i), i - run_start
                run_start = None
        if best is None:
            return None
        part = ratio[best[0]:best[1]]
        if part.max() <= 1.0 + self.rules.onset_margin or np.median(part) < self.rules.min_sustained:
            return None       # k's strip leads only where little moves: the other's movement's fringe
        onset, offset = (a + best[0]) * self.frame_s, (a + best[1]) * self.frame_s
        kind = classify(onset, offset, 1, self.rules)
        if kind is None:
            return None
        return Movement(onset, offset, kind, m.channels, m.peak)

    def _leak_beside(self, k: int, a: int, b: int) -> float | None:
        """What of the other's movement reaches strip k, measured beside frames a..b: where the other went
        on moving (their strip over the onset margin) while this strip held still (never over it), the
        median of this strip's activity over theirs -- no less than what leaks across, for this side's
        own heart is in it too. The largest such share of the stretches either side, or None if neither
        qualifies (the other was not moving, or this side was)."""
        near, gap = int(round(LEAK_BESIDE_S / self.frame_s)), int(round(LEAK_GAP_S / self.frame_s))
        me, them = self.sides[k], self.sides[1 - k]
        limit = 1.0 + self.rules.onset_margin
        shares = []
        for lo, hi in ((a - gap - near, a - gap), (b + gap, b + gap + near)):
            frames = [per_frame[max(lo - side.frames_start, 0):max(hi - side.frames_start, 0)]
                      for side in (me, them) for per_frame in (side.sus, side.ratio)]
            mine, my_ratio, theirs, their_ratio = frames
            n = min(map(len, frames))
            if n < near or my_ratio[:n].max() > limit or np.median(their_ratio[:n]) <= limit:
                continue
            shares.append(float(np.median(mine[:n] / np.maximum(theirs[:n], np.finfo(float).tiny))))
        return max(shares) if shares else None

    def _pinned(self, k: int, a: int, n: int) -> np.ndarray:
        """The n frames from frame a where the other strip was held at its rails more than strip k (and
        PINNED_PAD frames either side), if over all of them it was held there more; else none."""
        def held(side: _Side) -> np.ndarray:
            h = side.held[max(a - side.frames_start, 0):][:n]
            return np.pad(h, (0, n - len(h)))      # the stream's last part-frame has no count

        mine, theirs = held(self.sides[k]), held(self.sides[1 - k])
        if theirs.sum() <= mine.sum():
            return np.zeros(n, bool)
        return np.convolve(theirs > mine, np.ones(2 * PINNED_PAD + 1))[PINNED_PAD:PINNED_PAD + n] > 0

    def _judge(self, i: int, bands: tuple[np.ndarray, np.ndarray]) -> tuple[float, float, float, float] | None:
        """Window i's two unpredicted shares and powers (log10), from its still samples (None: too little was still)."""
        rate = self.fs / self.rhythm.step
        t = i * WINDOW_S + np.arange(len(bands[0])) / rate
        f0, f1 = int(i * WINDOW_S / self.frame_s), int((i + 1) * WINDOW_S / self.frame_s)
        pad = int(round(STILL_PAD_S / self.frame_s))
        limit = 1.0 + self.rules.offset_margin
        moving = np.zeros(f1 - f0 + 2 * pad, bool)
        for s in self.sides:
            lo = f0 - pad - s.frames_start
            seg = s.ratio[max(lo, 0):f1 + pad - s.frames_start] > limit
            at = max(-lo, 0)
            moving[at:at + len(seg)] |= seg[:len(moving) - at]
        near = np.convolve(moving, np.ones(2 * pad + 1), mode="same") > 0
        frames = np.clip((t / self.frame_s).astype(int), f0, f1 - 1)
        still = ~near[pad + frames - f0]
        one = unpredicted(bands[0], bands[1], still)
        two = unpredicted(bands[1], bands[0], still)
        return None if one is None or two is None else (one[0], two[0], one[1], two[1])

    def _decide_windows(self) -> None:
        """Each side's own-rhythm verdict, window by window, once its neighbours are known."""
        rh = self.rhythm
        known_frames = self._frames_known_s() / self.frame_s
        while rh.bands:
            i = rh.first
            if int((i + 1) * WINDOW_S / self.frame_s) + 10 > known_frames and not self._final:
                break
            self._shares.append(self._judge(i, rh.bands.pop(0)))
            rh.first += 1
        known = len(self._shares)
        while self._decided < known and (self._final or self._decided + SMOOTH < known):
            i = self._decided
            near = [x for x in self._shares[max(0, i - SMOOTH):i + SMOOTH + 1] if x is not None]
            for x in self._shares[self._floored:i + SMOOTH + 1]:
                if x is not None:
                    self._floors = np.minimum(self._floors, x[2:])
            self._floored = max(self._floored, min(i + SMOOTH + 1, known))
            if near:                # else nothing still nearby: the verdict before stands
                med = np.median(np.array(near), axis=0)
                verdict = bodies(med[:2], med[2:], self._floors)
                if verdict != self._verdict:
                    self._verdict = verdict
                    self._verdicts.append((i * WINDOW_S, verdict))
            self._decided += 1

    def _follow_own(self, k: int, until: float) -> None:
        """Extend side k's bed changes (side.own) through `until`.

        Where the rhythm says one body, on this strip or the other, that settles it;
        where it says two or none, the side's own tracker does. A change the rhythm
        brings needs a movement of this side's sleeper near where it showed, and is
        placed at it: nobody gets into or out of bed without moving. Only what is
        final is taken, so the answer does not depend on chunking.
        """
        side = self.sides[k]
        after = lambda changes: changes[bisect.bisect_right(changes, side.own_done, key=lambda c: c[0]):]
        events = [(t, "tracker", new) for t, new in after(side.tracker_changes)]
        events += [(t, "rhythm", new) for t, new in self._lasting(after(self._verdicts))]
        events += [(t, "partner", new) for t, new in after(self.sides[1 - k].tracker_changes) if new == "in"]
        last = until if self._final else until - WINDOW_S - max(SETTLE_S, MIN_HOLD_S)
        for t, what, new in sorted(events, key=lambda e: (e[0], e[1] == "rhythm")):
            if t > last:
                break
            side.own_done = t
            if what == "partner":
                # the other got back in while the rhythm said "two or none" throughout: if it still says so,
                # it is two now, and this side came back first (none -> two shows no change of verdict)
                if side.own_state == "out" and side.tracker_in and _verdict_at(self._verdicts, t + SETTLE_S) == "2":
                    self._place(side, t, "in")
                continue
            if what == "tracker":
                # the rhythm as it settles after the tracker's change: the window it starts in still
                # holds the empty bed before
                verdict = _verdict_at(self._verdicts, t + SETTLE_S)
                if new == "out" and verdict == "2" and self._other_came(k, t):
                    continue     # the other lay down: their weight moved this strip, this sleeper did not leave
                side.tracker_in = new == "in"
            else:
                verdict = new
            want = side.tracker_in if verdict in (None, "2") else verdict == str(k)
            if what == "rhythm" and verdict == "2" and want and self._one_body_left(k, t):
                want = False     # the one body on the bed got up: nobody is left, not two
            state = "in" if want else "out"
            if state == side.own_state:
                continue
            if what == "tracker":
                side.own.append((t, state))
                side.own_state = state
                continue
            self._place(side, t, state)

    @staticmethod
    def _place(side: _Side, t: float, state: str) -> None:
        """A change the rhythm brings, at a movement of this side's sleeper near t (none near: no change).

        Not out of bed while this side's sleeper goes on moving: movements that stand out on
        this strip over the other are made by a body on this side (STILL_MOVING of them in the
        MIN_HOLD_S after the verdict), whatever the rhythm could not tell apart.
        """
        near = [m for m in side.moves if t - CHANGE_BEFORE_S <= m.onset_s and m.offset_s <= t + CHANGE_AFTER_S
                and m.onset_s > (side.own[-1][0] if side.own else -1.0)]
        if not near:
            return
        # getting in is the strongest movement near (lying down), getting out the last one
        at = max(near, key=lambda m: m.peak).onset_s if state == "in" else near[-1].offset_s
        if state == "out" and sum(at < m.onset_s <= t + MIN_HOLD_S for m in side.moves) >= STILL_MOVING:
            return
        side.own.append((at, state))
        side.own_state = state

    def _one_body_left(self, k: int, t: float) -> bool:
        """At a rhythm verdict of "two or none" at time t that follows "one body" (on either strip): the
        other side's own tracker sees nobody there, so the one body got up, or nobody came beside it
        (none, not two). If the one body was the other's, their tracker saw them get up; this side's
        reads the strip with the other's share taken off, and an empty side's may never have changed.
        If it was this side's, nobody came to the other side, whatever this side's own tracker says."""
        if _verdict_at(self._verdicts, t - 1e-6) not in ("0", "1"):
            return False
        return _verdict_at(self.sides[1 - k].tracker_changes, t + SETTLE_S) == "out"

    def _other_came(self, k: int, t: float) -> bool:
        """This side's tracker saw its sleeper leave at t, SETTLE_S or less after the other's tracker saw
        theirs lie down: on load cells the weight that came onto the other side moves this strip's
        level too, and the rhythm, saying "two or none", cannot tell; a body came, none went."""
        return any(t - SETTLE_S <= when <= t and new == "in" for when, new in self.sides[1 - k].tracker_changes)

    def _lasting(self, verdicts: list[tuple[float, str]]) -> list[tuple[float, str]]:
        """The verdicts that held at least MIN_HOLD_S (or still hold): a blip of a window or two, where a
        sleeper lying lightly let the other's heart seem the only one, moves nobody out of bed."""
        every = self._verdicts
        out = []
        for t, new in verdicts:
            i = bisect.bisect_right(every, t, key=lambda c: c[0])
            if i >= len(every) or every[i][0] - t >= MIN_HOLD_S:
                out.append((t, new))
        return out

    def _decided_until_s(self) -> float:
        if self._final:
            return self.end_s
        return min(min(s.det.bed.resolved_until_s for s in self.sides),
                   self._decided * WINDOW_S - CHANGE_AFTER_S, self._attributed_until_s() - CHANGE_AFTER_S)

    def _bed(self, k: int, until: float) -> list[tuple[float, float]]:
        """Side k's in-bed periods up to `until`."""
        self._follow_own(k, until)
        return bed_periods(self.sides[k].own, until)

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
        # a change may still be placed up to CHANGE_BEFORE_S before an event not yet followed
        settled = until if self._final else until - WINDOW_S - max(SETTLE_S, MIN_HOLD_S) - CHANGE_BEFORE_S - BED_CHANGE_MARGIN_S
        out = [Events(), Events()]
        for k, side in enumerate(self.sides):
            bed = self._bed(k, until)
            changes = self._changes(bed, until)
            keep = []
            for m in side.owned:
                if not self._final and m.offset_s + BED_CHANGE_MARGIN_S > settled:
                    keep.append(m)
                    continue
                if not in_any(m.onset_s, m.offset_s, bed):
                    continue        # its sleeper is not in bed: the other's after all, or nobody's
                if at_a_bed_change(m, [t for t, _ in changes if t > 0]):
                    m.kind = "large"     # getting in or out of bed
                out[k].movements.append(m)
            side.owned = keep
            final = changes if self._final else [c for c in changes if c[0] < settled]
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
        keep_from = min(keep_from, int(self.rhythm.first * WINDOW_S / self.frame_s) - 20)
        for side in self.sides:
            drop = keep_from - side.frames_start
            if drop > 0:
                side.sus, side.ratio, side.held = side.sus[drop:], side.ratio[drop:], side.held[drop:]
                side.frames_start += drop

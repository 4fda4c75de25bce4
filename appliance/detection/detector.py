"""Streaming movement detection on one channel of a strip.

The signal chain, and why each step:

1. Frames of ~0.1 s (h = round(fs/10) samples). Each frame's value is the mean of
   its samples less the largest and the smallest: a boxcar of 0.1 s has zeros at
   every multiple of 10 Hz, so 50 and 60 Hz mains hum vanish, and dropping the two
   extremes removes single-sample glitches before they can look like a kick.
2. The difference of successive frame values: it cuts the static load, the slow
   creep and bias drift, and passes heartbeat and movement (1-5 Hz). It works the
   same for a piezo (AC) and a load cell (DC).
3. Activity: that difference less its mean over 0.7 s, then its size. Breathing
   (0.15-0.4 Hz) is a slow slope under the differences that would otherwise fill
   the lulls between heartbeats; over 0.7 s it is nearly a constant.
4. Sustained activity: the median of 7 frames (0.7 s) of activity. A heartbeat
   is a burst of two to four loud frames each second and a median of seven does
   not see it; a moving leg keeps most frames loud, and the median keeps the
   extent of any run of four or more. (An RMS envelope is ruled by the beats'
   peaks, so a kick a few times the heartbeat sat in its noise.)
5. Resting level: the median, over the last `rest_window_s` (30 s), of each
   second's highest sustained activity: how high a still sleeper's own heart and
   breath lift it. It follows a change of coupling after a turn within seconds,
   and a movement or a series of them (a few seconds in thirty) does not lift it.
   It never falls under the activity that rounding to the ADC's step makes
   (quantization_floor): a ratio over a level of nothing would run away. And a
   movement that goes on longer than a leg's adds nothing to it: its seconds say
   nothing of a body at rest, and two minutes of fidgeting that clips the ADC at
   both rails would otherwise become the rest, end itself within 15 s, and leave
   the still body after it looking emptier than the bed (`_frozen`).
6. Hysteresis against that level, as the scoring rules ask: onset where sustained
   activity rises above rest x (1 + onset_margin), placed back to where it left
   rest x (1 + offset_margin); offset at the start of the first 0.5 s under that.
   Margins are ratios of the signal's own resting level, never volts: any gain,
   strip, mattress or ADC.
7. Edges by each frame's own activity: a movement's loud frames are those over
   rest x (1 + offset_margin), inside the stretch the sustained activity found or
   up to 0.3 s past it (a median of seven frames leaves the first and last loud
   frames of a short kick out), across one still frame where the leg reverses its
   force. A frame's activity is the change from the frame before to it, so the
   movement ran from the centre of the frame before the first loud one to the
   centre of the last: as long as its frames from the first loud one to the last.
   (The energy of the ends, which this replaced, cut a short kick's weak last
   frames; counting one frame more made half a second of a heartbeat that fell
   on a breath's turn, or on the other sleeper's heart.)

In a shared bed (`shared_bed`), each movement also gets its fast force (appliance.
fastband, about 4-10 Hz) over that band's resting level: a partner's movement
comes through the mattress as slow sway, the sleeper's own legs bring fast force.

A second, slower measure, the RMS of the activity (the differences less their
slope) over 1.1 s against the 25th percentile of per-second medians over 90 s,
marks each second as still or not for bed tracking and health (Tick); it is what
the bed tracker was built on. Less the slope, because a level that creeps (a load
cell's bridge warming, an ADC's bias) is no movement: on a quiet 24-bit ADC a
creep that changed its pace looked like a burst of activity, then like someone
getting into an empty bed.

Everything is computed chunk by chunk from a fixed window of past and future
frames, element by element in a fixed order, so the same samples give the same
movements whether they arrive one second at a time or as one array. Samples are
buffered and processed in chunks of about 10 s: a sleep monitor can wait, and the
per-block cost of the live daemon stays tiny.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from appliance.detection.fastband import FastBand
from appliance.detection.settings import DetectionConfig

FRAME_S = 0.1
FRAMES_PER_TICK = 10       # a 'tick' is 10 frames, about a second
CHUNK_S = 10.0
BIG_PIECE_S = 600          # a long input is worked through ten minutes at a time: less memory, same result
SLOPE_HALF = 3             # breathing's slope: the mean frame difference over 2 x 3 + 1 frames
SUS_HALF = 3               # sustained activity: the median of 2 x 3 + 1 frames of activity
SUS_REST_PERCENTILE = 0.5  # resting level: the median of per-second maxima of sustained activity
BACKTRACK_FRAMES = 10      # how far before the trigger a movement's onset is looked for
EDGE_FRAMES = 3            # a movement's ends: its loud frames, growing at most this many frames a side
BRIDGE_PAST = 1            # one still frame inside them is bridged up to this many frames past the found stretch
REVERSAL_BELOW = 1.0       # a still frame: its activity under this many times the resting level
KEEP_FRAMES = 6000         # at most ten minutes of activity kept for an open movement
# stillness, for bed tracking and health
ENV_HALF = 5               # envelope window: 2 x 5 + 1 frames, about a heartbeat
LOW_RANK = 5               # per-tick level: the median of its 10 envelope frames
REST_PERCENTILE = 0.25
STILL_WINDOW_S = 90.0
STILL_ABOVE, STILL_BELOW = 2.8, 2.0   # a still second: envelope never over 2.8x rest, mostly under 2x
QUANT_FLOOR = 1.5          # resting levels never under this many times the activity of rounding to the ADC's step
# a movement that lasts longer than a leg's keeps its ticks out of the resting levels (ChannelDetector._frozen)
FREEZE_AFTER_S = 10.0      # from when it has lasted this long
FREEZE_MAX_S = 150.0       # until it has lasted this long at most
FREEZE_OVER_FLOOR = 2.0    # only if it began with the level over this many times the ADC's floor
THAW_S = 10.0              # it thaws once its activity has been calm this long: under THAW_RATIO x the
THAW_RATIO = 5.0           # frozen level, or under the movement's peak / THAW_DROP
THAW_DROP = 10.0


STEP_EVERY = 5             # frames apart that the ADC's step is looked for in


def _tick_end(frame: int) -> int:
    """The frame just past the end of the tick that holds `frame` (frames from a tick's start)."""
    return (frame // FRAMES_PER_TICK + 1) * FRAMES_PER_TICK


def quantization_floor(step: float, h: int) -> float:
    """The activity a still input makes through an ADC of this step alone, in frames of h samples.

    Rounding to a step q adds an error uniform in +-q/2 to each sample: a frame mean of
    h - 2 samples carries q / sqrt(12 (h - 2)) of it, a frame difference sqrt(2) times
    that. A resting level below it is the ADC, not a heart: an empty bed on a 10-bit ADC
    sits on one count, nearly every frame difference is zero, and every ratio over such
    a level would run away. The step is the smallest change between samples seen so far:
    one count on a quantizing ADC, next to nothing on a 24-bit one or a float recording.
    """
    return QUANT_FLOOR * step / np.sqrt(6.0 * max(h - 2, 1)) if np.isfinite(step) else 0.0


@dataclass
class Segment:
    """One stretch of activity on one channel, in frames from the start of the stream."""

    onset: int
    offset: int
    peak: float      # peak sustained activity / resting level
    body: float = 0.0   # median sustained activity inside the movement / resting level
    fast: float | None = None   # mean fast force inside / its resting level (shared bed only)


@dataclass
class Tick:
    """About a second of one channel's signal, summarised for bed detection and health."""

    index: int
    level: float     # mean signal level (the static load, for a DC sensor)
    spread: float    # std of frame values within the tick (breathing, noise)
    energy: float    # low envelope of the tick: the resting activity
    rest: float      # the envelope's running resting level
    quiet: bool      # still: no envelope frame over STILL_ABOVE x rest, most under STILL_BELOW
    flat: bool       # every sample identical: unplugged, or stuck at a rail
    floor: float = 0.0   # the activity the ADC's own steps give: a level at it is the ADC, not a body


def _windows(x: np.ndarray, w: int) -> np.ndarray:
    """numpy's sliding_window_view(x, w) of a 1-D array, read-only, without its checks: the chain
    takes some twenty thousand windows a night fed ten seconds at a time, and the checks cost more
    than the work."""
    x = np.ascontiguousarray(x)
    view = np.ndarray((len(x) - w + 1, w), x.dtype, x, 0, (x.itemsize, x.itemsize))
    view.flags.writeable = False
    return view


class _Window:
    """Applies `fn` to every window of `before` past and `after` future values, as values arrive."""

    def __init__(self, before: int, after: int, fn, pad: float = 0.0):
        self.before, self.after, self.fn, self.pad = before, after, fn, pad
        self.buf = np.full(before, pad)

    def push(self, x: np.ndarray) -> np.ndarray:
        self.buf = np.concatenate([self.buf, x])
        k = len(self.buf) - self.before - self.after
        if k <= 0:
            return np.empty(0)
        out = self.fn(_windows(self.buf, self.before + self.after + 1)[:k])
        self.buf = self.buf[k:]
        return out

    def flush(self) -> np.ndarray:
        return self.push(np.full(self.after, self.pad))


def _diff(w):
    return w[:, 1] - w[:, 0]


def _rms(w):
    return np.sqrt(w.mean(axis=1))


def _less_slope(w):
    return w[:, w.shape[1] // 2] - w.mean(axis=1)


def _median_rows(w):
    k = w.shape[1] // 2              # odd windows: the middle value
    return np.partition(w, k, axis=1)[:, k]


def _median3(w):
    return np.maximum(np.minimum(w[:, 0], w[:, 1]), np.minimum(np.maximum(w[:, 0], w[:, 1]), w[:, 2]))


class ChannelDetector:
    """Turns one channel's samples into activity segments and per-tick summaries."""

    def __init__(self, fs: float, cfg: DetectionConfig | None = None, keep_frames: bool = False):
        self.cfg = cfg or DetectionConfig()
        self.fs = float(fs)
        self.h = max(1, int(round(self.fs * FRAME_S)))
        self.frame_s = self.h / self.fs
        self.tick_s = self.frame_s * FRAMES_PER_TICK
        self.quiet_frames = max(1, int(round(self.cfg.offset_quiet_s / self.frame_s)))
        self.rest_ticks = max(5, int(round(self.cfg.rest_window_s / self.tick_s)))
        self.still_ticks = max(5, int(round(STILL_WINDOW_S / self.tick_s)))
        self._pending: list[np.ndarray] = []
        self._pending_n = 0
        self._chunk_n = int(CHUNK_S * self.fs)
        self._piece_n = int(BIG_PIECE_S * self.fs)
        self._tail = np.empty(0)
        self._raw_pending: list[np.ndarray] = []   # the ADC's own readings, where x was worked on first
        self._raw_tail = np.empty(0)
        self._diff = _Window(1, 0, _diff)
        self._rms = _Window(ENV_HALF, ENV_HALF, _rms)
        self._med = _Window(1, 1, _median3)
        self._slope = _Window(SLOPE_HALF, SLOPE_HALF, _less_slope)
        self._sus_win = _Window(SUS_HALF, SUS_HALF, _median_rows)
        self._act_buf = np.empty(0)              # activity: frame differences less the breathing slope
        self._sus_buf = np.empty(0)              # sustained activity (it lags the activity by SUS_HALF frames)
        self._sus_start = 0                      # frame number of _act_buf[0], _sus_buf[0] and _fast_buf[0]
        self._env = np.empty(0)                # envelope frames not yet in a whole tick
        self._values = np.empty(0)             # frame values waiting for their envelope (it lags)
        self._flat = np.empty(0, bool)
        self._steps = np.empty(0)              # per frame: the smallest sample step seen up to it
        self._step = np.inf
        self._step_frames = 0                   # frames looked at for the step so far
        self._lows = np.empty(0)               # recent per-tick lows of the envelope, for its resting level
        self._sus_peaks = np.empty(0)          # recent per-tick maxima of sustained activity, for its resting level
        self._sus_rest = 0.0                   # the last tick's resting sustained activity
        self._still_rest = 0.0                 # the last tick's resting envelope
        self._ticks_done = 0
        self._first_values = True
        # hysteresis state (frame numbers from stream start)
        self._in_event = False
        self._onset = 0
        self._peak = 0.0
        self._quiet_run = 0
        self._onset_rest = 0.0
        self._onset_freezes = False            # the open movement keeps its ticks out of the resting levels
        self.thaw_ticks = max(1, int(round(THAW_S / self.tick_s)))
        self._calm_ticks = 0                   # the frozen movement's last calm ticks in a row
        self._calm_levels: deque = deque(maxlen=self.thaw_ticks)
        self._frame_no = 0                     # next envelope frame to classify
        # fast force, for a shared bed
        self._fast = FastBand(self.fs, self.h) if self.cfg.shared_bed else None
        self._fast_buf = np.empty(0)           # per-frame fast force
        self._fast_means = np.empty(0)         # recent per-tick means of it, for its resting level
        self._fast_rest = 0.0                  # the last tick's resting fast force
        self._onset_fast_rest = 0.0
        self.segments: list[Segment] = []
        self.ticks: list[Tick] = []
        # with keep_frames, every frame's sustained activity, in the signal's units and over its resting
        # level, numbered from the stream's first frame, for a reader that compares strips
        # (appliance.detection.sleepers) to take
        self.keep_frames = keep_frames
        self.sus_frames: list[np.ndarray] = []
        self.ratio_frames: list[np.ndarray] = []

    # -- input -----------------------------------------------------------
    def feed(self, x: np.ndarray, raw: np.ndarray | None = None) -> None:
        """Take samples of this channel; work happens in chunks of ~10 s.

        `raw`: the ADC's own readings, where `x` is them worked on first (another sleeper's share
        taken off): a flat stretch and the ADC's step are facts about the readings.
        """
        self._pending.append(np.asarray(x, dtype=np.float64))
        if raw is not None:
            self._raw_pending.append(np.asarray(raw, dtype=np.float64))
        self._pending_n += len(x)
        if self._pending_n >= self._chunk_n:
            x, raw = self._take_pending()
            for i in range(0, len(x), self._piece_n):   # a whole night at once: in pieces
                self._process(x[i:i + self._piece_n], None if raw is None else raw[i:i + self._piece_n])

    def _take_pending(self) -> tuple[np.ndarray, np.ndarray | None]:
        x = self._pending[0] if len(self._pending) == 1 else np.concatenate(self._pending)
        raw = np.concatenate(self._raw_pending) if self._raw_pending else None
        self._pending, self._raw_pending, self._pending_n = [], [], 0
        return x, raw

    def finish(self) -> None:
        """Process what is buffered and close any open movement at the end of the stream."""
        if self._pending:
            self._process(*self._take_pending())
        if self._fast is not None:
            self._fast_buf = np.concatenate([self._fast_buf, self._fast.flush()])
        act = np.abs(self._slope.flush())
        self._act_buf = np.concatenate([self._act_buf, act])
        self._sus_buf = np.concatenate([self._sus_buf, self._sus_win.push(act), self._sus_win.flush()])
        env = self._med.push(np.concatenate([self._rms.push(act * act), self._rms.flush()]))
        self._take_envelope(np.concatenate([env, self._med.flush()]), final=True)
        if self._in_event:
            self._close(self._frame_no)

    @property
    def open_onset_s(self) -> float | None:
        """Onset of a movement still going on, if any: nothing after it is final yet."""
        return self._onset * self.frame_s if self._in_event else None

    @property
    def processed_s(self) -> float:
        """Stream time up to which segments and ticks are final."""
        return self._frame_no * self.frame_s

    # -- the chain -------------------------------------------------------
    def _process(self, x: np.ndarray, raw: np.ndarray | None) -> None:
        if self._fast is not None:
            self._fast_buf = np.concatenate([self._fast_buf, self._fast.push(x)])
        x = np.concatenate([self._tail, x])
        nf = len(x) // self.h
        self._tail = x[nf * self.h:]
        if raw is not None:
            raw = np.concatenate([self._raw_tail, raw])
            self._raw_tail = raw[nf * self.h:]
        if nf == 0:
            return
        frames = x[:nf * self.h].reshape(nf, self.h)
        readings = frames if raw is None else raw[:nf * self.h].reshape(nf, self.h)
        hi = frames.max(axis=1)
        lo = frames.min(axis=1)
        if self.h >= 5:
            values = (frames.sum(axis=1) - hi - lo) / (self.h - 2)
        else:
            values = frames.mean(axis=1)
        if self._first_values:
            # start the difference from the first value, not from zero
            self._diff.buf[:] = values[0]
            self._first_values = False
        self._values = np.concatenate([self._values, values])
        flat = hi == lo if readings is frames else readings.max(axis=1) == readings.min(axis=1)
        self._flat = np.concatenate([self._flat, flat])
        self._steps = np.concatenate([self._steps, self._running_step(readings)])
        d = self._diff.push(values)
        act = self._keep_activity(d)
        self._take_envelope(self._med.push(self._rms.push(act * act)))
        self._trim_activity()

    def _running_step(self, frames: np.ndarray) -> np.ndarray:
        """Per frame, the smallest nonzero step between sample values up to its end (frame by frame: any chunking)."""
        if frames.shape[1] < 2:
            return np.full(len(frames), self._step)
        # neighbours in value, not in time: mains hum can move every sample by many counts, yet
        # among a frame's values sorted, two that are one count apart are seldom missing
        # (every STEP_EVERY-th frame of the stream is looked at: the step is a fact about the ADC, and
        # sorting every frame would cost more than it tells)
        first = -self._step_frames % STEP_EVERY
        self._step_frames += len(frames)
        smallest = np.full(len(frames), np.inf)
        d = np.diff(np.sort(frames[first::STEP_EVERY], axis=1), axis=1)
        d[d == 0] = np.inf
        smallest[first::STEP_EVERY] = d.min(axis=1) if len(d) else np.inf
        steps = np.minimum.accumulate(np.concatenate([[self._step], smallest]))[1:]
        self._step = float(steps[-1])
        return steps

    def _keep_activity(self, d: np.ndarray) -> np.ndarray:
        act = np.abs(self._slope.push(d))
        self._act_buf = np.concatenate([self._act_buf, act])
        self._sus_buf = np.concatenate([self._sus_buf, self._sus_win.push(act)])
        return act

    def _trim_activity(self) -> None:
        """Forget activity frames no open or future movement can need."""
        keep_from = (self._onset if self._in_event else self._frame_no) - BACKTRACK_FRAMES - 2
        keep_from = max(keep_from, self._frame_no - KEEP_FRAMES)
        drop = keep_from - self._sus_start
        if drop > 0:
            self._act_buf = self._act_buf[drop:]
            self._sus_buf = self._sus_buf[drop:]
            self._fast_buf = self._fast_buf[drop:]
            self._sus_start += drop

    def _take_envelope(self, env: np.ndarray, final: bool = False) -> None:
        """Take whole ticks: movements from sustained activity, stillness from the envelope.

        Resting levels come from past ticks only, and not from the ticks of a movement
        (`_frozen`): the ticks are worked through in runs within which the resting
        levels are known in advance: up to the tick where a movement has lasted long
        enough to freeze them, or, inside a frozen one, up to the tick where it closes.
        A leg movement opens and closes inside a run: its ticks join the levels as any.
        """
        self._env = np.concatenate([self._env, env])
        at = self._frame_no - self._sus_start
        ready = min(len(self._env), len(self._sus_buf) - at)
        if self._fast is not None:
            ready = min(ready, len(self._fast_buf) - at)
        nt = ready // FRAMES_PER_TICK
        if nt:
            m = nt * FRAMES_PER_TICK
            e = self._env[:m].reshape(nt, FRAMES_PER_TICK)
            v = self._values[:m].reshape(nt, FRAMES_PER_TICK)
            f = self._flat[:m].reshape(nt, FRAMES_PER_TICK)
            floor = quantization_floor(1.0, self.h) * self._steps[FRAMES_PER_TICK - 1:m:FRAMES_PER_TICK]
            floor = np.where(np.isfinite(floor), floor, 0.0)
            self._env, self._values, self._flat = self._env[m:], self._values[m:], self._flat[m:]
            self._steps = self._steps[m:]
            su = self._sus_buf[at:at + m].reshape(nt, FRAMES_PER_TICK)
            fast = (self._fast_buf[at:at + m].reshape(nt, FRAMES_PER_TICK).mean(axis=1) if self._fast is not None
                    else np.zeros(nt))
            lows = np.maximum(np.partition(e, LOW_RANK, axis=1)[:, LOW_RANK], floor)
            rests = np.empty((3, nt))
            k = 0
            while k < nt:
                k = self._run_of_ticks(k, su, lows, fast, floor, rests)
            rest, sus_rest = rests[0], rests[1]
            if self.keep_frames:
                self.sus_frames.append(su.ravel())
                self.ratio_frames.append((su / sus_rest[:, None]).ravel())
            still = e / rest[:, None]
            above, below = still > STILL_ABOVE, still < STILL_BELOW
            first = self._ticks_done
            self.ticks.extend(Tick(first + k, lv, sp, lw, r, q, fl, fo) for k, (lv, sp, lw, r, q, fl, fo) in enumerate(zip(
                v.mean(axis=1).tolist(), v.std(axis=1).tolist(), lows.tolist(), rest.tolist(),
                ((~above.any(axis=1)) & (below.mean(axis=1) >= 0.5)).tolist(), f.all(axis=1).tolist(),
                floor.tolist())))
            self._ticks_done += nt
        if final and len(self._env):
            # the last part-tick: same thresholds as the tick before it
            at = self._frame_no - self._sus_start
            su = self._sus_buf[at:at + len(self._env)]
            rest = self._sus_rest if self.ticks else max(float(su.min()), np.finfo(float).tiny)
            self._hysteresis(su / rest, np.full(len(su), rest), np.full(len(su), self._fast_rest),
                             np.zeros(len(su)))
            self._env = self._env[:0]

    def _frozen(self) -> bool:
        """Inside a movement that began over a body's resting level: its ticks say nothing of rest.

        A movement that lasts (fidgeting for two minutes, clipping the ADC) would
        otherwise fill the resting window within its first 15 s, end there, and leave
        the still body after it looking emptier than the bed was. Only once it has
        lasted longer than a leg movement can (FREEZE_AFTER_S): the few seconds of a
        kick lift the level a little, as the detector was tuned with. Not when the level
        sat at the ADC's floor (an empty bed: the activity of someone lying down is
        the new rest). It thaws when the activity has held for THAW_S under THAW_RATIO
        times the frozen level, or under a THAW_DROP-th of the movement's peak: a body
        lying still again, its heart coupled more strongly after a turn, or lying down
        on a strip whose empty level no ADC floor showed (fidgeting comes in bursts
        near its peak, with pauses far shorter than that); and at the latest after
        FREEZE_MAX_S, when a level that did change is taken.
        """
        return (self._in_event and self._onset_freezes
                and FREEZE_AFTER_S <= (self._frame_no - self._onset) * self.frame_s < FREEZE_MAX_S)

    def _run_of_ticks(self, k: int, su, lows, fast, floor, rests) -> int:
        """Find movements in ticks k.. while the resting levels are known; return the next tick to do."""
        nt = len(su)
        frozen = self._frozen()
        if frozen:
            cap = self._onset + int(np.ceil(FREEZE_MAX_S / self.frame_s))
            j = min(nt, k + max(1, -(-(cap - self._frame_no) // FRAMES_PER_TICK)))
            peaks = su[k:j].max(axis=1) / self._sus_rest
            calm_now = peaks < np.maximum(THAW_RATIO, np.maximum.accumulate(np.maximum(peaks, self._peak)) / THAW_DROP)
            calm = np.concatenate([[True] * self._calm_ticks, calm_now])
            thawed = np.flatnonzero(_windows(calm, self.thaw_ticks).all(axis=1)
                                    if len(calm) >= self.thaw_ticks else [])
            if len(thawed):
                j = k + int(thawed[0]) + self.thaw_ticks - self._calm_ticks
            rests[:, k:j] = np.array([self._still_rest, self._sus_rest, self._fast_rest])[:, None]
        else:
            j = nt          # _hysteresis stops the run where an open movement freezes the levels
            rests[0, k:j] = np.maximum(self._rest_levels(self._lows, lows[k:j], REST_PERCENTILE, self.still_ticks),
                                       floor[k:j])
            rests[1, k:j] = np.maximum(self._rest_levels(self._sus_peaks, su[k:j].max(axis=1), SUS_REST_PERCENTILE,
                                                         self.rest_ticks), floor[k:j])
            rests[2, k:j] = (self._rest_levels(self._fast_means, fast[k:j], SUS_REST_PERCENTILE, self.rest_ticks)
                             if self._fast is not None else 0.0)
        ratio = (su[k:j] / rests[1, k:j, None]).ravel()
        per_frame = [np.repeat(r, FRAMES_PER_TICK) for r in (rests[1, k:j], rests[2, k:j], floor[k:j])]
        done = self._hysteresis(ratio, *per_frame, stop=True) // FRAMES_PER_TICK
        j = k + done
        self._still_rest, self._sus_rest, self._fast_rest = (float(x) for x in rests[:, j - 1])
        if frozen:
            self._thaw_if_calm(calm_now[:done], su[k:j], lows[k:j], fast[k:j])
        else:
            # every tick of the run adds to the resting history, but the last if a movement that froze
            # it began or grew long in it
            last = j - 1 if self._frozen() else j
            self._lows = np.concatenate([self._lows, lows[k:last]])[-self.still_ticks:]
            self._sus_peaks = np.concatenate([self._sus_peaks, su[k:last].max(axis=1)])[-self.rest_ticks:]
            self._fast_means = np.concatenate([self._fast_means, fast[k:last]])[-self.rest_ticks:]
        return j

    def _thaw_if_calm(self, calm, su, lows, fast) -> None:
        """Count the frozen ticks that are calm; after THAW_S of them, they join the resting levels."""
        self._calm_levels.extend(zip(lows.tolist(), su.max(axis=1).tolist(), fast.tolist()))
        for c in calm.tolist():
            self._calm_ticks = self._calm_ticks + 1 if c else 0
        if self._in_event and self._calm_ticks >= self.thaw_ticks:
            self._onset_freezes = False
            low, peak, fst = (np.array(c) for c in zip(*list(self._calm_levels)[-self.thaw_ticks:]))
            self._lows = np.concatenate([self._lows, low])[-self.still_ticks:]
            self._sus_peaks = np.concatenate([self._sus_peaks, peak])[-self.rest_ticks:]
            self._fast_means = np.concatenate([self._fast_means, fst])[-self.rest_ticks:]
        if not self._frozen():
            self._calm_ticks = 0
            self._calm_levels.clear()

    @staticmethod
    def _rest_levels(past: np.ndarray, levels: np.ndarray, pct: float, w: int) -> np.ndarray:
        """For each new tick, a percentile of the per-tick levels of up to `w` ticks before it,
        as if every new tick joined the history `past` (the last up to `w` ticks)."""
        hist = np.concatenate([past, levels])
        start = len(past)               # index in hist of the first new tick
        out = np.empty(len(levels))
        k = 0
        while k < len(levels) and start + k < w:  # stream start: windows still short
            j = start + k
            window = hist[:j] if j else hist[:1]
            r = int(pct * (len(window) - 1))
            out[k] = np.partition(window, r)[r]
            k += 1
        if k < len(levels):
            views = _windows(hist[start + k - w:start + len(levels) - 1], w)
            r = int(pct * (w - 1))
            out[k:] = np.partition(views, r, axis=1)[:, r]
        return np.where(out > 0, out, np.finfo(float).tiny)

    def _hysteresis(self, ratio: np.ndarray, rest: np.ndarray, fast_rest: np.ndarray, floor: np.ndarray,
                    stop: bool = False) -> int:
        """Onsets above the onset margin; offsets at the start of `quiet_frames` under the offset one.

        With `stop`, only up to the end of the tick after which the resting levels take
        another course (`_frozen`): where a movement that began over the ADC's floor has
        lasted FREEZE_AFTER_S, or where a frozen one closes. A movement that opens or
        closes short of that changes nothing in them. Returns the frames taken.
        """
        above = ratio > 1.0 + self.cfg.onset_margin
        below = ratio < 1.0 + self.cfg.offset_margin
        n = len(ratio)
        idx = np.arange(n)
        last_loud = np.maximum.accumulate(np.where(~below, idx, -1))
        run = idx - last_loud
        run[last_loud == -1] += self._quiet_run   # quiet carried over from the last chunk
        onsets = np.flatnonzero(above)
        ends = np.flatnonzero(run >= self.quiet_frames)
        frozen = stop and self._frozen()
        if frozen and len(ends):
            n = min(n, _tick_end(int(ends[0])))
        i = 0
        while i < n:
            if not self._in_event:
                k = np.searchsorted(onsets, i)
                if k == len(onsets) or onsets[k] >= n:
                    break
                i = int(onsets[k])
                self._in_event, self._onset, self._peak = True, self._frame_no + i, 0.0
                self._onset_rest = float(rest[i])
                self._onset_fast_rest = float(fast_rest[i])
                self._onset_freezes = bool(rest[i] > FREEZE_OVER_FLOOR * floor[i])
            upto = n
            if stop and not frozen and self._onset_freezes:
                grows = self._onset + int(np.ceil(FREEZE_AFTER_S / self.frame_s)) - self._frame_no
                if grows > 0:       # it freezes in the tick that holds frame `grows - 1`, if still open then
                    upto = min(n, _tick_end(grows - 1))
            k = np.searchsorted(ends, i)
            if k == len(ends) or ends[k] >= upto:
                n = upto
                self._peak = max(self._peak, float(ratio[i:n].max()))
                break
            f = int(ends[k])
            self._peak = max(self._peak, float(ratio[i:f + 1].max()))
            self._close(self._frame_no + f - self.quiet_frames + 1)
            i = f + 1
        self._quiet_run = int(run[n - 1]) if n else self._quiet_run
        self._frame_no += n
        return n

    def _close(self, offset: int) -> None:
        onset, offset = self._edges(self._backtrack(self._onset), max(offset, self._onset + 1))
        # a frame difference is the change from the frame before: that frame moved too
        onset = max(onset - 1, 0)
        self.segments.append(Segment(onset, offset, self._peak, self._body(onset, offset), self._fast_of(onset, offset)))
        self._in_event = False

    def _backtrack(self, onset: int) -> int:
        """Move the onset back to where the sustained activity first rose over the offset margin.

        The trigger is the onset margin; the movement began where it left rest, as
        a scorer marks it.
        """
        buf, base = self._sus_buf, self._sus_start
        level = self._onset_rest * (1.0 + self.cfg.offset_margin)
        lo = max(base, onset - BACKTRACK_FRAMES)
        while onset > lo and onset - 1 - base < len(buf) and buf[onset - 1 - base] > level:
            onset -= 1
        return onset

    def _edges(self, onset: int, offset: int) -> tuple[int, int]:
        """A movement's ends from its frames' own activity: from the first frame over the
        offset margin to the last, inside the stretch or up to EDGE_FRAMES beyond it.

        The sustained activity finds a movement, but as a median of seven frames it
        sees a frame as loud only with three more loud ones around it: the first and
        last loud frames of a short kick fell outside, and a kick of 0.6 s came out
        0.3 s long and was not scored. A frame the leg moves in carries the force's
        change; a frame of the body at rest carries no more than its heart and breath
        lift the activity to, which the resting level measures. So the quiet frames at
        either end go (a twitch found with a heartbeat's lull is the twitch alone),
        and loud frames next to it join, but at most EDGE_FRAMES a side: beyond that a
        loud frame is the next heartbeat's. One still frame between loud ones does not end
        a movement: a leg that swings or shakes reverses its force two to eight times a
        second, and the frame that holds a reversal changes less than the body at rest
        does (under the resting level) while the leg is still moving. Before, such a frame
        cut a short kick's loud frames off and left it under half a second. A frame that is
        only weaker is no reversal: at a kick's end it is the kick fading, and a loud frame
        after it a heartbeat or the turn of a deep breath. And a loud frame past a still one
        joins only up to BRIDGE_PAST frames outside the stretch the sustained activity
        found: further out, a twitch of 0.15 s would take in the heartbeat after it.
        """
        buf, base = self._act_buf, self._sus_start
        lo, hi = max(onset - EDGE_FRAMES, base), min(offset + EDGE_FRAMES, base + len(buf))
        if hi - lo < 1 or onset >= hi:
            return onset, offset
        acts = buf[lo - base:hi - base]
        loud = acts > self._onset_rest * (1.0 + self.cfg.offset_margin)
        still = acts < self._onset_rest * REVERSAL_BELOW       # less change than the body at rest
        inside = np.flatnonzero(loud[onset - lo:max(offset, onset + 1) - lo]) + onset - lo
        if not len(inside):
            return onset, offset
        # a still frame with a loud one either side, all within BRIDGE_PAST of the stretch, is the leg reversing
        k = np.arange(max(onset - lo - BRIDGE_PAST, 0) + 1, min(offset - 1 - lo + BRIDGE_PAST, len(loud) - 1))
        loud[k] |= still[k] & loud[k - 1] & loud[k + 1]
        a, b = int(inside[0]), int(inside[-1])
        while a > 0 and loud[a - 1]:
            a -= 1
        while b < len(loud) - 1 and loud[b + 1]:
            b += 1
        return lo + a, lo + b       # with the frame before (_close): from centre to centre, b - a + 1 frames

    def _fast_of(self, onset: int, offset: int) -> float | None:
        """The mean fast force inside a movement over its resting level, if measured."""
        if self._fast is None or self._onset_fast_rest <= 0:
            return None
        inside = self._fast_buf[max(onset - self._sus_start, 0):max(offset - self._sus_start, 0)]
        return float(inside.mean()) / self._onset_fast_rest if len(inside) else None

    def _body(self, onset: int, offset: int) -> float:
        """The median sustained activity inside a movement over the resting level."""
        buf, base = self._sus_buf, self._sus_start
        if onset - base < 0 or offset - base > len(buf) or offset <= onset or self._onset_rest <= 0:
            return 0.0
        return float(np.median(buf[onset - base:offset - base])) / self._onset_rest

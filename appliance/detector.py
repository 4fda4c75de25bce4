"""Streaming movement detection on one channel of a strip.

The signal chain, and why each step:

1. Frames of ~0.1 s (h = round(fs/10) samples). Each frame's value is the mean of
   its samples less the largest and the smallest: a boxcar of 0.1 s has zeros at
   every multiple of 10 Hz, so 50 and 60 Hz mains hum vanish, and dropping the two
   extremes removes single-sample glitches before they can look like a kick.
2. The difference of successive frame values: it cuts the static load, the slow
   creep and bias drift, and most of the respiration (0.15-0.4 Hz, -15 dB and
   more), and passes heartbeat and movement (1-5 Hz). It works the same for a
   piezo (AC) and a load cell (DC).
3. Movement envelope: RMS over a centred 1.1 s window, about one heartbeat, so
   the beats of a still sleeper merge into a steady resting level. That level is
   the 25th percentile of per-second medians over the last 90 s: it follows a
   change of coupling after a turn, and a movement does not lift it.
4. Hysteresis against that level, as the scoring rules ask: onset where the
   envelope rises above rest x (1 + onset_margin); offset at the start of the
   first 0.5 s that stays under rest x (1 + offset_margin). Margins are ratios of
   the signal's own resting level, never volts: any gain, strip or ADC.
5. Sustained, not a beat: inside a movement, the median frame-by-frame activity
   stays well above rest (`min_sustained`); one or two strong heartbeats can lift
   a 1.1 s envelope over the onset margin, but between the beats the activity
   falls back to rest, so they are not scored (scoring.classify).

Everything is computed chunk by chunk from a fixed window of past and future
frames, element by element in a fixed order, so the same samples give the same
movements whether they arrive one second at a time or as one array. Samples are
buffered and processed in chunks of about 10 s: a sleep monitor can wait, and the
per-block cost of the live daemon stays tiny.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from appliance.config import DetectionConfig

FRAME_S = 0.1
FRAMES_PER_TICK = 10       # a 'tick' is 10 frames, about a second
LOW_RANK = 5               # per-tick level: the median of its 10 envelope frames
REST_PERCENTILE = 0.25
CHUNK_S = 10.0
ENV_HALF = 5               # envelope window: 2 x 5 + 1 frames, about a heartbeat
BRIDGE_FRAMES = 2          # lulls a moving leg's frame activity may have inside a run
MIN_RUN_FRAMES = 4         # runs this long are movement, not a heartbeat, and join across short pauses
SHARP_KEEP_FRAMES = 6000   # ten minutes of the sharp envelope, to place long movements' edges


@dataclass
class Segment:
    """One stretch of activity on one channel, in frames from the start of the stream."""

    onset: int
    offset: int
    peak: float      # peak envelope / resting level
    body: float = 0.0   # median frame activity inside the movement / resting level


@dataclass
class Tick:
    """About a second of one channel's signal, summarised for bed detection and health."""

    index: int
    level: float     # mean signal level (the static load, for a DC sensor)
    spread: float    # std of frame values within the tick (breathing, noise)
    energy: float    # low envelope of the tick: the resting activity
    rest: float      # the running resting level
    quiet: bool      # no frame above the onset threshold, most under the offset one
    flat: bool       # every sample identical: unplugged, or stuck at a rail


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
        out = self.fn(sliding_window_view(self.buf, self.before + self.after + 1)[:k])
        self.buf = self.buf[k:]
        return out

    def flush(self) -> np.ndarray:
        return self.push(np.full(self.after, self.pad))


def _diff(w):
    return w[:, 1] - w[:, 0]


def _rms(w):
    return np.sqrt(w.mean(axis=1))


def _median3(w):
    return np.maximum(np.minimum(w[:, 0], w[:, 1]), np.minimum(np.maximum(w[:, 0], w[:, 1]), w[:, 2]))


class ChannelDetector:
    """Turns one channel's samples into activity segments and per-tick summaries."""

    def __init__(self, fs: float, cfg: DetectionConfig | None = None):
        self.cfg = cfg or DetectionConfig()
        self.fs = float(fs)
        self.h = max(1, int(round(self.fs * FRAME_S)))
        self.frame_s = self.h / self.fs
        self.tick_s = self.frame_s * FRAMES_PER_TICK
        self.quiet_frames = max(1, int(round(self.cfg.offset_quiet_s / self.frame_s)))
        self.rest_ticks = max(5, int(round(self.cfg.rest_window_s / self.tick_s)))
        self._pending: list[np.ndarray] = []
        self._pending_n = 0
        self._chunk_n = int(CHUNK_S * self.fs)
        self._tail = np.empty(0)
        self._diff = _Window(1, 0, _diff)
        self._rms = _Window(ENV_HALF, ENV_HALF, _rms)
        self._med = _Window(1, 1, _median3)
        self._sharp_buf = np.empty(0)
        self._sharp_start = 0                    # frame number of _sharp_buf[0]
        self._env = np.empty(0)                # envelope frames not yet in a whole tick
        self._values = np.empty(0)             # frame values waiting for their envelope (it lags)
        self._flat = np.empty(0, bool)
        self._lows = np.empty(0)               # recent per-tick lows, for the resting level
        self._ticks_done = 0
        self._first_values = True
        # hysteresis state (frame numbers from stream start)
        self._in_event = False
        self._onset = 0
        self._peak = 0.0
        self._quiet_run = 0
        self._onset_rest = 0.0
        self._frame_no = 0                     # next envelope frame to classify
        self.segments: list[Segment] = []
        self.ticks: list[Tick] = []

    # -- input -----------------------------------------------------------
    def feed(self, x: np.ndarray) -> None:
        """Take samples of this channel; work happens in chunks of ~10 s."""
        self._pending.append(np.asarray(x, dtype=np.float64))
        self._pending_n += len(x)
        if self._pending_n >= self._chunk_n:
            self._process(np.concatenate(self._pending))
            self._pending, self._pending_n = [], 0

    def finish(self) -> None:
        """Process what is buffered and close any open movement at the end of the stream."""
        if self._pending:
            self._process(np.concatenate(self._pending))
            self._pending, self._pending_n = [], 0
        env = self._med.push(self._rms.flush())
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
    def _process(self, x: np.ndarray) -> None:
        x = np.concatenate([self._tail, x])
        nf = len(x) // self.h
        self._tail = x[nf * self.h:]
        if nf == 0:
            return
        frames = x[:nf * self.h].reshape(nf, self.h)
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
        self._flat = np.concatenate([self._flat, hi == lo])
        d = self._diff.push(values)
        self._keep_sharp(np.abs(d))
        self._take_envelope(self._med.push(self._rms.push(d * d)))
        self._trim_sharp()

    def _keep_sharp(self, sharp: np.ndarray) -> None:
        self._sharp_buf = np.concatenate([self._sharp_buf, sharp])

    def _trim_sharp(self) -> None:
        """Forget sharp frames no open or future movement can need."""
        keep_from = (self._onset if self._in_event else self._frame_no) - 2 * ENV_HALF - 2
        keep_from = max(keep_from, self._frame_no - SHARP_KEEP_FRAMES)
        drop = keep_from - self._sharp_start
        if drop > 0:
            self._sharp_buf = self._sharp_buf[drop:]
            self._sharp_start += drop

    def _take_envelope(self, env: np.ndarray, final: bool = False) -> None:
        """Classify whole ticks of envelope frames; thresholds come from past ticks only."""
        self._env = np.concatenate([self._env, env])
        nt = len(self._env) // FRAMES_PER_TICK
        if nt:
            m = nt * FRAMES_PER_TICK
            e = self._env[:m].reshape(nt, FRAMES_PER_TICK)
            v = self._values[:m].reshape(nt, FRAMES_PER_TICK)
            f = self._flat[:m].reshape(nt, FRAMES_PER_TICK)
            self._env, self._values, self._flat = self._env[m:], self._values[m:], self._flat[m:]
            lows = np.partition(e, LOW_RANK, axis=1)[:, LOW_RANK]
            rest = self._rest_levels(lows)
            rest = np.where(rest > 0, rest, np.finfo(float).tiny)
            ratio = e / rest[:, None]
            above = ratio > 1.0 + self.cfg.onset_margin
            below = ratio < 1.0 + self.cfg.offset_margin
            self._hysteresis(ratio.ravel(), above.ravel(), below.ravel(), np.repeat(rest, FRAMES_PER_TICK))
            first = self._ticks_done
            self.ticks.extend(Tick(first + k, lv, sp, lw, r, q, fl) for k, (lv, sp, lw, r, q, fl) in enumerate(zip(
                v.mean(axis=1).tolist(), v.std(axis=1).tolist(), lows.tolist(), rest.tolist(),
                ((~above.any(axis=1)) & (below.mean(axis=1) >= 0.5)).tolist(), f.all(axis=1).tolist())))
            self._ticks_done += nt
        if final and len(self._env):
            # the last part-tick: same thresholds as the tick before it
            rest = self.ticks[-1].rest if self.ticks else max(float(self._env.min()), np.finfo(float).tiny)
            ratio = self._env / rest
            self._hysteresis(ratio, ratio > 1.0 + self.cfg.onset_margin, ratio < 1.0 + self.cfg.offset_margin,
                             np.full(len(ratio), rest))
            self._env = self._env[:0]

    def _rest_levels(self, lows: np.ndarray) -> np.ndarray:
        """For each new tick, the 25th percentile of the lows of up to `rest_ticks` ticks before it."""
        w = self.rest_ticks
        hist = np.concatenate([self._lows, lows])
        start = len(self._lows)               # index in hist of the first new tick
        out = np.empty(len(lows))
        k = 0
        while k < len(lows) and start + k < w:  # stream start: windows still short
            j = start + k
            window = hist[:j] if j else hist[:1]
            r = int(REST_PERCENTILE * (len(window) - 1))
            out[k] = np.partition(window, r)[r]
            k += 1
        if k < len(lows):
            views = sliding_window_view(hist[start + k - w:start + len(lows) - 1], w)
            r = int(REST_PERCENTILE * (w - 1))
            out[k:] = np.partition(views, r, axis=1)[:, r]
        self._lows = hist[-w:]
        return out

    def _hysteresis(self, ratio: np.ndarray, above: np.ndarray, below: np.ndarray, rest: np.ndarray) -> None:
        """Onsets above the onset margin; offsets at the start of `quiet_frames` under the offset one."""
        n = len(ratio)
        idx = np.arange(n)
        last_loud = np.maximum.accumulate(np.where(~below, idx, -1))
        run = idx - last_loud
        run[last_loud == -1] += self._quiet_run   # quiet carried over from the last chunk
        onsets = np.flatnonzero(above)
        ends = np.flatnonzero(run >= self.quiet_frames)
        i = 0
        while i < n:
            if not self._in_event:
                k = np.searchsorted(onsets, i)
                if k == len(onsets):
                    break
                i = int(onsets[k])
                self._in_event, self._onset, self._peak = True, self._frame_no + i, 0.0
                self._onset_rest = float(rest[i])
            k = np.searchsorted(ends, i)
            if k == len(ends):
                self._peak = max(self._peak, float(ratio[i:].max()))
                break
            f = int(ends[k])
            self._peak = max(self._peak, float(ratio[i:f + 1].max()))
            self._close(self._frame_no + f - self.quiet_frames + 1, float(rest[f]))
            i = f + 1
        self._quiet_run = int(run[-1]) if n else self._quiet_run
        self._frame_no += n

    def _close(self, offset: int, rest: float | None = None) -> None:
        onset, offset, body = self._core(self._onset, max(offset, self._onset + 1))
        self.segments.append(Segment(onset, offset, self._peak, body))
        self._in_event = False

    def _core(self, onset: int, offset: int) -> tuple[int, int, float]:
        """The movement inside a stretch the envelope found, and its sustained activity.

        The 1.1 s envelope starts up to half its width early and ends late, and a
        strong heartbeat just before or after a kick can stretch it by a second or
        more. Frame by frame, a heartbeat is a burst of two or three loud frames
        every ~0.8-1.2 s, a moving leg a run of loud frames with lulls of a frame
        or two. So: loud frames (onset-sized activity) joined over lulls of up to
        BRIDGE_FRAMES make runs; runs of movement length (MIN_RUN_FRAMES or more)
        closer than the scoring rules' quiet time join into one movement, as the
        pauses inside turning over do; the strongest such group is the movement.
        Its sustained activity, `body`, is the median frame activity inside it
        over the resting level (classify needs it above `min_sustained`).
        """
        buf, base = self._sharp_buf, self._sharp_start
        rest = self._onset_rest
        if onset - base < 0 or offset - base > len(buf) or rest <= 0:
            return onset, offset, 0.0
        act = buf[onset - base:offset - base]
        loud = np.flatnonzero(act > rest * (1.0 + self.cfg.onset_margin))
        if not len(loud):
            return onset, offset, float(np.median(act)) / rest
        cut = np.flatnonzero(np.diff(loud) > BRIDGE_FRAMES + 1)
        runs = [self._widen(act, a, b, rest) for a, b in
                zip(loud[np.r_[0, cut + 1]].tolist(), (loud[np.r_[cut, len(loud) - 1]] + 1).tolist())]
        groups = [[runs[0]]]
        for a, b in runs[1:]:
            pa, pb = groups[-1][-1]
            if a - pb < self.quiet_frames and b - a >= MIN_RUN_FRAMES and pb - pa >= MIN_RUN_FRAMES:
                groups[-1].append((a, b))
            else:
                groups.append([(a, b)])
        energy = [sum(float(np.sum(act[a:b] ** 2)) for a, b in g) for g in groups]
        g = groups[int(np.argmax(energy))]
        a, b = g[0][0], g[-1][1]
        # a frame difference is the change from the frame before: that frame moved too
        return onset + max(a - 1, 0), onset + b, float(np.median(act[a:b])) / rest

    def _widen(self, act: np.ndarray, a: int, b: int, rest: float) -> tuple[int, int]:
        """Extend a run of onset-sized activity through the offset-sized frames right beside it."""
        level = rest * (1.0 + self.cfg.offset_margin)
        while a > 0 and act[a - 1] > level:
            a -= 1
        while b < len(act) and act[b] > level:
            b += 1
        return a, b

"""Two strips, two sleepers: each strip less what the other sleeper's force brings to it.

The physics: strip k carries its own sleeper's force whole, and the other's through
the mattress: a linear, causal filter H (a share of 0.1-0.6, falling off above a
corner anywhere from 5 to 40 Hz). So strip k = own_k + H * other, and the other's
strip carries that same `other` force (plus a share of k's, H' * own_k). Strip k
less H applied to the other strip is then own_k (1 - H H'): only its own sleeper,
a little weaker -- no partner's heartbeat beating against its own (two hearts
whose beats fall together made half-second bursts that looked like kicks), no
partner's kick showing up beside its own. Nothing here depends on one mattress:
H is measured in each bed.

H is measured where only the other sleeper moves: seconds in which the other
strip carries far more than its resting power (MOVING times) and more than this
strip (a movement is always stronger on the mover's own strip), fitted by least
squares as a short filter (taps every 1/RATE s over TAPS_S). Seconds in which this
strip's sleeper moved too do not fit: they are left out one refit at a time
(their misfit is over RESIDUAL times this strip's resting power). The fit is done
on both strips with mains hum nulled (boxcars of 1/50 and 1/60 s, the same on
both, so the filter between them is unchanged), and applied to the raw strip less
its slow level (a line through its last two one-second means): what is taken off
is the other's heartbeat and movement (and the faster part of their breath),
never a level. A level taken off
would shift whenever the filter changed, and a load cell's tracker reads a shift
of level as someone getting in or out; the weight the other puts on this strip
stays, and who is in bed is settled from both strips' rhythms (sleepers.py).
Until enough such seconds are known (MIN_SECONDS), nothing is taken off. A moment
that reads a sample either ADC held at a rail is not fitted on: a clipped movement is
smaller on its own strip than it was, and whole on the other, so it would make the
share look larger.

A breath is far slower than any mattress's corner, so at its pace the mattress passes
the filter's gain at the slowest pace, the sum of its taps (`share_at`): what
appliance.detection.vitals takes off each strip's breathing band.

The filter is refitted every REFIT_S of signal from the last KEEP_SECONDS such
seconds, and a new one is faded in over FADE_S so that a change of filter is a
slow slope (which the detector takes off as it does breathing's), never a step.
Everything depends only on samples before each point and on refit times fixed in
samples, so the answer is the same in any chunking.
"""
from __future__ import annotations

import bisect

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from appliance.detection.clipping import HeldAtRails

RATE = 50.0            # taps and the fit at about this many samples a second
TAPS_S = 0.24          # the mattress's filter: this long (a 5 Hz corner has died away by then)
BLOCK_S = 1.0          # the fit looks at one-second blocks
MOVING = 20.0          # a block where the other strip carries this many times its resting power...
RESIDUAL = 4.0         # ...fits unless the misfit is over this many times this strip's resting power
REST_BLOCKS = 60       # resting power: the median block power over the last minute
KEEP_SECONDS = 1200    # the fit uses at most this many of the latest such blocks
MIN_SECONDS = 10       # and needs at least this many
SURE_SECONDS = 30      # a fit on this many is sure enough to judge a movement by (fit_at()): what it leaves
                       # is then a median over half a minute of blocks (tuned: 120, 60, 30, 15 on the TUNING nights)
REFIT_S = 60.0
FADE_S = 30.0
ITERATIONS = 3
FAITHFUL = 0.5         # a block is fitted on when at least this share of it was read below the ADC's rails


class Crosstalk:
    """Both strips' raw samples in; each strip less the other sleeper's share, sample for sample."""

    def __init__(self, fs: float, rails: tuple[float, float] | None = None):
        self.fs = float(fs)
        self._held = HeldAtRails(2, 1, rails)        # which samples the ADC held at a rail, per strip...
        self.held = np.zeros((0, 2), bool)           # ...of the samples fed last (the detectors count them too)
        self.step = max(1, int(round(fs / RATE)))
        self.taps = int(round(TAPS_S * fs / self.step)) + 1
        self.block = max(2, int(round(BLOCK_S * fs / self.step)))      # decimated samples per block
        self.raw_block = self.block * self.step      # samples per block
        self.refit_every = self.raw_block * int(round(REFIT_S / BLOCK_S))
        self.fade = int(round(FADE_S * fs))
        self.boxes = [k for k in (int(round(fs / 50.0)), int(round(fs / 60.0))) if k > 1]
        self.hum_keep = sum(k - 1 for k in self.boxes)   # samples the boxcars need before each output
        self.lag = self.step * (self.taps - 1)
        self.n = 0                                   # samples seen
        self._means: np.ndarray | None = None        # both strips' means over the last two whole blocks
        self._block_part = np.zeros((0, 2))          # the current block's samples so far
        self._hist = np.zeros((self.lag, 2))         # the last `lag` samples, less their slow level
        self._hum_tail: np.ndarray | None = None     # the last samples the hum boxcars need
        self._held_tail: np.ndarray | None = None    # and whether each was held at a rail
        self._dec = np.zeros((0, 2))                 # hum-free samples at the fit's rate, not yet in a block
        self._dec_held = np.zeros(0, bool)           # whether a sample held at a rail went into each, either strip
        self.g = np.zeros((2, self.taps))            # g[k]: what strip 1-k brings to strip k, per tap
        self._g_old = self.g.copy()
        self._fade_from = [-self.fade, -self.fade]   # per strip: the sample where its newest filter began to fade in
        self._power = np.zeros((0, 2))               # the last blocks' power, both strips
        self._new = [False, False]                   # blocks kept for a fit since the last refit
        self._fits = [_KeptBlocks(self.taps) for _ in range(2)]   # per strip: the blocks kept for its fit
        self._next_refit = self.refit_every
        # per strip, each filter so far: (the sample it took effect at, left, fitted_on, faded_from, share) --
        # `left` what is left of the other's movement once taken off, as a share of its size on their own
        # strip (the median over the fitted blocks; this strip's own rest is in it too, so it errs high),
        # `fitted_on` how many blocks it was fitted on, `share` what it takes off at breathing's pace (its
        # taps' sum) and `faded_from` the same of the filter it fades in from
        self._fits_made: list[list[tuple[int, float, int, float, float]]] = [[(0, 1.0, 0, 0.0, 0.0)]
                                                                             for _ in range(2)]

    def feed(self, samples: np.ndarray) -> np.ndarray:
        x = np.asarray(samples, dtype=np.float64)
        if self._means is None and len(x):
            self._means = np.repeat(x[:1], 2, axis=0)
            self._hum_tail = np.repeat(x[:1], self.hum_keep, axis=0)
            self._held_tail = np.zeros(self.hum_keep, bool)
        out = np.empty_like(x)
        self.held = self._held.flags(x)
        either = self.held[:, 0] | self.held[:, 1]
        i = 0
        while i < len(x):
            end = min(len(x), i + self._next_refit - self.n)
            out[i:end] = self._apply(x[i:end])
            self._learn(x[i:end], either[i:end])
            self.n += end - i
            if self.n == self._next_refit:
                self._refit()
                self._next_refit += self.refit_every
            i = end
        return out

    def fit_at(self, k: int, sample: int) -> tuple[float, bool]:
        """Strip k's `left` (see _fits_made), and whether its filter was sure (fitted on at least SURE_SECONDS of the
        other's movement: a young fit leaves more of it behind), as they stood at `sample`.

        A movement is judged by the filter that was taking the other's share off it, not by one
        fitted later: the daemon, reading the night as it comes, cannot know a later one, and a
        whole recording read at once must give the same answer.
        """
        _, left, fitted_on, _, _ = self._fit_in_force(k, sample)
        return left, fitted_on >= SURE_SECONDS

    def share_at(self, k: int, t_s: float) -> float:
        """How much of the other strip's slow movement (a breath, far below any mattress's corner) the
        filter in force t_s into the stream takes as reaching strip k: its gain at the slowest pace,
        the sum of its taps, faded as the filter was."""
        sample = int(round(t_s * self.fs))
        start, _, _, old, new = self._fit_in_force(k, sample)
        w = self._faded(sample - start)
        return float(old * (1.0 - w) + new * w)

    def _fit_in_force(self, k: int, sample: int) -> tuple[int, float, int, float, float]:
        made = self._fits_made[k]
        return made[max(bisect.bisect_right(made, sample, key=lambda f: f[0]) - 1, 0)]

    # -- internals ---------------------------------------------------------
    def _faded(self, since):
        """How far a filter has faded in, `since` samples (a number or an array) after it began to."""
        return np.clip(np.divide(since, self.fade), 0.0, 1.0)

    def _slow(self, x: np.ndarray) -> np.ndarray:
        """Each sample's slow level: the last two whole blocks' means, the line between them drawn on over
        the current block (causal, and smooth enough to pass nothing of a heartbeat or a kick)."""
        size, at = self.raw_block, self.n % self.raw_block
        part = np.concatenate([self._block_part, x])        # from the current block's first sample
        whole = len(part) // size
        # every block's mean the same way, whatever the chunk it came in
        means = np.add.reduceat(part[:whole * size], np.arange(0, whole * size, size), axis=0) / size if whole \
            else part[:0]
        line = np.concatenate([self._means, means])          # the means a block's samples draw on
        pos = at + np.arange(len(x))
        knots = np.arange(len(line)) * size                  # line[b] drawn at the first sample of block b
        self._means = line[-2:]
        self._block_part = part[whole * size:]
        return np.stack([np.interp(pos, knots, line[:, k]) for k in range(2)], axis=1)

    def _apply(self, x: np.ndarray) -> np.ndarray:
        ext = np.concatenate([self._hist, x - self._slow(x)])
        m = len(x)
        out = x.copy()
        for k in range(2):
            other = np.ascontiguousarray(ext[:, 1 - k])     # side by side: each tap a plain pass
            new = self._predict(other, self.g[k], m)
            if self.n - self._fade_from[k] < self.fade:     # the filter before it still fading out
                w = self._faded(self.n + np.arange(m) - self._fade_from[k])
                new = self._predict(other, self._g_old[k], m) * (1.0 - w) + new * w
            out[:, k] -= new
        self._hist = ext[-self.lag:] if self.lag else ext[:0]
        return out

    def _predict(self, other: np.ndarray, g: np.ndarray, m: int) -> np.ndarray:
        """The last m samples' share of the other strip, `other` carrying `lag` samples before them."""
        pred = np.zeros(m)
        for i, gi in enumerate(g):
            if gi:
                a = self.lag - i * self.step
                pred += gi * other[a:a + m]
        return pred

    def _learn(self, x: np.ndarray, held: np.ndarray) -> None:
        """Hum-free samples at the fit's rate; each complete block judged and, if it fits, kept. `held`:
        whether either ADC held each sample at a rail."""
        buf = np.concatenate([self._hum_tail, x])
        held = np.concatenate([self._held_tail, held])
        y = buf
        for k in self.boxes:             # each output from the same k samples in the same order: any chunking
            n = len(y) - k + 1
            y = sum(y[i:i + n] for i in range(k)) / k
        keep = self.hum_keep
        self._hum_tail = buf[len(buf) - keep:] if keep else buf[:0]
        self._held_tail = held[len(held) - keep:] if keep else held[:0]
        under = np.convolve(held, np.ones(keep + 1), mode="valid") > 0 if held.any() else np.zeros(len(y), bool)
        first = -self.n % self.step                  # samples at global multiples of `step`
        self._dec = np.concatenate([self._dec, y[first::self.step]])
        self._dec_held = np.concatenate([self._dec_held, under[first::self.step]])
        blocks = (len(self._dec) - (self.taps - 1)) // self.block
        if blocks > 0:
            used = self.taps - 1 + blocks * self.block
            self._judge(self._dec[:used], self._dec_held[:used], blocks)
            self._dec = self._dec[blocks * self.block:]
            self._dec_held = self._dec_held[blocks * self.block:]

    def _judge(self, d: np.ndarray, held: np.ndarray, blocks: int) -> None:
        """Each block's power on both strips, against each strip's resting power; a block where only
        the other strip moved is kept for the fit (its sums, so a refit is cheap), less the moments
        that read a sample either strip's ADC held at a rail: a clipped movement is smaller on its
        strip than it was, and would make the share that reaches the other look larger."""
        now = d[self.taps - 1:].reshape(blocks, self.block, 2)
        power = now.var(axis=1)                                         # (blocks, 2)
        history = np.concatenate([self._power, power])
        self._power = history[-(REST_BLOCKS - 1):]
        rest = _running_median(history, blocks, REST_BLOCKS)
        for k in range(2):
            j = 1 - k
            for b in np.flatnonzero((power[:, j] > MOVING * rest[:, j]) & (power[:, k] < power[:, j])):
                seg = d[b * self.block:b * self.block + self.taps - 1 + self.block]
                cols = sliding_window_view(seg[:, j], self.taps)[:, ::-1]    # cols[m, i]: the other strip i taps back
                y = now[b, :, k]
                clipped = held[b * self.block:b * self.block + self.taps - 1 + self.block]
                if clipped.any():
                    faithful = ~sliding_window_view(clipped, self.taps).any(axis=1)
                    if faithful.sum() < FAITHFUL * self.block:
                        continue
                    cols, y = cols[faithful], y[faithful]
                cols = cols - cols.mean(axis=0)
                y = y - y.mean()
                scale = self.block / len(y)                  # as much weight as a whole block
                self._fits[k].add((cols.T @ cols * scale, cols.T @ y * scale, float(y @ y) * scale,
                                   float(rest[b, k]), float(power[b, j])))
                self._new[k] = True

    def _refit(self) -> None:
        """Each strip's filter from the blocks kept so far, faded in from the one in force now."""
        for k in range(2):
            if not self._new[k] or len(self._fits[k]) < MIN_SECONDS:
                continue
            self._new[k] = False
            grams, crosses, yy, rest, theirs = self._fits[k].latest()
            keep = np.ones(len(yy), bool)
            g = None
            for _ in range(ITERATIONS):
                if keep.sum() < MIN_SECONDS:
                    break
                gram = grams[keep].sum(axis=0)
                gram += np.eye(self.taps) * 1e-9 * np.trace(gram)
                g = np.linalg.solve(gram, crosses[keep].sum(axis=0))
                misfit = (yy - 2 * crosses @ g + np.einsum("i,nij,j->n", g, grams, g)) / self.block
                keep = misfit < RESIDUAL * rest
            if g is not None and keep.sum() >= MIN_SECONDS:
                w = self._faded(self.n - self._fade_from[k])
                self._g_old[k] = self._g_old[k] * (1.0 - w) + self.g[k] * w
                self.g[k], self._fade_from[k] = g, self.n
                left = float(np.sqrt(np.median(misfit[keep] / theirs[keep])))
                self._fits_made[k].append((self.n, left, int(keep.sum()), float(self._g_old[k].sum()),
                                           float(g.sum())))


class _KeptBlocks:
    """The last KEEP_SECONDS blocks kept for one strip's fit, in the order they came, as arrays: a refit
    every minute over up to twenty minutes of them reads them whole, and need not build them anew."""

    def __init__(self, taps: int):
        room = 2 * KEEP_SECONDS     # moved down once full: a copy every KEEP_SECONDS additions
        self.arrays = (np.empty((room, taps, taps)), np.empty((room, taps)), np.empty(room), np.empty(room),
                       np.empty(room))
        self.start, self.end = 0, 0

    def add(self, block: tuple) -> None:
        """One block's (gram, cross, yy, rest, other's power)."""
        if self.end == len(self.arrays[2]):
            for a in self.arrays:
                a[:KEEP_SECONDS] = a[self.end - KEEP_SECONDS:self.end]
            self.start, self.end = 0, KEEP_SECONDS
        for a, v in zip(self.arrays, block):
            a[self.end] = v
        self.end += 1
        self.start = max(self.start, self.end - KEEP_SECONDS)

    def latest(self) -> tuple:
        return tuple(a[self.start:self.end] for a in self.arrays)

    def __len__(self) -> int:
        return self.end - self.start


def _running_median(history: np.ndarray, count: int, width: int) -> np.ndarray:
    """Per row of the last `count` rows of `history`, the median of it and the width - 1 rows before
    (fewer at the start of the stream)."""
    start = len(history) - count
    full = max(start, width - 1)
    out = np.empty((count, history.shape[1]))
    for i in range(start, min(full, len(history))):
        out[i - start] = np.median(history[:i + 1], axis=0)
    if full < len(history):
        # np.median's answer (the mean of the middle two), by one partition: a call per minute of signal
        mid = [(width - 1) // 2, width // 2]
        part = np.partition(sliding_window_view(history[full - width + 1:], width, axis=0), mid, axis=-1)
        out[full - start:] = (part[..., mid[0]] + part[..., mid[1]]) / 2
    return out

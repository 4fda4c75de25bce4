"""Clipping counted from the samples alone, for a source whose ADC rails are not known in advance.

A clipped input holds the ADC at its rail: run after run of identical samples at the
highest (or lowest) value the channel ever reads, far from where it rests. Nothing
else looks like that: a still input on a coarse ADC repeats values too, but within a
count or two of its resting level; a float recording or a 24-bit ADC never repeats a
value that far out unless something pinned it there. So a sample counts as clipped
when it sits in a run of CLIP_RUN or more identical samples at the channel's
extreme so far, and that extreme lies at least CLIP_STEPS of the ADC's steps (the
smallest change seen between samples) from the block's median: most of the block's
samples lie that far inside it.
"""
from __future__ import annotations

import numpy as np

CLIP_RUN = 3        # identical samples in a row at the extreme
CLIP_STEPS = 30     # the extreme at least this many ADC steps from the median


def at_rails(x: np.ndarray, rails: tuple[float, float]) -> np.ndarray:
    """Samples at or past an ADC's known rails: clipped, for a live ADC whose rails are known."""
    return (x <= rails[0]) | (x >= rails[1])


class ClipCounter:
    """Per channel: the extremes seen so far and the ADC's step, and the samples held at either."""

    def __init__(self, channels: int):
        self.lo = np.full(channels, np.inf)
        self.hi = np.full(channels, -np.inf)
        self.step = np.full(channels, np.inf)

    def count(self, samples: np.ndarray) -> int:
        """Clipped samples in this block (samples x channels)."""
        total = 0
        for c in range(samples.shape[1]):
            x = samples[:, c]
            if len(x) < 2:
                continue
            self.lo[c], self.hi[c] = min(self.lo[c], float(x.min())), max(self.hi[c], float(x.max()))
            gaps = np.diff(x)
            np.abs(gaps, out=gaps)
            gaps[gaps == 0] = np.inf         # in place: picking the nonzero ones out cost more than the rest together
            self.step[c] = min(self.step[c], float(gaps.min()))
            if not np.isfinite(self.step[c]):
                continue
            far = CLIP_STEPS * self.step[c]
            for rail in (self.lo[c], self.hi[c]):
                at = x == rail
                if np.count_nonzero(at) < CLIP_RUN:
                    continue            # most blocks: no run at either extreme
                inside = x >= rail + far if rail == self.lo[c] else x <= rail - far
                if 2 * np.count_nonzero(inside) > len(x):       # the block's median that far inside
                    total += _in_runs(at)
        return total


def _in_runs(at: np.ndarray) -> int:
    """How many of the True values stand in runs of CLIP_RUN or more (work in the True values
    alone: on a whole night there are few, among millions of samples)."""
    where = np.flatnonzero(at)
    if len(where) < CLIP_RUN:
        return 0
    breaks = np.flatnonzero(np.diff(where) != 1)
    lengths = np.diff(np.concatenate([[0], breaks + 1, [len(where)]]))
    return int(lengths[lengths >= CLIP_RUN].sum())


class HeldAtRails:
    """Per frame of `h` samples and per channel, how many samples the ADC held at a rail.

    For comparing strips movement by movement (appliance.detection.sleepers), so each
    sample is judged from the samples up to it alone, the same in any chunking: it
    sits at the channel's highest or lowest reading so far, the same value as the two
    samples before it (so a run's first two are not counted), and the channel has read
    over CLIP_STEPS of its ADC's steps from one extreme to the other (a still input on
    a coarse ADC repeats its extremes, a count or two apart). With the rails known
    (a live ADC), a sample held at them is clipped, as in the sensor's health.
    """

    def __init__(self, channels: int, h: int, rails: tuple[float, float] | None = None):
        self.h, self.rails = h, rails
        self.lo = np.full(channels, np.inf)
        self.hi = np.full(channels, -np.inf)
        self.step = np.full(channels, np.inf)
        self._last = np.empty((0, channels))                # the last two samples
        self._part = np.zeros((0, channels), bool)          # held flags of the frame not yet whole

    def feed(self, x: np.ndarray) -> np.ndarray:
        """Samples in (samples x channels); the counts of each frame completed by them out (frames x channels)."""
        return self.count(self.flags(x))

    def count(self, held: np.ndarray) -> np.ndarray:
        """`flags` of the next samples in, whoever worked them out; the counts of each frame they complete out."""
        flags = np.concatenate([self._part, held])
        whole = len(flags) // self.h
        self._part = flags[whole * self.h:]
        if not whole:
            return np.zeros((0, x.shape[1]), np.int64)
        return np.add.reduceat(flags[:whole * self.h].view(np.uint8), np.arange(0, whole * self.h, self.h), axis=0,
                               dtype=np.int64)

    def flags(self, x: np.ndarray) -> np.ndarray:
        """Samples in (samples x channels); whether each was held at a rail out, sample by sample."""
        x = np.asarray(x, dtype=np.float64)
        if self.rails is not None:
            return at_rails(x, self.rails)
        held = np.zeros(x.shape, bool)
        for c in range(x.shape[1]):
            held[:, c] = self._held(np.ascontiguousarray(x[:, c]), c)
        self._last = np.concatenate([self._last, x])[-2:]
        return held

    def _held(self, v: np.ndarray, c: int) -> np.ndarray:
        """Channel c's samples held at its extreme so far (see the class), updating what it has seen."""
        k = len(self._last)
        ext = np.concatenate([np.full(2 - k, np.nan), self._last[:, c], v])     # nan: before the stream
        one = ext[1:-1]                                 # the sample before each
        jump = np.abs(v - one)
        jump[~(jump > 0)] = np.inf                      # no step: the same value, or the stream's first sample
        held = np.zeros(len(v), bool)
        at = np.flatnonzero((v == one) & (one == ext[:-2]))          # third or later of a run of one value
        if len(at):
            # the extremes and the step up to each such sample: over the stretches that end at them
            starts = np.concatenate([[0], at[:-1] + 1])
            upto = slice(0, at[-1] + 1)
            hi = np.maximum.accumulate(np.maximum(np.maximum.reduceat(v[upto], starts), self.hi[c]))
            lo = np.minimum.accumulate(np.minimum(np.minimum.reduceat(v[upto], starts), self.lo[c]))
            step = np.minimum.accumulate(np.minimum(np.minimum.reduceat(jump[upto], starts), self.step[c]))
            value = v[at]
            held[at] = ((value == hi) | (value == lo)) & (hi - lo >= CLIP_STEPS * step)
        if len(v):
            self.hi[c], self.lo[c] = max(self.hi[c], v.max()), min(self.lo[c], v.min())
            self.step[c] = min(self.step[c], jump.min())
        return held

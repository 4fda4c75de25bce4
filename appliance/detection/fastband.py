"""How much fast force (about 4-10 Hz) each frame of a strip's signal holds.

Why: a mattress carries a load sideways as a slow sag and rocking, and its foam or
springs damp fast motion. A partner's movement 60-90 cm away reaches this strip as
slow sway; the sleeper's own legs lie on it, and their movements bring fast force
changes, above what his heartbeat brings at rest in the same band. In a shared bed
the detector asks for that evidence (`detection.shared_bed`).

The chain, all on samples, every output value a sum over the same input samples
in the same order however the stream is cut into blocks:

1. boxcars of 1/50 s and 1/60 s (rounded to whole samples): mains hum, 50 or 60 Hz
   (or its alias below a low sample rate), falls in their nulls. All linear: a
   median here would beat hum near a third of the sample rate down into the band;
2. a 0.04 s boxcar less a 0.2 s boxcar centred on it: a band-pass with half-power
   points near 4 and 10 Hz (at 2 Hz it passes 4 % of the power it passes at 6 Hz,
   at 1 Hz 0.4 %);
3. per frame (the detector's h samples), the mean square. The scale is arbitrary:
   only ratios to the same signal's resting level are used.

It never finds a movement, only vouches for one the detector found: a glitch
under a partner's movement could let it pass, a glitch alone does nothing.
"""
from __future__ import annotations

import numpy as np

SHORT_S = 0.04       # the band's upper edge: a boxcar this long
LONG_PARTS = 5       # its lower edge: a boxcar five times as long, taken away


def _box_sums(x: np.ndarray, n: int, step: int = 1) -> np.ndarray:
    """Sums of `n` values `step` apart, added in a fixed order."""
    span = (n - 1) * step
    out = x[:len(x) - span].copy()
    for k in range(1, n):
        out += x[k * step:len(x) - span + k * step]
    return out


class FastBand:
    """Feeds on samples; gives the fast-force power of each whole frame, centred on it."""

    def __init__(self, fs: float, frame: int):
        self.frame = frame
        self.hum = (max(1, round(fs / 50)), max(1, round(fs / 60)))
        self.short = max(1, round(fs * SHORT_S))
        self.width = sum(self.hum) + LONG_PARTS * self.short - 2    # samples under one output
        self.lead = self.width // 2             # samples before the one an output is centred on
        self._buf = np.empty(0)
        self._started = False

    def push(self, x: np.ndarray) -> np.ndarray:
        """Take samples; return the power of every frame now complete."""
        if not self._started and len(x):
            self._buf = np.full(self.lead, x[0])   # the stream starts as if still before its first sample
            self._started = True
        self._buf = np.concatenate([self._buf, x])
        frames = (len(self._buf) - self.width + 1) // self.frame
        if frames <= 0:
            return np.empty(0)
        n = frames * self.frame
        band = self._band(self._buf[:n + self.width - 1])
        self._buf = self._buf[n:]
        return (band * band).reshape(frames, self.frame).mean(axis=1)

    def flush(self) -> np.ndarray:
        """The last frames: the stream goes on as if still after its last sample."""
        if not self._started:
            return np.empty(0)
        tail = self.width - self.lead + self.frame - 1
        out = self.push(np.full(tail, self._buf[-1]))
        self._started = False
        return out

    def _band(self, x: np.ndarray) -> np.ndarray:
        s = x
        for n in self.hum:
            s = _box_sums(s, n)
        short = _box_sums(s, self.short)
        long = _box_sums(short, LONG_PARTS, self.short)
        centre = (LONG_PARTS - 1) // 2 * self.short
        return LONG_PARTS * short[centre:centre + len(long)] - long

"""Heart rate, breathing rate and breathing events from the strip, minute by minute.

What the strip carries at rest is the body's own mechanics: each heartbeat jolts
the body (the ballistocardiogram, a burst of a few hertz to about ten), and each
breath moves it slowly (0.1-0.7 Hz). Neither has a fixed shape: the BCG wavelet
changes with posture, strip and mattress, so nothing here matches a template; it
only asks how far apart the repeats of whatever the signal does are.

The chain, per minute of the recording (minutes start at whole multiples of 60 s),
on the minute and a few seconds either side:

1. Two bands, each cut out and resampled in one step in the frequency domain: the
   heart band (3-12 Hz, at 40 Hz: above breathing's harmonics and below hum) and the
   breathing band (0.1-0.8 Hz, at 5 Hz).
2. Beat-to-beat intervals: every second, the normalised autocorrelation of the
   heart band over the 6 s around it; the interval is the lag of its highest peak
   between 0.4 and 1.5 s (150 to 40 beats a minute). A peak at half that lag almost
   as high means the highest was two beats (a BCG with a weak beat between strong
   ones), so the half is taken. Its height is the window's quality: a clear rhythm
   repeats (near 1), noise or movement does not.
3. The minute's heart rate: the median interval of the seconds whose quality passes,
   kept only when most of the minute passes and agrees within 8 %: otherwise the
   minute has no heart rate, rather than a guess.
4. Breathing rate: the same on the breathing band over the minute and 10 s either
   side, lags 1.5-10 s (40 to 6 breaths a minute).
5. Breathing depth: the envelope of the breathing band (its analytic signal's size),
   five times a second, for the breathing events (breathing_events).

Whether a minute was still and in bed is the detector's to say: `vitals_of` keeps the
minutes that lie wholly in bed and empties those a movement touches.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MINUTE_S = 60.0
HEART_BAND = (3.0, 12.0)
HEART_FS = 40.0
BREATH_BAND = (0.1, 0.8)
BREATH_FS = 5.0
HEART_WINDOW_S = 6.0
HEART_LAGS_S = (0.4, 1.5)
BREATH_LAGS_S = (1.5, 10.0)
BREATH_MARGIN_S = 10.0
MIN_QUALITY = 0.3           # a window's autocorrelation peak under this has no clear heart rhythm
MIN_BREATH_QUALITY = 0.4
AGREE = 0.08                # a minute's intervals agree when within 8 % of their median
MIN_SHARE = 0.5             # ...and at least half of its seconds do
OCTAVE = 0.8                # a peak at half the lag this high, relative, is the true interval
MARGIN_S = HEART_WINDOW_S / 2 + BREATH_MARGIN_S


@dataclass
class Minute:
    """One minute's readings, before anyone asks whether it was still and in bed."""

    t_s: float
    heart_bpm: float | None
    breaths_pm: float | None
    intervals: np.ndarray      # per second: the beat interval in s, NaN where no clear rhythm
    depth: np.ndarray          # breathing envelope at BREATH_FS over the minute


def _band(x: np.ndarray, fs: float, lo: float, hi: float, fs_out: float) -> np.ndarray:
    """`x` band-passed (smooth fourth-order edges) and resampled to `fs_out`, in one FFT."""
    n = len(x)
    spec = np.fft.rfft(x - x.mean())
    f = np.fft.rfftfreq(n, 1 / fs)
    with np.errstate(divide="ignore"):
        gain = 1 / (1 + (lo / np.maximum(f, 1e-9)) ** 4) / (1 + (f / hi) ** 4)
    m = max(2, int(round(n * fs_out / fs)))
    out = np.zeros(m // 2 + 1, complex)
    k = min(len(out), len(spec))
    out[:k] = (spec * gain)[:k]
    return np.fft.irfft(out, m) * m / n


def _autocorr(w: np.ndarray) -> np.ndarray:
    """Normalised, unbiased autocorrelation of each row of `w` (lags 0 .. n-1)."""
    n = w.shape[-1]
    w = w - w.mean(axis=-1, keepdims=True)
    spec = np.fft.rfft(w, 2 * n, axis=-1)
    ac = np.fft.irfft(np.abs(spec) ** 2, axis=-1)[..., :n]
    ac = ac / (n - np.arange(n))
    zero = ac[..., :1]
    return np.divide(ac, zero, out=np.zeros_like(ac), where=zero > 0)


def _periods(ac: np.ndarray, fs: float, lags_s: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Per row: the lag (s) of the highest local peak within `lags_s`, halved where the peak at half
    the lag is nearly as high, and the peak's height; NaN lag where there is no peak."""
    lo, hi = int(lags_s[0] * fs), min(int(lags_s[1] * fs), ac.shape[-1] - 2)
    seg = ac[:, lo - 1:hi + 2]
    peak = (seg[:, 1:-1] > seg[:, :-2]) & (seg[:, 1:-1] >= seg[:, 2:])
    height = np.where(peak, seg[:, 1:-1], -np.inf)
    best = np.argmax(height, axis=1)
    quality = height[np.arange(len(best)), best]
    lag = (best + lo).astype(float)
    # a peak at half the lag, nearly as high: the highest was two periods
    half = np.round(lag / 2).astype(int)
    ok = half >= lo
    rows = np.arange(len(lag))
    near = np.stack([ac[rows, np.clip(half + d, 0, ac.shape[1] - 1)] for d in (-1, 0, 1)])
    halve = ok & (near.max(axis=0) >= OCTAVE * quality)
    lag = np.where(halve, lag / 2, lag)
    lag = _refine(ac, lag)
    lag_s = np.where(np.isfinite(quality), lag / fs, np.nan)
    return lag_s, np.where(np.isfinite(quality), quality, 0.0)


def _refine(ac: np.ndarray, lag: np.ndarray) -> np.ndarray:
    """Sub-sample peak position by a parabola through the peak and its neighbours."""
    i = np.clip(np.round(lag).astype(int), 1, ac.shape[1] - 2)
    rows = np.arange(len(i))
    a, b, c = ac[rows, i - 1], ac[rows, i], ac[rows, i + 1]
    den = a - 2 * b + c
    shift = np.divide(0.5 * (a - c), den, out=np.zeros_like(den), where=np.abs(den) > 1e-12)
    return i + np.clip(shift, -0.5, 0.5)


def _agreed(values: np.ndarray, per_minute: int) -> float | None:
    """The median of `values` if enough are there and agree, else None."""
    v = values[np.isfinite(values)]
    if len(v) < MIN_SHARE * per_minute:
        return None
    med = float(np.median(v))
    close = v[np.abs(v - med) <= AGREE * med]
    if len(close) < MIN_SHARE * per_minute:
        return None
    return float(np.median(close))


def read_minute(x: np.ndarray, fs: float, t_s: float, before_s: float) -> Minute:
    """One minute's readings from `x`, which holds the minute with `before_s` of signal before it
    and MARGIN_S after it (less at the ends of a recording)."""
    start = int(round(before_s * fs))
    heart = _band(x, fs, *HEART_BAND, HEART_FS)
    hstart = int(round(before_s * HEART_FS))
    half = int(HEART_WINDOW_S / 2 * HEART_FS)
    centres = hstart + (np.arange(int(MINUTE_S)) + 0.5) * HEART_FS
    centres = centres.astype(int)
    keep = (centres - half >= 0) & (centres + half <= len(heart))
    intervals = np.full(int(MINUTE_S), np.nan)
    if keep.any():
        idx = centres[keep][:, None] + np.arange(-half, half)[None, :]
        lag, quality = _periods(_autocorr(heart[idx]), HEART_FS, HEART_LAGS_S)
        intervals[keep] = np.where(quality >= MIN_QUALITY, lag, np.nan)
    beat = _agreed(intervals, int(MINUTE_S))

    breath = _band(x, fs, *BREATH_BAND, BREATH_FS)
    bstart = int(round(before_s * BREATH_FS))
    span = breath[max(0, bstart - int(BREATH_MARGIN_S * BREATH_FS)):bstart + int((MINUTE_S + BREATH_MARGIN_S) * BREATH_FS)]
    breaths = None
    if len(span) > BREATH_LAGS_S[1] * BREATH_FS * 2:
        lag, quality = _periods(_autocorr(span[None, :]), BREATH_FS, BREATH_LAGS_S)
        if quality[0] >= MIN_BREATH_QUALITY and np.isfinite(lag[0]):
            breaths = round(60.0 / float(lag[0]), 1)
    depth = _envelope(breath)[bstart:bstart + int(MINUTE_S * BREATH_FS)]
    del start
    return Minute(t_s, round(60.0 / beat, 1) if beat else None, breaths, intervals, depth)


def _envelope(x: np.ndarray) -> np.ndarray:
    """The size of a narrow-band signal moment by moment: its analytic signal's magnitude."""
    n = len(x)
    spec = np.fft.fft(x)
    h = np.zeros(n)
    h[0] = 1
    h[1:(n + 1) // 2] = 2
    if n % 2 == 0:
        h[n // 2] = 1
    return np.abs(np.fft.ifft(spec * h))


class VitalsReader:
    """Reads the minutes of one strip's stream as they complete (the daemon feeds it block by block;
    `analyze` the whole signal at once): each minute once MARGIN_S of signal after it is in."""

    def __init__(self, fs: float):
        self.fs = float(fs)
        self._buf = np.zeros(0)
        self._buf_start = 0          # sample index of _buf[0]
        self._next = 0               # the next minute to read
        self.minutes: list[Minute] = []

    def feed(self, samples: np.ndarray) -> list[Minute]:
        self._buf = np.concatenate([self._buf, np.asarray(samples, dtype=np.float64).ravel()])
        return self._read(final=False)

    def finish(self) -> list[Minute]:
        return self._read(final=True)

    def _read(self, final: bool) -> list[Minute]:
        out = []
        per = int(round(MINUTE_S * self.fs))
        margin = int(round(MARGIN_S * self.fs))
        end = self._buf_start + len(self._buf)
        while True:
            a = self._next * per
            b = a + per
            if b + (0 if final else margin) > end or (final and b > end):
                break
            lo = max(self._buf_start, a - margin)
            hi = min(end, b + margin)
            x = self._buf[lo - self._buf_start:hi - self._buf_start]
            out.append(read_minute(x, self.fs, a / self.fs, (a - lo) / self.fs))
            self._next += 1
        keep_from = max(self._buf_start, self._next * per - margin)
        self._buf = self._buf[keep_from - self._buf_start:]
        self._buf_start = keep_from
        self.minutes.extend(out)
        return out


def read_signal(x: np.ndarray, fs: float) -> list[Minute]:
    """Every whole minute of a one-strip signal."""
    reader = VitalsReader(fs)
    reader.feed(x)
    reader.finish()
    return reader.minutes


MOVEMENT_MARGIN_S = 2.0     # a movement disturbs the rhythms a little before and after it


def _touched(a: float, b: float, movements) -> bool:
    return any(m.onset_s - MOVEMENT_MARGIN_S < b and m.offset_s + MOVEMENT_MARGIN_S > a for m in movements)


def vitals_of(minutes: list[Minute], movements, bed: list[tuple[float, float]]) -> list[dict]:
    """DESIGN.md's `vitals`: the minutes lying wholly in bed, each rate null where a movement touched
    the minute (or it had no clear rhythm)."""
    out = []
    for m in minutes:
        a, b = m.t_s, m.t_s + MINUTE_S
        if not any(p <= a and b <= q for p, q in bed):
            continue
        still = not _touched(a, b, movements)
        out.append({"t_s": a, "heart_bpm": m.heart_bpm if still else None,
                    "breaths_pm": m.breaths_pm if still else None})
    return out


EVENT_MIN_S = 10.0          # a breathing event lasts at least this long (DESIGN.md)
EVENT_DEPTH = 0.5           # breathing under this share of the sleeper's own level just before
BASELINE_S = 120.0          # "just before": the level over the two minutes before...
BASELINE_PERCENTILE = 75    # ...as the depth most breaths there reach (events and movements left out)
EVENT_BRIDGE_S = 1.0        # a blip this short does not end an event


def breathing_events(minutes: list[Minute], movements, bed: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Stretches of at least 10 s in bed in which the breathing envelope stays under half the sleeper's
    own level over the two minutes before.

    The level is the median depth of the breaths in those two minutes, the pauses among them left
    out (a pause is no breath), so a row of events does not lower the bar for the next. A
    movement hides the breathing under it: its seconds are neither an event nor a level, and an
    event running into one ends at its onset (the arousal that ends a pause often moves the legs,
    so an event that holds a movement near its end is still an event).
    """
    if not minutes:
        return []
    depth = np.concatenate([m.depth for m in minutes])
    t = minutes[0].t_s + np.arange(len(depth)) / BREATH_FS
    known = np.zeros(len(depth), bool)
    for a, b in bed:
        known |= (t >= a) & (t < b)
    for m in movements:
        known &= ~((t >= m.onset_s - MOVEMENT_MARGIN_S) & (t < m.offset_s + MOVEMENT_MARGIN_S))
    if not known.any():
        return []
    breathing = known & (depth >= EVENT_DEPTH * np.median(depth[known]))
    level = _running_level(depth, breathing)
    events = []
    i = 0
    candidates = np.flatnonzero(known & (depth < EVENT_DEPTH * level))
    for a in candidates:
        if a < i:
            continue
        bar = EVENT_DEPTH * level[a]
        b = _low_until(depth, known, a, bar, int(EVENT_BRIDGE_S * BREATH_FS))
        if (b - a) / BREATH_FS >= EVENT_MIN_S:
            events.append((round(float(t[a]), 2), round(float(t[b - 1] + 1 / BREATH_FS), 2)))
        i = b
    return events


def _running_level(depth: np.ndarray, breathing: np.ndarray) -> np.ndarray:
    """Per sample: the median depth of the breathing samples in the BASELINE_S before it, updated
    every second (NaN where too little is known)."""
    step = int(BREATH_FS)
    span = int(BASELINE_S * BREATH_FS)
    masked = np.where(breathing, depth, np.nan)
    starts = np.arange(0, len(depth), step)
    level = np.full(len(depth), np.nan)
    if len(depth) > span:
        windows = np.lib.stride_tricks.sliding_window_view(masked, span)[::step]   # windows[k] = masked[k*step : k*step+span]
        enough = np.count_nonzero(np.isfinite(windows), axis=1) >= span / 4
        med = np.full(len(windows), np.nan)
        if enough.any():
            med[enough] = np.nanmedian(windows[enough], axis=1)
        # the level at sample i is the median over the span ending at i
        for k, s0 in enumerate(starts):
            w = (s0 - span) // step
            if 0 <= w < len(med):
                level[s0:s0 + step] = med[w]
    return level


def _low_until(depth: np.ndarray, known: np.ndarray, a: int, bar: float, gap: int) -> int:
    """From `a`, where the depth is under `bar`: the end of the stretch that stays under it, blips of
    at most `gap` samples bridged. A movement inside is passed over when the breathing is still
    under the bar after it (a kick in the middle of a pause), else the stretch ends at its onset."""
    i, last_low = a, a
    while i < len(depth):
        if not known[i]:
            after = _next_known(known, i)
            if after is None or after - i > MAX_HIDDEN_S * BREATH_FS:
                break
            look = depth[after:after + int(AFTER_MOVEMENT_S * BREATH_FS)]
            if not len(look) or not known[after:after + len(look)].all() or np.median(look) >= bar:
                break
            i = last_low = after
            continue
        if depth[i] < bar:
            last_low = i
        elif i - last_low > gap:
            break
        i += 1
    return last_low + 1


MAX_HIDDEN_S = 15.0       # a movement longer than this inside a pause: no telling what the breathing did
AFTER_MOVEMENT_S = 2.0    # how long after a movement the breathing is looked at


def _next_known(known: np.ndarray, i: int) -> int | None:
    rest = np.flatnonzero(known[i:])
    return int(i + rest[0]) if len(rest) else None


RESPONSE_BEFORE_S = 10      # the heart's answer to a kick: from 10 s before its onset...
RESPONSE_AFTER_S = 30       # ...to 30 s after
RESPONSE_MIN = 5            # fewer kicks with a clear rhythm around them than this draw no curve


def heart_response(minutes: list[Minute], movements) -> dict | None:
    """The average heart rate, second by second, from 10 s before to 30 s after the onsets of the
    night's leg movements (periodic and not, apart), and its rise over the rate before.

    Each kick's curve is its beat-interval track (a second with no clear rhythm, as during the
    kick itself, is left out of that second's average), in beats a minute; the rise is the curve's
    highest second after the onset less its mean over the 10 s before.
    """
    if not minutes:
        return None
    track = np.concatenate([m.intervals for m in minutes])
    t0 = int(minutes[0].t_s)
    reach = HEART_WINDOW_S / 2 + MOVEMENT_MARGIN_S     # a second whose window a movement touches
    for m in movements:
        track[max(0, int(m.onset_s - reach) - t0):max(0, int(np.ceil(m.offset_s + reach)) - t0)] = np.nan
    lags = np.arange(-RESPONSE_BEFORE_S, RESPONSE_AFTER_S + 1)
    out = {"t_s": [int(x) for x in lags]}
    for name, periodic in (("periodic", True), ("other", False)):
        rows = []
        for m in movements:
            if m.kind != "lm" or m.periodic != periodic:
                continue
            idx = int(m.onset_s) - t0 + lags
            if idx[0] < 0 or idx[-1] >= len(track):
                continue
            rows.append(60.0 / track[idx])
        out[name] = _curve(np.array(rows)) if len(rows) >= RESPONSE_MIN else None
    return out


def _curve(rows: np.ndarray) -> dict | None:
    seen = np.isfinite(rows)
    counts = seen.sum(axis=0)
    if counts[:RESPONSE_BEFORE_S].min() < RESPONSE_MIN:
        return None
    with np.errstate(invalid="ignore"):
        mean = np.where(counts > 0, np.nansum(rows, axis=0) / np.maximum(counts, 1), np.nan)
    before = float(np.nanmean(mean[:RESPONSE_BEFORE_S]))
    after = mean[RESPONSE_BEFORE_S:]
    rise = float(np.nanmax(after)) - before if np.isfinite(after).any() else None
    return {"bpm": [round(float(v), 1) if np.isfinite(v) else None for v in mean],
            "kicks": int(len(rows)), "rise_bpm": round(rise, 1) if rise is not None else None}

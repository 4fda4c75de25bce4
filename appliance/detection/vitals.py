"""Heart rate, breathing rate and breathing events from the strip, minute by minute.

What the strip carries at rest is the body's own mechanics: each heartbeat jolts
the body (the ballistocardiogram, a burst of a few hertz to about ten), and each
breath moves it slowly (0.1-0.7 Hz). Neither has a fixed shape: the BCG wavelet
changes with posture, strip and mattress, so nothing here matches a template; it
only asks how far apart the repeats of whatever the signal does are.

The chain, per minute of the recording (minutes start at whole multiples of 60 s),
on the minute and a few seconds either side:

1. As samples arrive, boxcars of 1/50 s and 1/60 s (mains hum falls in their nulls)
   and every k-th sample kept, to 80-100 a second: once, so that a minute costs little.
   Then per minute two bands, each cut out and resampled in one step in the frequency
   domain: the heart band (3-10 Hz, at 25 Hz: above breathing's harmonics and below
   hum) and the breathing band (0.1-0.8 Hz, at 5 Hz).
2. Beat-to-beat intervals: every second, the normalised autocorrelation of the
   heart band over the 6 s around it; the interval is the lag of its highest peak
   between 0.46 and 1.5 s (130 to 40 beats a minute: a body lying in bed). A peak
   at half that lag almost as high means the highest was two beats (a BCG with a
   weak beat between strong ones), so the half is taken. Its height is the window's quality: a clear rhythm
   repeats (near 1), noise or movement does not.
3. The minute's heart rate: when at least half its seconds pass, the median interval
   of the largest group of seconds that pass and agree within 8 %, kept only when
   that group holds at least 15 seconds and a third of those that pass, and no other
   group comes near its size (a BCG rich in one harmonic gives peaks at fractions of
   the beat: when they compete, the rhythm is not clear). Otherwise the minute has no
   heart rate, rather than a guess.
4. Breathing rate: the same on the breathing band over the minute and 10 s either
   side, lags 1.5-10 s (40 to 6 breaths a minute).
5. Breathing depth: the envelope of the breathing band (its analytic signal's size),
   five times a second, for the breathing events (breathing_events).

Whether a minute was still and in bed is the detector's to say: `vitals_of` keeps the
minutes that lie wholly in bed and empties those a movement touches. With two sleepers
each strip also carries the other's heart and breath through the mattress: hearts are read
from each strip less the other's share (appliance.detection.crosstalk), and `own_hearts`
gives a heart still seen on both strips, beat for beat, to the strip where it is stronger;
`own_breaths` takes the other's share off each strip's breathing band before its rate and
depth are read (two breaths beating against each other would read as pauses). What the
minutes give further: breathing pauses (appliance.detection.breathing_events) and the
heart's answer to a kick (appliance.detection.heart_response).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

MINUTE_S = 60.0
HEART_BAND = (3.0, 10.0)
HEART_FS = 25.0
BREATH_BAND = (0.1, 0.8)
BREATH_FS = 5.0
HEART_WINDOW_S = 6.0
HEART_LAGS_S = (0.46, 1.5)
BREATH_LAGS_S = (1.5, 10.0)
BREATH_MARGIN_S = 10.0
MIN_QUALITY = 0.3           # a window's autocorrelation peak under this has no clear heart rhythm
MIN_BREATH_QUALITY = 0.4
AGREE = 0.08                # seconds agree when their intervals lie within 8 % of one another's median
MIN_SHARE = 0.34            # ...and a third of the seconds with a rhythm do
MIN_SECONDS = 15            # ...and at least this many seconds of the minute
MIN_RHYTHM = 0.5            # a minute most of whose seconds show no clear rhythm has no heart rate
RIVAL = 0.75                # a second group of agreeing seconds this large, relative, leaves it in doubt
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
    heart_power: float = 0.0   # the heart band's mean square over the minute (its scale is the strip's)
    heart: np.ndarray | None = None   # the heart band over the minute, at HEART_FS (own_hearts compares strips by it)
    breath: np.ndarray | None = None  # the breathing band's analytic signal over the minute and BREATH_MARGIN_S
                                      # either side, at BREATH_FS (own_breaths unmixes two strips' by it)
    breath_at: int = 0                # where the minute begins in it
    breath_fs: float = BREATH_FS      # and its rate as it came out of the band's cut

    def without_heart(self) -> None:
        """This strip's rhythm was another heart's: the minute has no heart rate of its own."""
        self.heart_bpm = None
        self.intervals = np.full_like(self.intervals, np.nan)


def _bands(x: np.ndarray, fs: float, bands) -> list[tuple[np.ndarray, float]]:
    """Each row of `x` band-passed (smooth fourth-order edges) and resampled, per (lo, hi, fs_out)
    in `bands`, from one FFT (zero-padded, in and out, to lengths an FFT is fast at); each
    with the rate it actually came out at."""
    n = x.shape[-1]
    size = _fast_length(n)
    spec = np.fft.rfft(x - x.mean(axis=-1, keepdims=True), size, axis=-1)
    out = []
    for lo, hi, fs_out in bands:
        m = _fast_length(int(np.ceil(size * fs_out / fs)))
        gain = _gain(size, fs, lo, hi)[:m // 2 + 1]
        cut = np.zeros(x.shape[:-1] + (m // 2 + 1,), complex)
        k = min(cut.shape[-1], spec.shape[-1])
        cut[..., :k] = spec[..., :k] * gain[:k]
        rate = fs * m / size
        y = np.fft.irfft(cut, m, axis=-1) * m / size
        out.append((y[..., :int(n * rate / fs)], rate))
    return out


@functools.lru_cache(maxsize=16)
def _gain(size: int, fs: float, lo: float, hi: float) -> np.ndarray:
    f = np.fft.rfftfreq(size, 1 / fs)
    with np.errstate(divide="ignore"):
        return 1 / (1 + (lo / np.maximum(f, 1e-9)) ** 4) / (1 + (f / hi) ** 4)


def _autocorr(w: np.ndarray, max_lag: int) -> np.ndarray:
    """Normalised, unbiased autocorrelation of each row of `w`, lags 0 .. max_lag (the FFT only as
    long as those lags need: no wrap-around reaches them)."""
    n = w.shape[-1]
    w = w - w.mean(axis=-1, keepdims=True)
    spec = np.fft.rfft(w, _fast_length(n + max_lag + 1), axis=-1)
    ac = np.fft.irfft(spec.real ** 2 + spec.imag ** 2, axis=-1)[..., :max_lag + 1]
    ac = ac / (n - np.arange(max_lag + 1))
    zero = ac[..., :1]
    return np.divide(ac, zero, out=np.zeros_like(ac), where=zero > 0)


def _fast_length(n: int) -> int:
    """The smallest length >= n made of 2s, 3s and 5s (fast for an FFT)."""
    best = 1 << int(np.ceil(np.log2(max(n, 1))))
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            p = p35
            while p < n:
                p *= 2
            best = min(best, p)
            p35 *= 3
        p5 *= 5
    return best


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
    ok = (half >= lo) & (lag / 2 >= lo)
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


def _agreed(values: np.ndarray, min_seconds: int = MIN_SECONDS) -> float | None:
    """The median of the largest group of `values` that agree (within AGREE of one another's
    median), if it holds MIN_SECONDS and MIN_SHARE of the seconds with a rhythm and no rival
    group comes near it; else None."""
    v = np.sort(values[np.isfinite(values)])
    if len(v) < min_seconds:
        return None
    # for each value as a centre, how many lie within AGREE of it
    lo = np.searchsorted(v, v * (1 - AGREE), side="left")
    hi = np.searchsorted(v, v * (1 + AGREE), side="right")
    counts = hi - lo
    best = int(np.argmax(counts))
    if counts[best] < max(min_seconds, MIN_SHARE * len(v)):
        return None
    a, b = lo[best], hi[best]                       # v is sorted: the group's median by index
    centre = float(v[(a + b - 1) // 2] + v[(a + b) // 2]) / 2
    rivals = counts[np.abs(v - centre) > 2 * AGREE * centre]
    if len(rivals) and rivals.max() > RIVAL * counts[best]:
        return None
    return centre


def read_minutes(x: np.ndarray, fs: float, starts: list[float], before_s: float,
                 heart_x: np.ndarray | None = None) -> list[Minute]:
    """The readings of minutes starting at `starts`, from the rows of `x`: each the minute with
    `before_s` of signal before it and up to MARGIN_S after it (less at the ends of a recording).
    `heart_x`: the same stretches to read the heart from instead (a strip less another's share)."""
    per = int(MINUTE_S)
    if heart_x is None:
        (heart, heart_fs), (breath, breath_fs) = _bands(x, fs, ((*HEART_BAND, HEART_FS), (*BREATH_BAND, BREATH_FS)))
    else:
        [(heart, heart_fs)] = _bands(heart_x, fs, ((*HEART_BAND, HEART_FS),))
        [(breath, breath_fs)] = _bands(x, fs, ((*BREATH_BAND, BREATH_FS),))
    hstart = int(round(before_s * heart_fs))
    band = heart[:, hstart:hstart + int(MINUTE_S * heart_fs)]
    power = np.mean(band ** 2, axis=1)
    band = band.astype(np.float32)
    intervals = _beat_intervals(heart, heart_fs, (hstart + (np.arange(per) + 0.5) * heart_fs).astype(int))
    bstart = int(round(before_s * breath_fs))
    lo = max(0, bstart - int(BREATH_MARGIN_S * breath_fs))
    span = breath[:, lo:bstart + int((MINUTE_S + BREATH_MARGIN_S) * breath_fs)]
    rates = _breath_periods(span, breath_fs)
    wave = _analytic(breath)
    depth = _minute_depth(np.abs(wave[:, bstart:bstart + int(MINUTE_S * BREATH_FS)]))
    wave = wave[:, lo:lo + span.shape[1]].astype(np.complex64)
    out = []
    for row, t_s in enumerate(starts):
        beat = _agreed(intervals[row]) if np.count_nonzero(np.isfinite(intervals[row])) >= MIN_RHYTHM * per else None
        out.append(Minute(t_s, round(60.0 / beat, 1) if beat else None, _per_minute(rates[row]), intervals[row],
                          depth[row], float(power[row]), band[row], wave[row], bstart - lo, breath_fs))
    return out


def _per_minute(period_s: float) -> float | None:
    """A breath period (s) as breaths a minute; None where there was no clear rhythm (NaN)."""
    return round(60.0 / float(period_s), 1) if np.isfinite(period_s) else None


def _minute_depth(depth: np.ndarray) -> np.ndarray:
    """Breathing depth over whole minutes: a minute cut short by the end of the recording holds its
    last value to the end."""
    if 0 < depth.shape[1] < int(MINUTE_S * BREATH_FS):
        depth = np.pad(depth, ((0, 0), (0, int(MINUTE_S * BREATH_FS) - depth.shape[1])), mode="edge")
    return depth


def _beat_intervals(heart: np.ndarray, heart_fs: float, centres: np.ndarray) -> np.ndarray:
    """Per row of the heart band and per centre (a sample index): the beat interval of the
    HEART_WINDOW_S around it, NaN without a clear rhythm or where the window does not fit."""
    k, length = heart.shape
    half = int(HEART_WINDOW_S / 2 * heart_fs)
    keep = (centres - half >= 0) & (centres + half <= length)
    intervals = np.full((k, len(centres)), np.nan)
    if keep.any():
        idx = centres[keep][:, None] + np.arange(-half, half)[None, :]
        max_lag = int(HEART_LAGS_S[1] * heart_fs) + 3
        lag, quality = _periods(_autocorr(heart[:, idx].reshape(-1, 2 * half), max_lag), heart_fs, HEART_LAGS_S)
        intervals[:, keep] = np.where(quality >= MIN_QUALITY, lag, np.nan).reshape(k, -1)
    return intervals


def _breath_periods(span: np.ndarray, breath_fs: float) -> np.ndarray:
    """Per row of the breathing band: the breath period in s, NaN without a clear rhythm or when
    shorter than two of the slowest breaths."""
    if span.shape[1] <= BREATH_LAGS_S[1] * breath_fs * 2:
        return np.full(span.shape[0], np.nan)
    lag, quality = _periods(_autocorr(span, int(BREATH_LAGS_S[1] * breath_fs) + 3), breath_fs, BREATH_LAGS_S)
    return np.where(quality >= MIN_BREATH_QUALITY, lag, np.nan)


def _analytic(x: np.ndarray) -> np.ndarray:
    """A narrow-band signal's analytic signal: its size moment by moment is the envelope."""
    n = x.shape[-1]
    spec = np.fft.fft(x, axis=-1)
    h = np.zeros(n)
    h[0] = 1
    h[1:(n + 1) // 2] = 2
    if n % 2 == 0:
        h[n // 2] = 1
    return np.fft.ifft(spec * h, axis=-1)


BATCH = 32           # minutes read in one go (memory stays small on a Pi)
REDUCED_FS = 80.0     # the rate the stream is reduced to, at least (above twice the heart band, hum aliased out of it)


class _Reducer:
    """Boxcars of 1/50 s and 1/60 s, then every `step`-th sample: the same output however the
    stream is cut into blocks."""

    def __init__(self, fs: float):
        self.hum = (max(1, round(fs / 50)), max(1, round(fs / 60)))
        self.step = max(1, int(fs // REDUCED_FS))
        self.fs = fs / self.step
        self._tail = np.zeros(0)
        self._tail_start = 0         # raw index of _tail[0]
        self._next = 0               # raw index where the next output's boxcar starts
        self._kernel = np.convolve(np.ones(self.hum[0]) / self.hum[0], np.ones(self.hum[1]) / self.hum[1])

    def feed(self, x: np.ndarray) -> np.ndarray:
        buf = np.concatenate([self._tail, x]) if len(self._tail) else x
        first = self._next - self._tail_start
        width = sum(self.hum) - 1                      # raw samples under one output
        count = (len(buf) - first - width) // self.step + 1
        if count <= 0:
            self._tail = buf
            return np.zeros(0)
        seg = buf[first:]
        out = np.zeros(count)
        part = np.empty(count)
        for k, w in enumerate(self._kernel):           # only the kept outputs are summed
            np.multiply(seg[k:k + (count - 1) * self.step + 1:self.step], w, out=part)
            out += part
        self._next += count * self.step
        self._tail = buf[self._next - self._tail_start:]
        self._tail_start = self._next
        return out


class VitalsReader:
    """Reads the minutes of one strip's stream as they complete (the daemon feeds it block by block;
    `analyze` the whole signal at once): each minute once MARGIN_S of signal after it is in."""

    def __init__(self, fs: float):
        self._reduce = _Reducer(float(fs))
        self._reduce_heart = _Reducer(float(fs))
        self.fs = self._reduce.fs
        self._buf = np.zeros(0)
        self._heart_buf: np.ndarray | None = None   # the heart's own stream, when it is read from another
        self._buf_start = 0          # sample index of _buf[0], at the reduced rate
        self._next = 0               # the next minute to read
        self.minutes: list[Minute] = []

    def feed(self, samples: np.ndarray, heart: np.ndarray | None = None) -> list[Minute]:
        """`heart`: the same samples to read the heart from (the strip less the other sleeper's share);
        given once, given with every block."""
        reduced = self._reduce.feed(np.asarray(samples, dtype=np.float64).ravel())
        self._buf = np.concatenate([self._buf, reduced])
        if heart is not None:
            reduced = self._reduce_heart.feed(np.asarray(heart, dtype=np.float64).ravel())
            self._heart_buf = reduced if self._heart_buf is None else np.concatenate([self._heart_buf, reduced])
        return self._read(final=False)

    def finish(self) -> list[Minute]:
        return self._read(final=True)

    def _read_batch(self, starts: list[int], lo: int, hi: int) -> list[Minute]:
        """Minutes starting at the reduced-rate sample indices `starts`, each from `lo`-`hi` shifted to it."""
        def rows(buf: np.ndarray) -> np.ndarray:
            return np.stack([buf[lo - starts[0] + a - self._buf_start:hi - starts[0] + a - self._buf_start]
                             for a in starts])
        per = int(round(MINUTE_S * self.fs))
        return read_minutes(rows(self._buf), self.fs, [a // per * MINUTE_S for a in starts], (starts[0] - lo) / self.fs,
                            None if self._heart_buf is None else rows(self._heart_buf))

    def _read(self, final: bool) -> list[Minute]:
        out = []
        per = int(round(MINUTE_S * self.fs))
        margin = int(round(MARGIN_S * self.fs))
        end = self._buf_start + len(self._buf)
        whole: list[int] = []        # minutes with their full margins, read together
        while True:
            a = self._next * per
            b = a + per
            if b + (0 if final else margin) > end or (final and b > end):
                break
            lo, hi = a - margin, b + margin
            if lo >= self._buf_start and hi <= end:
                whole.append(a)
            else:
                out.extend(self._read_batch([a], max(self._buf_start, lo), min(end, hi)))
            self._next += 1
        for i in range(0, len(whole), BATCH):
            batch = whole[i:i + BATCH]
            out.extend(self._read_batch(batch, batch[0] - margin, batch[0] + per + margin))
        out.sort(key=lambda m: m.t_s)
        keep_from = max(self._buf_start, self._next * per - margin)
        self._buf = self._buf[keep_from - self._buf_start:]
        if self._heart_buf is not None:
            self._heart_buf = self._heart_buf[keep_from - self._buf_start:]
        self._buf_start = keep_from
        self.minutes.extend(out)
        return out


class SleeperVitals:
    """One sleeper's minutes from the strips under them (the channels given): with two strips,
    each minute from the one whose heart rhythm was the clearer (more of its seconds had one)."""

    def __init__(self, fs: float, channels: list[int]):
        self.channels = list(channels)
        self.readers = [VitalsReader(fs) for _ in self.channels]

    def feed(self, samples: np.ndarray, heart: np.ndarray | None = None) -> list[Minute]:
        samples = samples if samples.ndim == 2 else samples[:, None]
        return self._clearest([r.feed(samples[:, c], None if heart is None else heart[:, c])
                               for r, c in zip(self.readers, self.channels)])

    def finish(self) -> list[Minute]:
        return self._clearest([r.finish() for r in self.readers])

    @staticmethod
    def _clearest(per_strip: list[list[Minute]]) -> list[Minute]:
        return [max(each, key=lambda m: int(np.isfinite(m.intervals).sum())) for each in zip(*per_strip)]


SAME_HEART = 0.03      # two strips' rates this close in one minute...
ONE_HEART = 0.5        # ...and their heart bands this alike beat for beat: one heart, seen on both
HEART_DELAY_S = 0.2    # the mattress delays and smooths a beat by at most this much on its way across


def own_hearts(first: list[Minute], second: list[Minute]) -> None:
    """Two sleepers, a strip each: where both strips read the same heart in a minute, it is seen
    whole on its sleeper's strip and through the mattress, weaker, on the other's; the weaker
    strip's minute is left without a heart rate.

    The same heart, not just the same rate: two people's hearts often beat within a few per cent
    of each other for a minute, and then each strip's own is still its own. One heart seen on two
    strips gives the same beats on both, the same moment for moment over the whole minute (a
    mattress only delays and smooths them); two hearts beating alike drift past each other, and
    beat for beat they are alike only now and then. So the two heart bands are compared by their
    correlation at the best delay within HEART_DELAY_S.
    """
    for a, b in zip(first, second):
        if a.heart_bpm is None or b.heart_bpm is None:
            continue
        if (abs(a.heart_bpm - b.heart_bpm) <= SAME_HEART * max(a.heart_bpm, b.heart_bpm)
                and _alike(a.heart, b.heart) >= ONE_HEART):
            (a if a.heart_power < b.heart_power else b).without_heart()


def _alike(x: np.ndarray | None, y: np.ndarray | None) -> float:
    """The largest correlation of two heart bands over delays up to HEART_DELAY_S either way (1 when
    either is unknown: the same rate is then all there is to go on)."""
    if x is None or y is None or len(x) != len(y) or not len(x):
        return 1.0
    x, y = x.astype(np.float64), y.astype(np.float64)
    norm = np.sqrt(np.dot(x, x) * np.dot(y, y))
    if norm <= 0:
        return 1.0
    d, n = int(round(HEART_DELAY_S * HEART_FS)), len(x)
    return max(abs(float(np.dot(x[max(0, -k):n - max(0, k)], y[max(0, k):n - max(0, -k)])))
               for k in range(-d, d + 1)) / norm


class BedVitals:
    """Each sleeper's minutes in a bed, per sleeper the strips under them: one sleeper on all the
    channels, or two on a strip each (channel k under sleeper k), each with their own heart and breath.

    `share(k, t_s)`, with two sleepers: how much of the other strip's slow movement reaches strip k
    at t_s (appliance.detection.crosstalk's Crosstalk.share_at, in seconds of the stream)."""

    def __init__(self, fs: float, sleepers: list[list[int]], share=None):
        self.sides = [SleeperVitals(fs, channels) for channels in sleepers]
        self.share = share

    def feed(self, samples: np.ndarray, heart: np.ndarray | None = None) -> list[list[Minute]]:
        """The strips' samples; `heart`, each strip less the other sleeper's share, where the hearts are
        read from (breathing is read from the strips as they are, and unmixed minute by minute in
        own_breaths: the filter that takes the other's share off is refitted every minute, and its
        changes would wax and wane in a breathing depth read through it)."""
        return self._own([side.feed(samples, heart) for side in self.sides])

    def finish(self) -> list[list[Minute]]:
        return self._own([side.finish() for side in self.sides])

    def _own(self, each: list[list[Minute]]) -> list[list[Minute]]:
        if len(each) == 2:
            own_hearts(*each)
            if self.share is not None:
                own_breaths(*each, self.share)
        return [_lean(minutes) for minutes in each]


def own_breaths(first: list[Minute], second: list[Minute], share) -> None:
    """Two sleepers, a strip each: each strip's breathing depth with the other's breath taken off.

    Each strip carries the other sleeper's breath through the mattress, and two breaths at nearly
    the same pace beat against each other: where they fall out of step the depth one strip shows
    dips, for seconds, as if its sleeper had paused. A breath is far slower than any mattress's
    corner (a few hertz and up), so at its pace the mattress passes the same share of the other's
    movement whatever it does to a kick: the sum of the crosstalk filter's taps, measured in this
    bed on the other's movements. Strip k less that share of the other strip then holds only its
    own sleeper's breath (a little weaker); the bands are linear, so this is done on them, minute
    by minute, at that minute's share.
    """
    alike: dict[tuple, list[tuple[Minute, Minute]]] = {}      # pairs cut alike are read together
    for a, b in zip(first, second):
        if a.breath is not None and b.breath is not None and a.breath.shape == b.breath.shape \
                and a.breath_at == b.breath_at:
            alike.setdefault((a.breath.shape, a.breath_at, a.breath_fs), []).append((a, b))
    for (_, at, fs), pairs in alike.items():
        minutes = [m for pair in pairs for m in pair]                   # a, b, a, b, ...
        mine = np.stack([m.breath for m in minutes])
        theirs = np.stack([m.breath for a, b in pairs for m in (b, a)])
        shares = np.array([share(k, a.t_s + MINUTE_S / 2) for a, _ in pairs for k in (0, 1)], np.float32)
        own = mine - shares[:, None] * theirs
        depth = _minute_depth(np.abs(own[:, at:at + int(MINUTE_S * BREATH_FS)]).astype(np.float64))
        rates = _breath_periods(own.real.astype(np.float64), fs)
        for m, d, r in zip(minutes, depth, rates):
            m.depth = d
            m.breaths_pm = _per_minute(r)


def _lean(minutes: list[Minute]) -> list[Minute]:
    """The minutes without their heart and breathing bands, once no strip is compared with another by
    them (a night keeps hundreds of minutes)."""
    for m in minutes:
        m.heart = None
        m.breath = None
    return minutes


def minutes_of(signal: np.ndarray, fs: float, channels: list[int]) -> list[Minute]:
    """Every whole minute of one sleeper's strips in a whole signal."""
    reader = SleeperVitals(fs, channels)
    return _lean(reader.feed(signal) + reader.finish())


MOVEMENT_MARGIN_S = 2.0     # a movement disturbs the rhythms a little before and after it


def reaches(movements) -> np.ndarray:
    """Each movement's stretch with MOVEMENT_MARGIN_S either side, as (start, end) rows."""
    return np.array([(m.onset_s - MOVEMENT_MARGIN_S, m.offset_s + MOVEMENT_MARGIN_S) for m in movements]).reshape(-1, 2)


def touched(a: float, b: float, reach: np.ndarray) -> bool:
    """Whether a movement's stretch (`reaches`) runs into [a, b): that stretch's rhythms are not
    the body's at rest."""
    return bool(np.any((reach[:, 0] < b) & (reach[:, 1] > a)))


def vitals_of(minutes: list[Minute], movements, bed: list[tuple[float, float]]) -> list[dict]:
    """DESIGN.md's `vitals`: the minutes lying wholly in bed, each rate null where a movement touched
    the minute (or it had no clear rhythm)."""
    out = []
    reach = reaches(movements)
    for m in minutes:
        a, b = m.t_s, m.t_s + MINUTE_S
        if not any(p <= a and b <= q for p, q in bed):
            continue
        still = not touched(a, b, reach)
        out.append({"t_s": a, "heart_bpm": m.heart_bpm if still else None,
                    "breaths_pm": m.breaths_pm if still else None})
    return out


STRETCH_STEP_S = 0.5        # a short stretch (a placement check) looks every half second


def stretch_rates(x: np.ndarray, fs: float) -> dict:
    """Heart and breathing rate over one short still stretch (`kickwatch doctor`, `calibrate`), by
    the same steps as a minute: None for either without a clear rhythm, or with too little signal
    (under HEART_WINDOW_S plus two seconds for the heart, two slowest breaths for breathing)."""
    out = {"heart_bpm": None, "breaths_pm": None}
    reduce = _Reducer(float(fs))
    y = reduce.feed(np.asarray(x, dtype=np.float64))
    if len(y) < (HEART_WINDOW_S + 2) * reduce.fs:
        return out
    (heart, heart_fs), (breath, breath_fs) = _bands(y[None, :], reduce.fs, ((*HEART_BAND, HEART_FS), (*BREATH_BAND, BREATH_FS)))
    half = int(HEART_WINDOW_S / 2 * heart_fs)
    centres = np.arange(half, heart.shape[1] - half, max(1, int(STRETCH_STEP_S * heart_fs)))
    intervals = _beat_intervals(heart, heart_fs, centres)[0]
    beat = _agreed(intervals, min_seconds=max(5, int(0.6 * len(centres))))   # most of a short stretch must agree
    out["heart_bpm"] = round(60.0 / beat) if beat else None
    period = _breath_periods(breath, breath_fs)[0]
    out["breaths_pm"] = round(60.0 / float(period)) if np.isfinite(period) else None
    return out

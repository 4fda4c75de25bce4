"""The heart's answer to a kick: the average heart rate around the night's leg movements.

A leg movement in sleep often comes with a rise of the heart rate a few seconds after
its onset. Averaged over the night's movements, the beat-interval track of the minutes
(appliance.detection.vitals) shows it as a curve a doctor knows how to read.
"""
from __future__ import annotations

import numpy as np

from appliance.detection.vitals import HEART_WINDOW_S, Minute

RESPONSE_BEFORE_S = 10      # the heart's answer to a kick: from 10 s before its onset...
RESPONSE_AFTER_S = 30       # ...to 30 s after
RESPONSE_MIN = 5            # fewer kicks with a clear rhythm around them than this draw no curve


def heart_response(minutes: list[Minute], movements, others=()) -> dict | None:
    """The average heart rate, second by second, from 10 s before to 30 s after the onsets of the
    night's leg movements (periodic and not, apart), and its rise over the rate before.

    Each kick's curve is its beat-interval track, in beats a minute; a second with no clear
    rhythm, or whose window the kick itself (or another movement) lies in, is left out of that
    second's average, and a second that fewer than RESPONSE_MIN kicks have is left empty. The
    rise is the curve's highest second after the onset less its mean over the seconds before.
    """
    if not minutes:
        return None
    track = np.concatenate([m.intervals for m in minutes])
    t0 = int(minutes[0].t_s)
    reach = HEART_WINDOW_S / 2 + 0.5     # a second whose window a movement touches: its rhythm is the kick's
    for m in list(movements) + list(others):
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
    mean = np.where(counts >= RESPONSE_MIN, np.nansum(rows, axis=0) / np.maximum(counts, 1), np.nan)
    if np.count_nonzero(np.isfinite(mean[:RESPONSE_BEFORE_S])) < RESPONSE_BEFORE_S // 3:
        return None
    before = float(np.nanmean(mean[:RESPONSE_BEFORE_S]))
    after = mean[RESPONSE_BEFORE_S:]
    rise = float(np.nanmax(after)) - before if np.isfinite(after).any() else None
    return {"bpm": [round(float(v), 1) if np.isfinite(v) else None for v in mean],
            "kicks": int(len(rows)), "rise_bpm": round(rise, 1) if rise is not None else None}

"""Offline analysis of a recording: the `kickwatch analyze --json` contract of DESIGN.md."""
from __future__ import annotations

import numpy as np

from appliance.detection.pipeline import StreamDetector
from appliance.detection.scoring import NightResult
from appliance.detection.settings import Rules


def bed_periods(changes: list[tuple[float, str]], end_s: float) -> list[tuple[float, float]]:
    """Turn a list of (time, 'in'/'out') into in-bed periods."""
    out, since = [], None
    for t, what in changes:
        if what == "in" and since is None:
            since = t
        elif what == "out" and since is not None:
            out.append((since, t))
            since = None
    if since is not None:
        out.append((since, end_s))
    return [(a, b) for a, b in out if b > a]


def analyze_signal(signal: np.ndarray, fs: float, cfg: Rules | None = None, block: int | None = None) -> NightResult:
    """Run the streaming detector over a whole signal (in blocks of `block` samples, or at once).

    `cfg` is anything with the two sets of rules, `.detection` and `.series`: Rules, or
    the household's whole Config.
    """
    cfg = cfg or Rules()
    signal = signal if signal.ndim == 2 else signal[:, None]
    det = StreamDetector(fs, signal.shape[1], cfg.detection)
    movements, changes = [], []
    step = block or signal.shape[0]
    for i in range(0, signal.shape[0], step):
        ev = det.feed(signal[i:i + step])
        movements += ev.movements
        changes += ev.bed_changes
    ev = det.finish()
    movements += ev.movements
    changes += ev.bed_changes
    duration = signal.shape[0] / fs
    bed = bed_periods(changes, duration)
    extra = {"sensor": det.health.as_dict()}
    return NightResult(movements, bed, cfg.series, fs, signal.shape[1], duration, extra)

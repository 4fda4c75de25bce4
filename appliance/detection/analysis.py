"""Offline analysis of a recording: the `kickwatch analyze --json` contract of DESIGN.md."""
from __future__ import annotations

import numpy as np

from appliance.detection.pipeline import StreamDetector
from appliance.detection.scoring import CoupleResult, NightResult, bed_periods
from appliance.detection.sleepers import CoupleDetector
from appliance.detection.settings import Rules


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


def analyze_couple(signal: np.ndarray, fs: float, names: list[str], cfg: Rules | None = None,
                   block: int | None = None) -> CoupleResult:
    """Two sleepers, channel k under sleeper k: each one's own night (appliance.detection.sleepers)."""
    cfg = cfg or Rules()
    if signal.ndim != 2 or signal.shape[1] != len(names) or len(names) != 2:
        raise ValueError(f"two sleepers need two channels, one per name; got {signal.shape} for {names}")
    det = CoupleDetector(fs, cfg.detection)
    movements, changes = [[], []], [[], []]
    step = block or signal.shape[0]
    for i in range(0, signal.shape[0], step):
        for k, ev in enumerate(det.feed(signal[i:i + step])):
            movements[k] += ev.movements
            changes[k] += ev.bed_changes
    for k, ev in enumerate(det.finish()):
        movements[k] += ev.movements
        changes[k] += ev.bed_changes
    duration = signal.shape[0] / fs
    nights = [NightResult(movements[k], bed_periods(changes[k], duration), cfg.series, fs, 2, duration,
                          {"sensor": det.sides[k].det.health.as_dict()}) for k in range(2)]
    return CoupleResult(nights, names)

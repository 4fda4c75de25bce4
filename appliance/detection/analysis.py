"""Offline analysis of a recording: the `kickwatch analyze --json` contract of DESIGN.md."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from appliance.detection.pipeline import StreamDetector
from appliance.detection.scoring import CoupleResult, NightResult, bed_periods
from appliance.detection.sleepers import CoupleDetector
from appliance.detection.settings import Rules
from appliance.detection.vitals import BedVitals, minutes_of
from appliance.detection.whole_night import score_night


def _stream(det, signal: np.ndarray, block: int | None) -> list[tuple[list, list]]:
    """Feed a whole signal to a detector (in blocks of `block` samples, or at once) and finish it;
    per sleeper (one, or two for a CoupleDetector), the movements and bed changes it gave."""
    step = block or signal.shape[0]
    return _gathered([det.feed(signal[i:i + step]) for i in range(0, signal.shape[0], step)] + [det.finish()])


def _gathered(events: list) -> list[tuple[list, list]]:
    """Per sleeper, the movements and bed changes of a detector's answers, call by call."""
    per_call = [ev if isinstance(ev, list) else [ev] for ev in events]
    return [([m for each in per_call for m in each[k].movements], [c for each in per_call for c in each[k].bed_changes])
            for k in range(len(per_call[0]))]


def analyze_signal(signal: np.ndarray, fs: float, cfg: Rules | None = None, block: int | None = None) -> NightResult:
    """Run the streaming detector over a whole signal (in blocks of `block` samples, or at once).

    `cfg` is anything with the two sets of rules, `.detection` and `.series`: Rules, or
    the household's whole Config.
    """
    cfg = cfg or Rules()
    signal = signal if signal.ndim == 2 else signal[:, None]
    det = StreamDetector(fs, signal.shape[1], cfg.detection)
    with ThreadPoolExecutor(1) as beside:     # heart and breathing read while the detector runs (numpy frees the GIL)
        reading = beside.submit(minutes_of, signal, fs, list(range(signal.shape[1])))
        [(movements, changes)] = _stream(det, signal, block)
        minutes = reading.result()
    duration = signal.shape[0] / fs
    bed = bed_periods(changes, duration)
    extra = {"sensor": det.health.as_dict()}
    return score_night(minutes, movements, bed, cfg.series, fs, signal.shape[1], duration, extra)


COUPLE_PIECE_S = 600.0   # two strips are separated and read ten minutes at a time: heart and breathing start at once


def analyze_couple(signal: np.ndarray, fs: float, names: list[str], cfg: Rules | None = None,
                   block: int | None = None) -> CoupleResult:
    """Two sleepers, channel k under sleeper k: each one's own night (appliance.detection.sleepers)."""
    cfg = cfg or Rules()
    if signal.ndim != 2 or signal.shape[1] != len(names) or len(names) != 2:
        raise ValueError(f"two sleepers need two channels, one per name; got {signal.shape} for {names}")
    det = CoupleDetector(fs, cfg.detection)
    vitals = BedVitals(fs, [[0], [1]], share=det.crosstalk.share_at)
    duration = signal.shape[0] / fs
    step = block or int(COUPLE_PIECE_S * fs)
    events, reading = [], []
    with ThreadPoolExecutor(1) as beside:    # one worker: the pieces are read in order, beside the detector
        for i in range(0, signal.shape[0], step):
            own = det.separate(signal[i:i + step])   # each strip less the other's share: their heart too
            reading.append(beside.submit(vitals.feed, signal[i:i + step], own))
            events.append(det.feed(signal[i:i + step], own=own))
        reading.append(beside.submit(vitals.finish))
        events.append(det.finish())
        parts = [r.result() for r in reading]
    each = _gathered(events)
    minutes = [[m for part in parts for m in part[k]] for k in range(2)]
    nights = [score_night(minutes[k], movements, bed_periods(changes, duration), cfg.series, fs, 2,
                          duration, {"sensor": side.det.health.as_dict()}, others=each[1 - k][0])
              for k, ((movements, changes), side) in enumerate(zip(each, det.sides))]
    return CoupleResult(nights, names)

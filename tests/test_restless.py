"""Saturation is movement, not absence: fidgeting that clips the ADC, and what comes after it."""
from __future__ import annotations

import numpy as np
import pytest

from appliance.detection.analysis import analyze_signal
from appliance.detection.clipping import ClipCounter, HeldAtRails
from appliance.detection.occupancy import BedTracker
from appliance.detection.pipeline import StreamDetector
from sensor.simulator import World, simulate_night

RESTLESS = World(restless=24.0)     # about three stretches of 40-120 s in an hour


@pytest.fixture(scope="module", params=["piezo12", "piezo10", "loadcell"])
def restless_night(request):
    rec, truth = simulate_night(1.0, 41, request.param, world=RESTLESS)
    return rec, truth, analyze_signal(rec.signal, rec.fs)


def _stretches(truth):
    return [(a, b) for a, b in truth.large if b - a >= 39.0 and not any(abs(a - x) < 10 for x, _ in truth.bed)]


def test_the_simulated_night_has_stretches_that_clip_both_rails(restless_night):
    rec, truth, _ = restless_night
    assert len(_stretches(truth)) >= 2
    x = rec.signal[:, 0]
    for a, b in _stretches(truth):
        inside = x[int(a * rec.fs):int(b * rec.fs)]
        assert np.mean(inside == x.max()) > 0.005 and np.mean(inside == x.min()) > 0.005


def test_a_restless_stretch_that_clips_is_large_movement_covering_it(restless_night):
    _, truth, res = restless_night
    large = [(m.onset_s, m.offset_s) for m in res.movements if m.kind == "large"]
    for a, b in _stretches(truth):
        covered = sum(max(0.0, min(b, y) - max(a, x)) for x, y in large)
        assert covered >= 0.95 * (b - a), (a, b, large)
        assert not [m for m in res.movements if m.kind == "lm" and a - 1 < m.onset_s < b + 1]


def test_after_a_restless_stretch_the_sleeper_is_still_in_bed(restless_night):
    _, truth, res = restless_night
    assert len(res.bed) == len(truth.bed)
    time_in_bed = sum(b - a for a, b in res.bed)
    assert abs(time_in_bed - sum(b - a for a, b in truth.bed)) < 60


def test_a_restless_night_gives_the_same_movements_in_one_second_blocks(restless_night):
    rec, _, whole = restless_night
    chunked = analyze_signal(rec.signal, rec.fs, block=int(rec.fs))
    assert [m.as_dict() for m in chunked.movements] == [m.as_dict() for m in whole.movements]


def test_clipping_is_counted_without_knowing_the_rails():
    rec, _ = simulate_night(1.0, 41, "piezo10", world=RESTLESS)
    x = rec.signal
    lo, hi = 0.0, 3.3 - 3.3 / 1024
    at_rails = int(np.count_nonzero((x <= lo) | (x >= hi)))
    known, unknown = StreamDetector(rec.fs, 1, rails=(lo, hi)), StreamDetector(rec.fs, 1)
    for det in (known, unknown):
        for i in range(0, len(x), int(rec.fs)):
            det.feed(x[i:i + int(rec.fs)])
    assert known.health.clipped_samples == at_rails
    assert 0.9 * at_rails < unknown.health.clipped_samples <= at_rails


def test_a_still_input_on_a_coarse_adc_is_not_clipping():
    """An empty bed on a 10-bit ADC repeats its values, at its extremes too, but within a count or two."""
    rng = np.random.default_rng(3)
    q = 3.3 / 1024
    x = np.round((1.65 + rng.normal(0, 0.4 * q, 60_000)) / q) * q
    assert ClipCounter(1).count(x[:, None]) == 0


def test_samples_held_at_the_rails_are_counted_frame_by_frame_in_any_chunking():
    rec, _ = simulate_night(1.0, 41, "piezo10", world=RESTLESS)
    x = rec.signal.reshape(len(rec.signal), -1)[:, :1]
    h = int(round(rec.fs / 10))
    lo, hi = 0.0, 3.3 - 3.3 / 1024
    at_rails = (x[:, 0] <= lo) | (x[:, 0] >= hi)
    whole = HeldAtRails(1, h).feed(x)
    held = HeldAtRails(1, h)
    chunked = np.concatenate([held.feed(x[i:i + 37]) for i in range(0, len(x), 37)])
    assert np.array_equal(whole, chunked[:len(whole)])
    # each frame's count: the samples at a rail, but the first two of each run (judged from the samples before it alone)
    per_frame = at_rails[:len(whole) * h].reshape(-1, h).sum(axis=1)
    assert (whole[:, 0] <= per_frame).all() and whole.sum() > 0.8 * at_rails.sum()
    assert np.array_equal(HeldAtRails(1, h, rails=(lo, hi)).feed(x)[:, 0], per_frame)
    q = 3.3 / 1024          # an empty bed on a 10-bit ADC: nothing held
    still = np.round((1.65 + np.random.default_rng(3).normal(0, 0.4 * q, 60_000)) / q) * q
    assert HeldAtRails(1, h).feed(still[:, None]).sum() == 0


class _Tick:
    def __init__(self, index, level, quiet=True):
        self.index, self.level, self.spread, self.energy = index, level, 1e-8, 1e-8
        self.quiet, self.flat, self.floor = quiet, False, 0.0


def test_a_step_of_the_level_with_no_one_moving_is_no_change_of_bed():
    """The bias jumps far beyond the noise between two still seconds: no one climbed in or out."""
    bed = BedTracker(1.0)
    for i in range(1, 600):
        bed.add(_Tick(i, 1e-3 + (2e-4 if i >= 300 else 0.0)))
    assert bed.changes == []


def test_a_change_of_load_across_a_burst_is_a_change_of_bed():
    bed = BedTracker(1.0)
    for i in range(1, 200):
        bed.add(_Tick(i, 1e-3))
    for i in range(200, 206):
        bed.add(_Tick(i, 1e-3 + 1e-4 * (i - 199), quiet=False))
    for i in range(206, 300):
        bed.add(_Tick(i, 1.6e-3))
    assert [new for _, new in bed.changes] == ["in"]


def test_a_creeping_level_on_a_quiet_24_bit_adc_is_no_one_getting_in():
    """Two hours of empty bed on a load cell with a tenth of the modelled noise: the bridge's slow drift
    changes its pace now and then; the bed is empty until the sleeper lies down, and the night not split."""
    rec, truth = simulate_night(3.0, 201, "loadcell500", world=World(empty_hours=2.0, hum=0.1))
    res = analyze_signal(rec.signal, rec.fs)
    assert len(res.bed) == len(truth.bed) == 1
    assert abs(res.bed[0][0] - truth.bed[0][0]) < 5
    assert not [m for m in res.movements if m.onset_s < truth.bed[0][0] - 2]

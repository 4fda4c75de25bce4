"""Heart rate, breathing rate, breathing events and the heart's answer to a kick (appliance.detection.vitals)."""
from __future__ import annotations

import csv
import statistics

import numpy as np
import pytest

from appliance.detection.analysis import analyze_signal
from appliance.detection.scoring import Movement
from appliance.detection.vitals import BedVitals, VitalsReader, minutes_of, vitals_of
from sensor.recording import read_recording
from tests.conftest import cached_night


@pytest.fixture(scope="module")
def night():
    rec, truth = cached_night(1.5, 41, "piezo12")
    return rec, truth, analyze_signal(rec.signal, rec.fs)


def still_minutes(truth):
    moves = truth.lms + truth.large
    return {t for t, _, _ in truth.vitals
            if any(a <= t and t + 60 <= b for a, b in truth.bed) and not any(a - 2 < t + 60 and b + 2 > t for a, b in moves)}


def test_heart_and_breathing_rates_follow_the_truth_minute_by_minute(night):
    rec, truth, res = night
    true = {t: (hr, br) for t, hr, br in truth.vitals}
    still = still_minutes(truth)
    found = {v["t_s"]: v for v in res.vitals}
    hearts = [abs(found[t]["heart_bpm"] - true[t][0]) for t in still if found.get(t, {}).get("heart_bpm") is not None]
    breaths = [abs(found[t]["breaths_pm"] - true[t][1]) for t in still if found.get(t, {}).get("breaths_pm") is not None]
    assert len(hearts) >= 0.85 * len(still) and np.mean(hearts) <= 2.0
    assert len(breaths) >= 0.85 * len(still) and np.mean(breaths) <= 1.0


def test_minutes_are_the_recordings_own_and_wholly_in_bed(night):
    rec, truth, res = night
    starts = [v["t_s"] for v in res.vitals]
    assert all(t % 60 == 0 for t in starts) and starts == sorted(starts)
    assert all(any(a <= t and t + 60 <= b for a, b in res.bed) for t in starts)
    s = res.summary
    assert s["vitals_coverage"] == round(sum(v["heart_bpm"] is not None for v in res.vitals) / len(res.vitals), 3)
    assert s["heart_bpm"] == pytest.approx(statistics.median(v["heart_bpm"] for v in res.vitals if v["heart_bpm"]), abs=0.05)


def test_a_minute_a_movement_touches_has_no_rates(night):
    rec, truth, res = night
    for v in res.vitals:
        touched = any(m.onset_s - 2 < v["t_s"] + 60 and m.offset_s + 2 > v["t_s"] for m in res.movements)
        if touched:
            assert v["heart_bpm"] is None and v["breaths_pm"] is None


def test_minutes_read_the_same_however_the_stream_is_cut(night):
    rec = night[0]
    x = rec.signal[:int(20 * 60 * rec.fs), 0]
    whole = minutes_of(x, rec.fs, [0])
    reader = VitalsReader(rec.fs)
    for i in range(0, len(x), 997):
        reader.feed(x[i:i + 997])
    reader.finish()
    assert [(m.t_s, m.heart_bpm, m.breaths_pm) for m in whole] == [(m.t_s, m.heart_bpm, m.breaths_pm) for m in reader.minutes]


def test_noise_has_no_rhythm_and_gets_no_rate_rather_than_a_guess():
    rng = np.random.default_rng(3)
    minutes = minutes_of(rng.normal(0, 1, int(10 * 60 * 250)), 250.0, [0])
    assert minutes and all(m.heart_bpm is None for m in minutes)
    assert sum(m.breaths_pm is not None for m in minutes) <= 1


def test_only_minutes_wholly_in_bed_are_listed():
    rec, truth = cached_night(0.5, 5, "loadcell")
    minutes = minutes_of(rec.signal, rec.fs, [0])
    listed = vitals_of(minutes, [Movement(600.0, 601.5)], [(90.0, 1500.0)])
    assert [v["t_s"] for v in listed] == [60.0 * k for k in range(2, 25)]
    assert all(v["heart_bpm"] is None for v in listed if v["t_s"] in (540.0, 600.0))


def test_the_heart_answers_a_kick_and_the_curve_says_by_how_much():
    rec, truth = cached_night(2.0, 8, "severe")
    res = analyze_signal(rec.signal, rec.fs)
    curve = res.heart_response["periodic"]
    assert res.heart_response["t_s"] == list(range(-10, 31))
    assert curve["kicks"] >= 20 and len(curve["bpm"]) == 41
    assert 2.0 <= curve["rise_bpm"] <= 15.0       # the simulator raises it 3-10 a minute, peaking ~4 s after


def test_breathing_events_are_found_and_a_night_without_has_none():
    rec, truth = cached_night(2.0, 12, "breathing")
    res = analyze_signal(rec.signal, rec.fs)
    true = truth.respiratory_events
    assert true
    hits = sum(any(a < d and b > c for c, d in res.events) for a, b in true)
    assert hits >= 0.9 * len(true) and len(res.events) <= 1.1 * len(true) + 1
    plain = analyze_signal(*(lambda r: (r.signal, r.fs))(cached_night(2.0, 12, "piezo12")[0]))
    assert len(plain.events) <= 2 and plain.summary["rei"] is not None


def test_the_json_carries_the_new_keys(night):
    d = night[2].as_dict()
    for key in ("heart_bpm", "breaths_pm", "vitals_coverage", "rei", "plm_count_with_respiratory",
                "plmi_with_respiratory"):
        assert key in d["summary"]
    assert isinstance(d["vitals"], list) and isinstance(d["respiratory_events"], list)
    assert all(set(v) == {"t_s", "heart_bpm", "breaths_pm"} for v in d["vitals"])
    assert all("respiratory" in m for m in d["movements"])


def test_real_recordings_lying_still_read_the_chest_straps_rate(real_dir):
    """bed_a and bed_b: a still, silent subject. The three with speech have no clear rhythm in
    their one or two whole minutes in bed, and say so with no rate (bench.vitals reports them)."""
    for name in ("fsr_bed_a", "fsr_bed_b"):
        rec = read_recording(real_dir / f"{name}.npz")
        with open(real_dir / f"{name}.polar_h10.csv") as f:
            strap = statistics.median(float(r["HR"]) for r in csv.DictReader(f) if r.get("HR"))
        got = analyze_signal(rec.signal, rec.fs).summary["heart_bpm"]
        assert got is not None and abs(got - strap) <= 5.0


def _heartbeats(rate_hz: float, seconds: float, fs: float, seed: int, delay_s: float = 0.0) -> np.ndarray:
    """A train of 6 Hz jolts at `rate_hz`, each beat a little early or late, as a BCG looks."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * fs)) / fs
    beats = np.cumsum(rng.normal(1 / rate_hz, 0.01, int(seconds * rate_hz) + 2)) + delay_s
    x = np.zeros_like(t)
    for b in beats:
        x += np.exp(-((t - b) / 0.04) ** 2) * np.sin(2 * np.pi * 6 * (t - b))
    return x


def _both(strips: np.ndarray, fs: float):
    reader = BedVitals(fs, [[0], [1]])
    first = reader.feed(strips)
    last = reader.finish()
    return [first[k] + last[k] for k in range(2)]


def test_two_hearts_beating_alike_keep_their_own_rates_one_heart_seen_on_both_strips_counts_once():
    fs, seconds = 250.0, 300.0
    sam, alex = _heartbeats(1.10, seconds, fs, 1), _heartbeats(1.12, seconds, fs, 2)   # 66 and 67 a minute
    noise = np.random.default_rng(9).normal(0, 0.02, (4, len(sam)))
    # two hearts within 3 % of each other, each on its own strip: both are read
    two = _both(np.stack([sam + noise[0], alex + noise[1]], axis=1), fs)
    for minutes, rate in zip(two, (66.0, 67.2)):
        read = [m.heart_bpm for m in minutes if m.heart_bpm is not None]
        assert len(read) >= 3 and all(abs(r - rate) < 2 for r in read), read
    # one heart, whole on Sam's strip and through the mattress, weaker and a little later, on Alex's
    one = _both(np.stack([sam + noise[2], 0.3 * _heartbeats(1.10, seconds, fs, 1, delay_s=0.02) + noise[3]], axis=1), fs)
    assert sum(m.heart_bpm is not None for m in one[0]) >= 3
    assert all(m.heart_bpm is None for m in one[1])


def _breaths(rate_hz: float, seconds: float, fs: float, pause: tuple[float, float] | None = None) -> np.ndarray:
    """Breathing at `rate_hz`, stopping outright over `pause` (from one breath's end to a breath's start)."""
    t = np.arange(int(seconds * fs)) / fs
    x = np.sin(2 * np.pi * rate_hz * t)
    if pause:
        x[(t >= pause[0]) & (t < pause[1])] = 0.0
    return x


def test_two_breaths_through_the_mattress_beat_into_no_pause_and_a_pause_of_ones_own_is_still_found():
    """Each strip carries the other's breath, here nearly as large as its own: where the two fall out of
    step the depth on one strip dips as if its sleeper paused. With the other's share taken off
    (the crosstalk filter's, at breathing pace), neither strip pauses but where its sleeper did."""
    from appliance.detection.breathing_events import breathing_events

    fs, seconds = 100.0, 900.0
    sam = _breaths(0.25, seconds, fs, pause=(400.0, 420.0))
    alex = 1.3 * _breaths(0.26, seconds, fs)                   # a beat every 100 s
    noise = np.random.default_rng(3).normal(0, 0.01, (2, len(sam)))
    strips = np.stack([sam + 0.55 * alex + noise[0], alex + 0.5 * sam + noise[1]], axis=1)
    bed = [(0.0, seconds)]

    def read(share):
        reader = BedVitals(fs, [[0], [1]], share=share)
        first, last = reader.feed(strips), reader.finish()
        minutes = [first[k] + last[k] for k in range(2)]
        return minutes, [breathing_events(m, [], bed) for m in minutes]

    _, mixed = read(None)
    assert len(mixed[0]) >= 5                      # Sam's strip: the beat, read as pauses every 100 s
    minutes, own = read(lambda k, t_s: (0.55, 0.5)[k])
    assert own[1] == []
    assert len(own[0]) == 1 and abs(own[0][0][0] - 400.0) < 2.0 and abs(own[0][0][1] - 420.0) < 2.0
    # and each strip's breathing rate is its own sleeper's
    for each, rate in zip(minutes, (15.0, 15.6)):
        calm = [m.breaths_pm for m in each if not 380 <= m.t_s <= 420]
        assert len(calm) >= 10 and all(r is not None and abs(r - rate) <= 0.3 for r in calm), calm

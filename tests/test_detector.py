"""The streaming detector: the scoring rules on the signal, and block-size invariance."""
from __future__ import annotations

import numpy as np
import pytest

from appliance.detection.analysis import analyze_signal
from appliance.config import Config
from sensor.simulator import World, simulate_night
from sensor.simulator import _lowpass as mattress_lowpass
from tests.conftest import cached_night

FS = 250.0


def beat_wavelet(fs: float = FS) -> np.ndarray:
    """One heartbeat at the strip: a damped 6 Hz wavelet."""
    k = np.arange(int(0.4 * fs)) / fs
    return np.sin(2 * np.pi * 6 * k) * np.exp(-k / 0.08)


def heartbeat_rms() -> float:
    """The RMS of the sleeper's heartbeat alone, one beat a second."""
    return float(np.sqrt(np.sum(beat_wavelet() ** 2) / FS))


def sleeper(seconds: float, fs: float = FS, seed: int = 0, gain: float = 1.0) -> np.ndarray:
    """A still sleeper: one heartbeat a second (a damped 6 Hz wavelet), breathing, noise."""
    rng = np.random.default_rng(seed)
    n = int(seconds * fs)
    t = np.arange(n) / fs
    x = 0.5 * np.sin(2 * np.pi * 0.25 * t) + rng.normal(0, 0.02, n)
    beat = beat_wavelet(fs)
    for b in np.arange(0.3, seconds - 1, 1.0):
        i = int(b * fs)
        x[i:i + len(beat)] += beat * rng.normal(1, 0.1)
    return gain * x + 1.65


def add_burst(x, start_s, dur_s, rms=6.0, fs=FS, seed=1):
    rng = np.random.default_rng(seed)
    i, m = int(start_s * fs), int(dur_s * fs)
    if dur_s < 0.5:   # too short for a band of noise: a blip at 4 Hz
        x[i:i + m] += rms * np.sin(2 * np.pi * 4 * np.arange(m) / fs)
        return x
    spec = np.fft.rfft(rng.standard_normal(m))
    f = np.fft.rfftfreq(m, 1 / fs)
    spec[(f < 0.5) | (f > 6)] = 0
    burst = np.fft.irfft(spec, m)
    x[i:i + m] += burst / burst.std() * rms
    return x


def movements(x, fs=FS, cfg=None, block=None):
    res = analyze_signal(x, fs, cfg or Config(), block=block)
    return [(round(m.onset_s, 1), round(m.offset_s, 1), m.kind) for m in res.movements]


def test_a_still_sleeper_has_no_movements():
    assert movements(sleeper(600)) == []


@pytest.mark.parametrize("dur", [0.8, 2.0, 5.0, 9.0])
def test_a_burst_of_half_a_second_to_ten_is_a_leg_movement(dur):
    x = add_burst(sleeper(400), 200, dur)
    (onset, offset, kind), = movements(x)
    assert kind == "lm"
    assert abs(onset - 200) <= 0.7
    assert abs(offset - (200 + dur)) <= 0.9


def test_activity_over_ten_seconds_is_a_large_movement():
    x = add_burst(sleeper(400), 200, 14.0)
    (onset, offset, kind), = movements(x)
    assert kind == "large" and offset - onset > 10


def test_activity_shorter_than_half_a_second_is_not_scored():
    x = add_burst(sleeper(400), 200, 0.15, rms=3.0)
    assert movements(x) == []


def test_offset_needs_half_a_second_of_quiet():
    # two bursts 0.3 s apart are one movement; 3 s apart are two
    x = add_burst(add_burst(sleeper(400), 200, 1.5), 201.8, 1.5, seed=2)
    assert len(movements(x)) == 1
    x = add_burst(add_burst(sleeper(400), 200, 1.5), 204.5, 1.5, seed=2)
    assert len(movements(x)) == 2


@pytest.mark.parametrize("block", [None, 250])
def test_turning_over_with_pauses_is_one_large_movement(block):
    # a turn stops and starts: pieces of 6, 5.5 and 4 s with 1.5 s pauses
    x = sleeper(400)
    for k, (start, dur) in enumerate([(200, 6.0), (207.5, 5.5), (214.5, 4.0)]):
        x = add_burst(x, start, dur, rms=25.0, seed=k)
    (onset, offset, kind), = movements(x, block=block)
    assert kind == "large" and onset < 200.5 and offset > 215   # into the last piece


def test_kicks_close_together_stay_leg_movements():
    x = add_burst(add_burst(sleeper(400), 200, 2.0), 203.5, 2.0, seed=2)
    assert [k for _, _, k in movements(x)] == ["lm", "lm"]


@pytest.mark.parametrize("gain", [1e-3, 1.0, 1e3])
def test_margins_are_relative_so_any_gain_gives_the_same_movements(gain):
    base = add_burst(sleeper(400), 200, 2.0)
    x = (base - 1.65) * gain + 1.65 * gain
    assert movements(x) == movements(base)


def test_the_resting_level_follows_a_change_of_coupling():
    # after a turn the heartbeat is three times stronger: no movements once it settles
    x = np.concatenate([sleeper(300, seed=1), sleeper(600, seed=2, gain=3.0)])
    x = add_burst(x, 300, 20.0, rms=30)          # the turn itself
    found = movements(x)
    assert [k for _, _, k in found if _ > 300] == ["large"]
    assert all(on < 420 for on, _, _ in found)   # nothing from the stronger heartbeat later


def test_mains_hum_is_ignored():
    t = np.arange(int(400 * FS)) / FS
    x = sleeper(400) + 2.0 * np.sin(2 * np.pi * 50 * t) + 2.0 * np.sin(2 * np.pi * 60 * t)
    assert movements(x) == []


def test_single_sample_glitches_are_ignored():
    x = sleeper(400)
    for s in (100.0, 150.3, 222.2):
        x[int(s * FS)] = 3.3
    assert movements(x) == []


def test_flat_line_is_never_scored():
    x = add_burst(sleeper(400), 100, 2.0)
    x[int(150 * FS):] = 1.65                      # the strip is unplugged
    found = movements(x)
    assert [k for on, _, k in found if on > 140] == []


@pytest.mark.parametrize("block", [1, 997, 250 * 3 + 7])
def test_same_movements_whatever_the_block_size(block):
    rec, _ = cached_night(1.0, 11, "piezo12")
    whole = analyze_signal(rec.signal, rec.fs)
    chunked = analyze_signal(rec.signal, rec.fs, block=block)
    assert [m.as_dict() for m in chunked.movements] == [m.as_dict() for m in whole.movements]
    assert chunked.bed == whole.bed
    assert len(whole.movements) >= 10


def test_same_movements_on_a_whole_night_in_one_second_blocks():
    rec, _ = cached_night(8.0, 12, "loadcell")
    whole = analyze_signal(rec.signal, rec.fs)
    chunked = analyze_signal(rec.signal, rec.fs, block=int(rec.fs) + 1)
    assert [m.as_dict() for m in chunked.movements] == [m.as_dict() for m in whole.movements]
    assert chunked.summary == whole.summary


def test_two_channels_merge_overlapping_movements():
    a = add_burst(sleeper(400, seed=1), 200, 2.0, seed=3)
    b = add_burst(sleeper(400, seed=2), 201.0, 2.0, seed=4)
    res = analyze_signal(np.column_stack([a, b]), FS)
    (m,) = res.movements
    assert m.channels == 0b11 and m.kind == "lm"
    assert m.onset_s < 200.8 and m.offset_s > 202.5


def test_two_channels_combined_longer_than_fifteen_seconds_is_large():
    a = add_burst(sleeper(400, seed=1), 200, 8.0, seed=3)
    b = add_burst(sleeper(400, seed=2), 207.0, 9.0, seed=4)
    res = analyze_signal(np.column_stack([a, b]), FS)
    assert [m.kind for m in res.movements] == ["large"]


@pytest.mark.parametrize("times", [3.0, 5.0])
def test_a_kick_only_a_few_times_the_heartbeat_is_found(times):
    x = add_burst(sleeper(400), 200, 1.5, rms=times * heartbeat_rms())
    (onset, offset, kind), = movements(x)
    assert kind == "lm" and abs(onset - 200) <= 0.7 and abs(offset - 201.5) <= 0.9


def test_strong_heartbeats_beside_a_short_kick_do_not_hide_it():
    # the kick's edges may take in a beat that follows within the 0.5 s of quiet, no more
    x = add_burst(sleeper(400), 200.0, 0.9, rms=5 * heartbeat_rms())
    beat = beat_wavelet()
    for at in (199.3, 201.3):                          # the beats either side, twice as strong
        i = int(at * FS)
        x[i:i + len(beat)] += beat
    (onset, offset, kind), = movements(x)
    assert kind == "lm" and abs(onset - 200) <= 0.4 and abs(offset - 200.9) <= 0.7


def test_short_weak_kicks_that_reverse_their_force_are_found_whole():
    """Kicks of 0.5-1.2 s at 2.2-4x the heartbeat, band-limited force that reverses several times a
    second: a frame that holds a reversal changes less than rest and once cut such a kick under 0.5 s."""
    world = World(kick_seconds=(0.5, 1.2), kick_strength=(2.2, 4.0), imi=(15.0, 25.0))
    rec, truth = simulate_night(1.5, 201, "severe", world=world)
    start, end = 2050.0, 2770.0                 # twelve minutes of a dense series
    x = rec.signal[int(start * rec.fs):int(end * rec.fs)]
    found = [(m.onset_s + start, m.offset_s + start) for m in analyze_signal(x, rec.fs).movements if m.kind == "lm"]
    kicks = [(a, b) for a, b in truth.lms if start + 40 < a and b < end]
    assert len(kicks) == 29
    missed = [(a, b) for a, b in kicks if not any(c < b and d > a for c, d in found)]
    assert len(missed) <= 4                     # 6 when a still frame ended a kick's edges
    assert all(any(a < d and b > c for a, b in truth.lms) for c, d in found)     # none extra


def test_deep_breathing_is_not_movement():
    t = np.arange(int(600 * FS)) / FS
    rate = 0.25 + 0.1 * np.sin(2 * np.pi * t / 120)   # breathing speeds up and slows down
    x = sleeper(600) + 4.0 * np.sin(2 * np.pi * np.cumsum(rate) / FS)
    assert movements(x) == []


def add_sway(x, start_s, dur_s, rms, corner_hz=2.0, fs=FS, seed=5):
    """A partner's movement as it reaches this strip: through the mattress, low-passed."""
    moved = mattress_lowpass(add_burst(np.zeros_like(x), start_s, dur_s, rms=1.0, fs=fs, seed=seed), fs, corner_hz)
    i, j = int(start_s * fs), int((start_s + dur_s) * fs)
    return x + moved * rms / moved[i:j].std()


def shared_bed() -> Config:
    cfg = Config()
    cfg.detection.shared_bed = True
    return cfg


def test_in_a_shared_bed_sway_from_the_other_side_is_not_a_leg_movement():
    x = add_sway(sleeper(400), 200, 2.5, rms=3 * heartbeat_rms())
    assert [k for _, _, k in movements(x)] == ["lm"]            # sleeping alone, it would be his
    assert movements(x, cfg=shared_bed()) == []


@pytest.mark.parametrize("times", [3.0, 5.0])
def test_in_a_shared_bed_the_sleepers_own_kick_still_counts(times):
    x = add_burst(sleeper(400), 200, 1.5, rms=times * heartbeat_rms())
    x = add_sway(x, 300, 2.5, rms=3 * heartbeat_rms())
    assert movements(x, cfg=shared_bed()) == movements(add_burst(sleeper(400), 200, 1.5, rms=times * heartbeat_rms()))


@pytest.mark.parametrize("block", [1, 997])
def test_in_a_shared_bed_the_same_movements_whatever_the_block_size(block):
    rec, _ = cached_night(1.0, 11, "partner")
    whole = analyze_signal(rec.signal, rec.fs, shared_bed())
    chunked = analyze_signal(rec.signal, rec.fs, shared_bed(), block=block)
    assert [m.as_dict() for m in chunked.movements] == [m.as_dict() for m in whole.movements]
    assert len(whole.movements) >= 5


def test_daemon_and_analyze_agree_to_the_last_movement_of_a_night_that_ends_getting_up(tmp_path):
    """The demo night: its last movement, getting out of bed, was large in analyze and a leg movement
    in the daemon's one-second blocks (a bed change placed just before the time the tracker had
    already called final)."""
    from appliance.daemon import Daemon
    from appliance.nights import stored_night
    from appliance.store import Store
    from sensor.replay import ReplaySource

    rec, _ = cached_night(8.0, 7, "piezo12")
    whole = analyze_signal(rec.signal, rec.fs).as_dict()
    store = Store(tmp_path / "k.db")
    Daemon(Config(), ReplaySource(rec, speed="max"), store, source_name="test", finite=True).run()
    night = stored_night(store)
    assert night["movements"] == whole["movements"] and night["bed"] == whole["bed"]
    last = whole["movements"][-1]
    assert last["kind"] == "large" and abs(last["onset_s"] - whole["bed"][-1]["out_s"]) < 10


@pytest.mark.parametrize("fs", [100.0, 250.0, 500.0])
@pytest.mark.parametrize("noise_counts", [0.15, 0.3])
def test_an_empty_bed_on_a_10_bit_adc_is_empty(fs, noise_counts):
    """The bias within a count or two for twenty minutes: no movement, no one in bed, no runaway ratio."""
    rng = np.random.default_rng(int(fs) + int(noise_counts * 100))
    lsb = 3.3 / 1023
    n = int(1200 * fs)
    drift = 0.3 * lsb * np.sin(2 * np.pi * np.arange(n) / fs / 600)
    x = np.round((1.65 + rng.normal(0, noise_counts * lsb, n) + drift) / lsb) * lsb
    result = analyze_signal(x, fs)
    assert result.movements == [] and result.bed == []


def test_the_quantization_floor_leaves_a_float_recording_alone():
    from appliance.detection.detector import quantization_floor
    assert quantization_floor(float("inf"), 25) == 0.0
    assert quantization_floor(1e-9, 25) < 1e-9 and quantization_floor(3.3 / 1023, 25) > 1e-4


def test_the_adcs_step_is_found_under_mains_hum_that_moves_every_sample_many_counts():
    """An empty bed on a 10-bit ADC with hum of some twenty counts: sample to sample the value jumps
    by many counts, but the ADC's step is one count, and the floor is judged by that from the start
    (a floor judged by the jumps would make a body's heartbeat look like an empty bed's noise)."""
    from appliance.detection.detector import ChannelDetector
    fs, q = 200.0, 3.3 / 1024
    t = np.arange(int(5 * fs)) / fs
    rng = np.random.default_rng(2)
    hum = 20 * q * np.sin(2 * np.pi * 50.0 * t + 0.3)          # four samples a cycle: jumps of ~20 counts
    x = np.round((1.65 + hum + rng.normal(0, 0.3 * q, len(t))) / q) * q
    det = ChannelDetector(fs)
    det.feed(x)
    det.finish()
    assert det._step == pytest.approx(q, rel=1e-6)

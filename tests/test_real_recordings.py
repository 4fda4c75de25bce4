"""The five real recordings from a force-sensing strip under a mattress (../shared/data/real).

An awake adult lies still (or talks, whispers, hums) between getting in and out:
there are no leg movements to find. Bed times are from the data's README and
from the load itself.
"""
from __future__ import annotations

import pytest

from appliance.detection.analysis import analyze_signal
from sensor.recording import read_recording

# file: (gets in ~s, gets out ~s, posture adjustments the README mentions)
EXPECTED = {
    "fsr_bed_b.npz": (7.5, 630.0),
    "fsr_bed_normal.npz": (7.5, 156.0),
    "fsr_bed_whisper.npz": (9.0, 175.0),
    "fsr_bed_o_sound.npz": (7.5, 238.0),
}


@pytest.fixture(scope="module")
def results(real_dir):
    out = {}
    for path in sorted(real_dir.glob("fsr_bed_*.npz")):
        rec = read_recording(path)
        out[path.name] = analyze_signal(rec.signal, rec.fs)
    return out


def test_all_five_are_read(results):
    assert len(results) == 5


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_getting_in_and_out_are_found_within_a_few_seconds(results, name):
    t_in, t_out = EXPECTED[name]
    bed = results[name].bed
    assert len(bed) == 1, bed
    assert abs(bed[0][0] - t_in) <= 3.0
    assert abs(bed[0][1] - t_out) <= 3.0


@pytest.mark.parametrize("name", sorted(EXPECTED) + ["fsr_bed_a.npz"])
def test_no_periodic_series_while_lying_still_or_talking(results, name):
    assert results[name].series == []


@pytest.mark.parametrize("name", sorted(EXPECTED) + ["fsr_bed_a.npz"])
def test_few_if_any_leg_movements_while_lying_still(results, name):
    lms = [m for m in results[name].movements if m.kind == "lm"]
    minutes = results[name].summary["hours_in_bed"] * 60
    # the README: a few posture adjustments remain, visible and unlabelled
    assert len(lms) <= max(3, minutes / 2), [(m.onset_s, m.offset_s) for m in lms]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_getting_in_and_out_are_large_movements_not_kicks(results, name):
    res = results[name]
    t_in, t_out = res.bed[0]
    near = [m for m in res.movements if abs(m.onset_s - t_in) < 5 or abs(m.offset_s - t_out) < 5]
    assert near and all(m.kind == "large" for m in near)


def test_bed_a_lying_down_and_rising_are_found(results):
    # The README calls bed_a "in bed throughout"; its load says more: about 900 mV at the
    # start (sitting on the edge), 3000 mV lying down from ~8 s, 700 mV after rising at ~311 s.
    (period,) = results["fsr_bed_a.npz"].bed
    assert 5.0 <= period[0] <= 12.0 and 305.0 <= period[1] <= 318.0

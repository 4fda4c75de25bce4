"""The scoring rules of DESIGN.md, one behaviour per test."""
from __future__ import annotations

import pytest

from appliance.config import DetectionConfig, SeriesConfig
from appliance.detection.scoring import (Movement, Stretch, classify, find_series, intervals, join_large, merge_channels,
                               periodicity_index, summarise)


def lms(*onsets, dur=1.5):
    return [Movement(t, t + dur) for t in onsets]


def test_four_movements_twenty_seconds_apart_are_a_series():
    ms = lms(100, 120, 140, 160)
    (s,) = find_series(ms, SeriesConfig())
    assert s.count == 4 and all(m.periodic and m.series == 1 for m in ms)


def test_three_are_not_enough():
    ms = lms(100, 120, 140)
    assert find_series(ms, SeriesConfig()) == [] and not any(m.periodic for m in ms)


@pytest.mark.parametrize("gap", [9.9, 90.1])
def test_an_interval_out_of_bounds_ends_the_series(gap):
    ms = lms(100, 120, 140, 160, 160 + gap, 180 + gap, 200 + gap, 220 + gap)
    series = find_series(ms, SeriesConfig())
    assert [s.count for s in series] == [4, 4]


def test_interval_bounds_are_inclusive_and_configurable():
    ms = lms(0, 10, 20, 30)
    assert len(find_series(ms, SeriesConfig())) == 1
    ms = lms(0, 6, 12, 18)
    assert find_series(ms, SeriesConfig()) == []
    assert len(find_series(ms, SeriesConfig(imi_min_s=5.0))) == 1     # the older AASM rule


def test_a_large_movement_ends_a_series():
    ms = lms(100, 120, 140) + [Movement(150, 165, "large")] + lms(170, 190, 210)
    assert find_series(ms, SeriesConfig()) == []


def test_leaving_the_bed_ends_a_series():
    ms = lms(100, 120, 140, 160, 180)
    bed = [(0, 150), (155, 1000)]
    assert find_series(ms, SeriesConfig(), bed) == []


def test_movement_durations_half_a_second_to_ten():
    cfg = DetectionConfig()
    assert classify(0, 0.4, 1, cfg) is None
    assert classify(0, 0.5, 1, cfg) == "lm"
    assert classify(0, 10.0, 1, cfg) == "lm"
    assert classify(0, 10.1, 1, cfg) == "large"
    assert classify(0, 14.0, 0b11, cfg) == "lm"       # combined two-channel movements: 15 s
    assert classify(0, 15.1, 0b11, cfg) == "large"


def test_activity_that_is_not_sustained_is_not_a_leg_movement():
    cfg = DetectionConfig()
    assert classify(0, 1.1, 1, cfg, body=0.8) is None        # a heartbeat or two in the window
    assert classify(0, 1.1, 1, cfg, body=4.0) == "lm"
    assert classify(0, 20.0, 1, cfg, body=0.8) == "large"    # long activity is large whatever its body


def test_two_channels_merge_when_overlapping_or_under_half_a_second_apart():
    def on(channel, a, b, peak, body):
        return Stretch(a, b, 1 << channel, peak, body)
    merged = merge_channels([[on(0, 10, 12, 5, 3)], [on(1, 11, 13, 6, 4)]], 0.5)
    assert merged == [Stretch(10, 13, 0b11, 6, 4)]
    merged = merge_channels([[on(0, 10, 12, 5, 3)], [on(1, 12.4, 13, 6, 4)]], 0.5)
    assert merged == [Stretch(10, 13, 0b11, 6, 4)]
    merged = merge_channels([[on(0, 10, 12, 5, 3)], [on(1, 12.6, 13, 6, 4)]], 0.5)
    assert len(merged) == 2


def test_pieces_with_short_pauses_that_outlast_a_leg_movement_are_one_large_movement():
    cfg = DetectionConfig()       # pauses under 3 s join; over 10 s is large
    turn = [Stretch(100, 104, 1, 30, 9), Stretch(105.5, 109, 1, 40, 9), Stretch(111, 113, 1, 20, 5)]
    assert join_large(turn, cfg.large_pause_s, cfg) == [Stretch(100, 113, 1, 40, 9)]
    kicks = [Stretch(100, 102, 1, 8, 4), Stretch(103.5, 105, 1, 9, 4)]         # close, but five seconds in all
    assert join_large(kicks, cfg.large_pause_s, cfg) == kicks
    apart = [Stretch(100, 104, 1, 8, 4), Stretch(107.5, 112, 1, 9, 4)]         # a pause of 3.5 s: two movements
    assert join_large(apart, cfg.large_pause_s, cfg) == apart


def test_in_a_shared_bed_a_movement_without_fast_force_is_not_a_leg_movement():
    shared = DetectionConfig(shared_bed=True)            # min_fast 3: three times the heart's fast force
    assert classify(0, 2.0, 1, shared, body=4.0, fast=1.6) is None     # slow sway through the mattress
    assert classify(0, 2.0, 1, shared, body=4.0, fast=8.0) == "lm"
    assert classify(0, 20.0, 1, shared, body=4.0, fast=1.6) == "large"  # turning over is large whoever it is
    alone = DetectionConfig()
    assert classify(0, 2.0, 1, alone, body=4.0, fast=1.6) == "lm"      # sleeping alone: every movement is his


def test_a_merged_stretch_keeps_the_stronger_fast_force():
    merged = merge_channels([[Stretch(10, 12, 1, 5, 3, 1.2)], [Stretch(11, 13, 2, 6, 4, 7.0)]], 0.5)
    assert merged[0].fast == 7.0
    assert Stretch(0, 1).joined(Stretch(1, 2)).fast is None    # not measured on either


def test_periodicity_index_counts_runs_of_three_or_more():
    # Ferri 2006: IMIs 10-90 s in runs of >= 3 count; a run of two does not
    assert periodicity_index([[20, 20, 20, 5, 20, 20]]) == pytest.approx(3 / 6)
    assert periodicity_index([[20, 20]]) == 0.0
    assert periodicity_index([]) is None


def test_intervals_are_onset_to_onset_and_break_at_large_movements():
    ms = lms(0, 20, 45) + [Movement(50, 70, "large")] + lms(80, 100)
    assert intervals(ms) == [[20, 25], [20]]


def test_summary_uses_time_in_bed_as_the_denominator():
    ms = lms(*[100 + 20 * i for i in range(10)]) + lms(2000)
    series = find_series(ms, SeriesConfig())
    s = summarise(ms, series, [(0, 1800), (1900, 4000)], SeriesConfig())
    assert s["hours_in_bed"] == pytest.approx(3900 / 3600, abs=0.01)
    assert s["lm_count"] == 11 and s["plm_count"] == 10 and s["series_count"] == 1
    assert s["plmi"] == pytest.approx(10 / (3900 / 3600), abs=0.05)
    assert s["lmi"] == pytest.approx(11 / (3900 / 3600), abs=0.05)
    assert s["not_measured"] is None
    assert "time in bed" in s["denominator"]
    assert sum(s["imi_histogram"]["counts"]) == 9 and s["imi_histogram"]["counts"][10] == 9   # 20 s in bin 20-22


def test_summary_of_an_empty_night():
    s = summarise([], [], [], SeriesConfig())
    assert s["plmi"] is None and s["lm_count"] == 0 and s["periodicity_index"] is None
    assert s["not_measured"] == "Nobody was in bed, so there is no per-hour rate."


def test_under_an_hour_in_bed_no_rate_is_given_and_the_minimum_is_said():
    ms = lms(*[100 + 20 * i for i in range(10)])
    s = summarise(ms, find_series(ms, SeriesConfig()), [(0, 59 * 60)], SeriesConfig())
    assert s["plmi"] is None and s["lmi"] is None and s["plm_count"] == 10
    assert s["not_measured"] == ("Only 59 minutes in bed: a per-hour rate needs at least 60 minutes in bed "
                                 "to mean anything.")

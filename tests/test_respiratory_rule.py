"""WASM 2016's respiratory-related leg movements, one part of the rule per test.

The window and its use follow PLMScoRe's "respiratory LMs removed" variant (R/lm_score.R,
functions rlm and plm): an LM whose onset, or whose offset, lies from 2.0 s before to
10.25 s after the end of a breathing event (both ends included), or that spans that
window, is respiratory-related; it is then left out of the sequence, so the interval
runs from the LM before it to the one after. A large movement still ends a series.
"""
from __future__ import annotations

import pytest

from appliance.config import SeriesConfig
from appliance.detection.scoring import Movement, NightResult, respiratory_related

EVENT = [(100.0, 120.0)]     # a breathing event ending at 120 s: the window is 118.0-130.25 s


@pytest.mark.parametrize("onset, offset, related", [
    (118.0, 119.5, True),      # onset exactly 2.0 s before the end
    (117.99, 118.0, True),     # offset exactly 2.0 s before the end
    (116.0, 117.99, False),    # wholly before the window: inside the event, not near its end
    (130.25, 131.0, True),     # onset exactly 10.25 s after the end
    (130.26, 131.0, False),    # onset just past the window
    (121.0, 122.0, True),      # inside the window
    (110.0, 119.0, True),      # begins inside the event, ends inside the window
])
def test_the_window_runs_from_two_seconds_before_to_ten_and_a_quarter_after_the_end(onset, offset, related):
    assert respiratory_related(onset, offset, EVENT) is related


def test_a_movement_spanning_the_whole_window_is_related():
    assert respiratory_related(117.0, 131.0, EVENT)


def test_it_is_the_end_of_the_event_that_counts_not_its_onset():
    assert not respiratory_related(99.0, 101.0, EVENT)


def test_without_events_nothing_is_related():
    assert not respiratory_related(118.0, 119.0, [])


def night(onsets, events, kinds=None, dur=1.5):
    kinds = kinds or {}
    ms = [Movement(t, t + kinds.get(t, (dur, "lm"))[0], kinds.get(t, (dur, "lm"))[1]) for t in onsets]
    return NightResult(ms, [(0.0, 7200.0)], SeriesConfig(), 250.0, 1, 7200.0, events=events, vitals=[])


def test_a_related_movement_is_left_out_and_the_interval_runs_over_it():
    # 0, 20, [40 related], 60, 80: without it the intervals are 20, 40, 20, a series of four
    res = night([1000, 1020, 1040, 1060, 1080], [(1020.0, 1041.0)])
    related = [m.onset_s for m in res.movements if m.respiratory]
    assert related == [1040]
    assert res.summary["plm_count"] == 4 and res.summary["series_count"] == 1
    assert res.summary["plm_count_with_respiratory"] == 5
    assert not [m for m in res.movements if m.respiratory][0].periodic


def test_leaving_one_out_can_join_what_a_short_interval_split():
    # 0, 20, [25 related], 40, 60: kept in, 20-25 is 5 s and breaks the run; left out, 0-20-40-60 is a series
    res = night([1000, 1020, 1025, 1040, 1060], [(1005.0, 1024.0)])
    assert res.summary["plm_count"] == 4 and res.summary["plm_count_with_respiratory"] == 0


def test_leaving_one_out_can_break_a_series_with_a_long_interval():
    # 0, 20, 40, 60, [110 related], 160: left out, 60-160 is 100 s; kept in, six 10-90 s intervals
    onsets = [1000, 1020, 1040, 1060, 1110, 1160, 1210, 1260]
    res = night(onsets, [(1090.0, 1111.0)])
    assert [s.count for s in res.series] == [4] and res.summary["plm_count_with_respiratory"] == 8


def test_a_large_movement_still_ends_a_series_when_related():
    onsets = [1000, 1020, 1040, 1060, 1080, 1100, 1120, 1140, 1160]
    res = night(onsets, [(1060.0, 1080.0)], kinds={1080: (15.0, "large")})
    assert [m.respiratory for m in res.movements if m.kind == "large"] == [True]
    assert [s.count for s in res.series] == [4, 4]        # not one series over it
    assert res.summary["plm_count_with_respiratory"] == 8


def test_the_periodicity_index_leaves_related_movements_out_too():
    res = night([1000, 1020, 1025, 1040, 1060], [(1005.0, 1024.0)])
    assert res.summary["periodicity_index"] == 1.0


def test_events_give_a_rate_per_hour_in_bed_and_no_events_change_nothing():
    plain = night([1000, 1020, 1040, 1060], None)
    assert plain.summary["rei"] is None and plain.summary["plm_count_with_respiratory"] == plain.summary["plm_count"]
    res = night([1000, 1020, 1040, 1060], [(300.0, 320.0), (500.0, 515.0)])
    assert res.summary["rei"] == 1.0 and res.summary["plmi"] == res.summary["plmi_with_respiratory"] == 2.0
    assert res.as_dict()["respiratory_events"] == [{"onset_s": 300.0, "offset_s": 320.0},
                                                     {"onset_s": 500.0, "offset_s": 515.0}]

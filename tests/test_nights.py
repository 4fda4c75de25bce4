"""The night book, the bed tracker and the stored night, each on its own (the store in memory)."""
from __future__ import annotations

import sqlite3

import pytest

from appliance.config import Config
from appliance.detection.detector import Tick
from appliance.detection.occupancy import BedTracker
from appliance.detection.pipeline import Events
from appliance.detection.scoring import Movement
from appliance.nights import NightBook, evening_date, rescore, stored_night
from appliance.store import Store

EVENING = 1764622800.0     # a fixed UTC time to count from


@pytest.fixture
def store():
    s = Store(sqlite3.connect(":memory:"))
    yield s
    s.close()


def kicks(start: float, n: int, every: float = 25.0) -> list[Movement]:
    return [Movement(start + k * every, start + k * every + 1.2, "lm") for k in range(n)]


def test_a_night_starts_in_bed_gathers_its_movements_and_closes_after_the_gap(store):
    cfg = Config()
    book = NightBook(store, cfg, EVENING, 250.0, 1)
    book.handle(Events(bed_changes=[(100.0, "in")]), 100.0)
    book.handle(Events(movements=kicks(200.0, 6)), 400.0)
    book.handle(Events(bed_changes=[(4000.0, "out")]), 4000.0)
    book.write()
    store.flush()
    night = stored_night(store)
    assert night["night"]["date"] == evening_date(EVENING + 100.0) and not night["night"]["closed"]
    assert night["summary"]["plm_count"] == 6 and night["bed"] == [{"in_s": 100.0, "out_s": 4000.0}]
    book.handle(Events(), 4000.0 + cfg.store.night_gap_min * 60 + 1)   # the bed stays empty
    store.flush()
    assert stored_night(store)["night"]["closed"] and book.night is None


def test_a_restart_mid_night_continues_it_and_a_stale_one_is_closed(store):
    cfg = Config()
    book = NightBook(store, cfg, EVENING, 250.0, 1)
    book.handle(Events(bed_changes=[(100.0, "in")], movements=kicks(200.0, 4)), 400.0)
    book.write()
    store.flush()
    again = NightBook(store, cfg, EVENING + 600.0, 250.0, 1)            # ten minutes later
    assert again.night is not None and len(again.night.movements) == 4
    again.handle(Events(movements=kicks(10.0, 2)), 100.0)              # this session's own seconds
    again.write()
    store.flush()
    assert stored_night(store)["summary"]["lm_count"] == 6 and store.count_nights() == 1
    late = NightBook(store, cfg, EVENING + 86400.0, 250.0, 1)          # a day later
    store.flush()
    assert late.night is None and stored_night(store)["night"]["closed"]


def test_a_clock_jump_moves_the_open_night_without_splitting_it(store):
    book = NightBook(store, Config(), EVENING, 250.0, 1)
    book.handle(Events(bed_changes=[(100.0, "in")], movements=kicks(200.0, 4)), 400.0)
    book.write()
    store.flush()
    book.shift(-7200.0)
    book.write()
    store.flush()
    night = stored_night(store)
    assert store.count_nights() == 1 and night["movements"][0]["onset_s"] == 200.0
    assert store.night(night["night"]["date"])["origin_utc"] == EVENING - 7200.0


def test_rescore_leaves_the_open_night_to_the_recorder(store):
    book = NightBook(store, Config(), EVENING, 250.0, 1)
    book.handle(Events(bed_changes=[(100.0, "in")], movements=kicks(200.0, 3)), 400.0)
    book.write()
    store.flush()
    loose = Config()
    loose.series.min_count = 2
    assert rescore(store, loose) == [] and stored_night(store)["summary"]["plm_count"] == 0
    book.close()
    store.flush()
    (changed,) = rescore(store, loose)
    assert changed["changes"]["plm_count"] == (0, 3) and stored_night(store)["summary"]["plm_count"] == 3


def quiet(i: int, level: float, energy: float = 1e-4) -> Tick:
    return Tick(i, level, 1e-3, energy, energy, True, False)


def busy(i: int, level: float) -> Tick:
    return Tick(i, level, 5e-2, 1e-2, 1e-4, False, False)


def test_the_bed_tracker_places_getting_in_and_out_where_the_load_changes():
    bed = BedTracker(1.0, confirm_s=10.0)
    ticks = ([quiet(i, 0.2) for i in range(2, 60)] + [busy(i, 1.0) for i in range(60, 65)]
             + [quiet(i, 1.5) for i in range(65, 200)] + [busy(i, 1.0) for i in range(200, 204)]
             + [quiet(i, 0.2) for i in range(204, 300)])
    for t in ticks:
        bed.add(t)
    bed.finish()
    assert bed.initial == "out" and [w for _, w in bed.changes] == ["in", "out"]
    (t_in, _), (t_out, _) = bed.changes
    assert 60 <= t_in <= 65 and 200 <= t_out <= 205
    assert bed.periods(300.0) == [(t_in, t_out)]
    assert bed.resolved_until_s <= 300.0


def test_minutes_events_and_the_respiratory_mark_are_stored_and_kept_over_a_restart(store):
    """The night book scores the minutes it is given; a restart keeps the stored part as stored."""
    from tests.conftest import cached_night
    from appliance.detection.analysis import analyze_signal
    from appliance.detection.vitals import minutes_of

    rec, truth = cached_night(1.2, 16, "breathing")
    res = analyze_signal(rec.signal, rec.fs)
    cfg = Config()
    book = NightBook(store, cfg, EVENING, rec.fs, 1)
    book.handle(Events(bed_changes=[(a, w) for p in res.bed for a, w in ((p[0], "in"), (p[1], "out"))],
                       movements=[Movement(m.onset_s, m.offset_s, m.kind, m.channels, m.peak) for m in res.movements]),
                rec.duration_s)
    book.add_minutes(minutes_of(rec.signal, rec.fs, [0]))
    book.write()
    store.flush()
    night = stored_night(store)
    assert night["respiratory_events"] == res.as_dict()["respiratory_events"] and night["respiratory_events"]
    assert night["vitals"] == res.vitals
    assert [m["respiratory"] for m in night["movements"]] == [m.respiratory for m in res.movements]
    for key in ("heart_bpm", "breaths_pm", "vitals_coverage", "rei", "plm_count_with_respiratory"):
        assert night["summary"][key] == res.summary[key]
    assert night["heart_response"] == res.heart_response
    # the daemon restarts: what was stored stays, whatever it reads from here on
    again = NightBook(store, cfg, EVENING + rec.duration_s + 5, rec.fs, 1)
    again.write()
    store.flush()
    assert stored_night(store)["respiratory_events"] == night["respiratory_events"]
    assert stored_night(store)["vitals"] == night["vitals"]

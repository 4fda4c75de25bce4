"""The SQLite store: migrations, WAL, batched writes, read-only opening."""
from __future__ import annotations

import sqlite3

import pytest

from appliance.store import MIGRATIONS, State, Store, StoreError, migrations


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "k.db")
    yield s
    s.close()


def test_fresh_database_has_every_migration_and_wal(store):
    assert [m.name for m in migrations().applied(store.db)] == ["m001_initial", "m002_sleepers", "m003_vitals", "m004_diary"]
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert {"nights", "movements", "series", "bed_periods", "health", "state", "sessions"} <= set(store.db.table_names())


def test_reopening_applies_nothing_twice(tmp_path):
    Store(tmp_path / "k.db").close()
    s = Store(tmp_path / "k.db")
    assert len(migrations().applied(s.db)) == len(MIGRATIONS)
    s.close()


def test_a_database_of_one_sleeper_keeps_its_nights_when_nights_become_per_sleeper(tmp_path):
    import sqlite_utils
    from sqlite_utils.migrations import Migrations
    from appliance.store import m001_initial

    old = sqlite_utils.Database(tmp_path / "old.db")
    first = Migrations("kickwatch")     # the store as the first release made it
    first()(m001_initial)
    first.apply(old)
    old["nights"].insert({"date": "2026-11-30", "origin_utc": 0.0, "closed": 1, "fs": 250.0, "channels": 1})
    old.conn.close()
    # a dashboard reads it before the daemon has updated it
    ro = Store(tmp_path / "old.db", readonly=True)
    assert ro.night("2026-11-30")["date"] == "2026-11-30" and ro.sleepers() == [""]
    ro.close()
    s = Store(tmp_path / "old.db")
    assert s.night("2026-11-30")["sleeper"] == "" and s.sleepers() == [""]
    # two sleepers' nights of the same date live side by side
    sam = s.night_id("2026-12-01", 0.0, 0.0, 250.0, 2, "Sam")
    alex = s.night_id("2026-12-01", 0.0, 0.0, 250.0, 2, "Alex")
    assert sam != alex and s.night("2026-12-01", "Alex")["id"] == alex
    assert s.night("2026-12-01") is None and s.sleepers() == ["", "Sam", "Alex"]
    s.close()


def test_queued_writes_are_invisible_until_flushed(store, tmp_path):
    store.set_state(State.DAEMON, {"a": 1})
    other = sqlite3.connect(tmp_path / "k.db")
    assert other.execute("SELECT count(*) FROM state").fetchone()[0] == 0
    assert store.flush() == 1
    assert other.execute("SELECT value FROM state").fetchone()[0] == '{"a": 1}'
    assert store.get_state(State.DAEMON) == {"a": 1}


def test_one_flush_is_one_transaction(store):
    for i in range(100):
        store.add_health(float(i), "ok", samples=i)
    changes_before = store.conn.total_changes
    store.flush()
    assert store.conn.total_changes - changes_before == 100
    assert store.pending == 0


def test_read_only_store_cannot_write(store, tmp_path):
    store.set_state(State.CLOCK_JUMP, 1)
    store.flush()
    ro = Store(tmp_path / "k.db", readonly=True)
    assert ro.get_state(State.CLOCK_JUMP) == 1
    with pytest.raises(sqlite3.OperationalError):
        ro.conn.execute("INSERT INTO state VALUES ('y', '2')")
    ro.close()


def test_read_only_store_of_a_missing_file_says_so(tmp_path):
    with pytest.raises(StoreError, match="no database"):
        Store(tmp_path / "none.db", readonly=True)


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="cannot open the database"):
        Store(bad)


def test_integrity_check(store):
    assert store.integrity_ok()



@pytest.fixture
def memory():
    """The store on an in-memory database, migrations and all."""
    s = Store(sqlite3.connect(":memory:"))
    yield s
    s.close()


def test_a_night_is_stored_whole_and_read_back_as_stored(memory):
    nid = memory.night_id("2026-11-30", 1000.0, 1100.0, 250.0, 1)
    memory.save_movement(nid, 1200.0, 1201.5, "lm", 1, 9.0, True, 1)
    memory.save_movement(nid, 1230.0, 1231.0, "lm", 1, 8.0, False, None)
    memory.replace_series(nid, [{"number": 1, "onset_utc": 1200.0, "offset_utc": 1301.0, "count": 4,
                                 "mean_imi_s": 30.0}])
    memory.save_bed_period(nid, 1100.0, None)
    summary = {"hours_in_bed": 1.0, "lm_count": 2, "plm_count": 1, "series_count": 1, "plmi": 1.0, "lmi": 2.0,
               "periodicity_index": None}
    memory.save_night(nid, "2026-11-30", 1100.0, None, 4700.0, False, summary, '{"lm_count": 2}')
    assert memory.pending > 0 and memory.nights()[0]["plmi"] is None     # queued, not yet written
    memory.flush()
    (row,) = memory.nights()
    assert row["plmi"] == 1.0 and row["closed"] == 0 and memory.open_night()["id"] == nid
    assert [m["periodic"] for m in memory.movements(nid)] == [1, 0]
    assert memory.series(nid)[0]["count"] == 4 and memory.bed_periods(nid)[0]["out_utc"] is None
    memory.replace_series(nid, [])
    memory.close_night(nid)
    memory.flush()
    assert memory.series(nid) == [] and memory.open_night() is None and memory.count_nights() == 1


def test_a_clock_jump_moves_every_time_of_the_night(memory):
    nid = memory.night_id("2026-11-30", 1000.0, 1100.0, 250.0, 1)
    memory.save_movement(nid, 1200.0, 1201.0, "lm", 1, 9.0, False, None)
    memory.save_bed_period(nid, 1100.0, 2000.0)
    memory.flush()
    memory.shift_night(nid, 3600.0)
    memory.flush()
    assert memory.movements(nid)[0]["onset_utc"] == 4800.0 and memory.bed_periods(nid)[0]["out_utc"] == 5600.0
    assert memory.night("2026-11-30")["origin_utc"] == 4600.0


def test_deleting_a_night_leaves_nothing_of_it(memory):
    nid = memory.night_id("2026-11-30", 1000.0, 1100.0, 250.0, 1)
    memory.save_movement(nid, 1200.0, 1201.0, "lm", 1, 9.0, False, None)
    memory.flush()
    memory.delete_night(nid)
    memory.flush()
    assert memory.nights() == [] and memory.movements(nid) == []


def test_state_keys_are_named(memory):
    memory.set_state(State.SENSOR_FAULT, {"at": 1.0, "error": "gone"})
    memory.flush()
    assert memory.get_state(State.SENSOR_FAULT)["error"] == "gone" and memory.get_state(State.DAEMON) is None
    with pytest.raises(ValueError):
        memory.set_state("no such key", 1)


def test_request_files_are_taken_oldest_first_and_a_broken_one_is_kept(tmp_path):
    from appliance.requests import DELETE_NIGHT, leave_request, take_requests
    first = leave_request(tmp_path, DELETE_NIGHT, date="2026-11-29")
    leave_request(tmp_path, DELETE_NIGHT, date="2026-11-30")
    (tmp_path / "9999999999999-zz.json").write_text("{half a")
    assert first.exists() and not list(tmp_path.glob("*.tmp"))
    taken = [r["date"] for r in take_requests(tmp_path)]
    assert taken == ["2026-11-29", "2026-11-30"]
    assert list(tmp_path.glob("*.json")) == [] and len(list(tmp_path.glob("*.bad"))) == 1


def test_every_sensor_status_has_words_for_people():
    from appliance import sensor_status
    for name in (sensor_status.OK, sensor_status.FLAT, sensor_status.CLIPPED, sensor_status.NOISY,
                 sensor_status.FAULT, sensor_status.UNKNOWN):
        assert sensor_status.words(name) != name and sensor_status.words(name).strip()


def test_a_store_from_before_heart_and_breathing_reads_with_none_of_them(tmp_path):
    import sqlite_utils
    from sqlite_utils.migrations import Migrations
    from appliance.nights import stored_night
    from appliance.store import m001_initial, m002_sleepers

    old = sqlite_utils.Database(tmp_path / "old.db")
    earlier = Migrations("kickwatch")
    earlier()(m001_initial)
    earlier()(m002_sleepers)
    earlier.apply(old)
    nid = old["nights"].insert({"date": "2026-11-30", "origin_utc": 0.0, "last_utc": 3600.0, "closed": 1,
                                "fs": 250.0, "channels": 1, "summary_json": '{"plm_count": 0}'}).last_pk
    old["movements"].insert({"night_id": nid, "onset_utc": 10.0, "offset_utc": 11.0, "kind": "lm", "channels": 1,
                             "peak": 3.0, "periodic": 0})
    old.conn.close()
    ro = Store(tmp_path / "old.db", readonly=True)
    night = stored_night(ro, "2026-11-30")
    assert night["vitals"] == [] and night["respiratory_events"] == [] and night["heart_response"] is None
    assert night["movements"][0]["respiratory"] is False
    ro.close()
    s = Store(tmp_path / "old.db")          # the daemon updates it; the night keeps its movement
    assert len(s.movements(nid)) == 1 and s.vitals(nid) == []
    s.close()

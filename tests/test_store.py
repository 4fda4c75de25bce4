"""The SQLite store: migrations, WAL, batched writes, read-only opening."""
from __future__ import annotations

import sqlite3

import pytest

from appliance.store import Store, StoreError, migrations


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "k.db")
    yield s
    s.close()


def test_fresh_database_has_every_migration_and_wal(store):
    assert [m.name for m in migrations().applied(store.db)] == ["m001_initial"]
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert {"nights", "movements", "series", "bed_periods", "health", "state", "sessions"} <= set(store.db.table_names())


def test_reopening_applies_nothing_twice(tmp_path):
    Store(tmp_path / "k.db").close()
    s = Store(tmp_path / "k.db")
    assert len(migrations().applied(s.db)) == 1
    s.close()


def test_queued_writes_are_invisible_until_flushed(store, tmp_path):
    store.set_state("x", {"a": 1})
    other = sqlite3.connect(tmp_path / "k.db")
    assert other.execute("SELECT count(*) FROM state").fetchone()[0] == 0
    assert store.flush() == 1
    assert other.execute("SELECT value FROM state").fetchone()[0] == '{"a": 1}'
    assert store.get_state("x") == {"a": 1}


def test_one_flush_is_one_transaction(store):
    for i in range(100):
        store.queue("insert", "health", {"ts_utc": float(i), "samples": i, "status": "ok"})
    changes_before = store.conn.total_changes
    store.flush()
    assert store.conn.total_changes - changes_before == 100
    assert store.pending == 0


def test_read_only_store_cannot_write(store, tmp_path):
    store.set_state("x", 1)
    store.flush()
    ro = Store(tmp_path / "k.db", readonly=True)
    assert ro.get_state("x") == 1
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

"""The SQLite store: nights, movements, series, time in and out of bed, sensor health.

SQLite through sqlite-utils, in WAL mode with synchronous=NORMAL, the schema built
by named migrations (the same in tests as on the Pi). Writes are batched: the
daemon queues rows and commits them at most every `flush_interval_s`, because SD
cards wear with every small write. Times are UTC seconds since the epoch.
"""
from __future__ import annotations

import json
import sqlite3
import time
from enum import Enum
from pathlib import Path


class State(str, Enum):
    """What the daemon keeps in the state table, each under one name."""

    DAEMON = "daemon"               # pid, source, last sample, last flush, in bed, stopped
    EMPTY_REF = "empty_ref"         # the empty bed as last seen, for the next start
    SENSOR_FAULT = "sensor_fault"   # since when and why the sensor does not answer (None: it does)
    STORE_RESET = "store_reset"     # when a damaged database was set aside, and where it went
    CLOCK_JUMP = "clock_jump"       # the last jump of the wall clock the daemon followed
    MQTT = "mqtt"                   # publishing to Home Assistant: broker, connected, queued, dropped, why not


SUMMARY_COLUMNS = ("hours_in_bed", "lm_count", "plm_count", "series_count", "plmi", "lmi", "periodicity_index")

MIGRATIONS = []      # in order; applied by name, once each, when the store is opened to write


def migration(fn):
    MIGRATIONS.append(fn)
    return fn


def migrations():
    """sqlite-utils' record of our migrations. Imported only to write: `import sqlite_utils`
    pulls in numpy, and reading a night (`kickwatch night`, the web page) needs neither."""
    from sqlite_utils.migrations import Migrations

    found = Migrations("kickwatch")
    for fn in MIGRATIONS:
        found()(fn)
    return found


@migration
def m001_initial(db) -> None:
    db["sessions"].create({"id": int, "started_utc": float, "source": str, "fs": float, "channels": int,
                           "clock_synced": int, "ended_utc": float}, pk="id")
    db["nights"].create({"id": int, "date": str, "origin_utc": float, "start_utc": float, "end_utc": float,
                         "last_utc": float, "closed": int, "fs": float, "channels": int,
                         "hours_in_bed": float, "lm_count": int, "plm_count": int, "series_count": int,
                         "plmi": float, "lmi": float, "periodicity_index": float, "summary_json": str},
                        pk="id", not_null={"date"})
    db["nights"].create_index(["date"], unique=True)
    db["movements"].create({"id": int, "night_id": int, "onset_utc": float, "offset_utc": float, "kind": str,
                            "channels": int, "peak": float, "periodic": int, "series": int},
                           pk="id", foreign_keys=[("night_id", "nights", "id")])
    db["movements"].create_index(["night_id", "onset_utc"], unique=True)
    db["series"].create({"id": int, "night_id": int, "number": int, "onset_utc": float, "offset_utc": float,
                         "count": int, "mean_imi_s": float}, pk="id", foreign_keys=[("night_id", "nights", "id")])
    db["bed_periods"].create({"id": int, "night_id": int, "in_utc": float, "out_utc": float},
                             pk="id", foreign_keys=[("night_id", "nights", "id")])
    db["bed_periods"].create_index(["night_id", "in_utc"], unique=True)
    db["health"].create({"id": int, "ts_utc": float, "samples": int, "gap_samples": int, "clipped_samples": int,
                         "flat_s": float, "rest": float, "level": float, "in_bed": int, "status": str}, pk="id")
    db["health"].create_index(["ts_utc"])
    db["state"].create({"key": str, "value": str}, pk="key")


@migration
def m002_sleepers(db) -> None:
    """Two sleepers, a strip under each: a night per sleeper (the one sleeper of a bed is '')."""
    db["nights"].add_column("sleeper", str, not_null_default="")
    db.execute("DROP INDEX IF EXISTS idx_nights_date")
    db["nights"].create_index(["date", "sleeper"], unique=True)


@migration
def m003_vitals(db) -> None:
    """Heart and breathing: each minute in bed with its rates, the breathing events, the
    respiratory-related mark of a movement, and the heart's answer to a kick."""
    db["movements"].add_column("respiratory", int, not_null_default=0)
    db["vitals"].create({"id": int, "night_id": int, "t_utc": float, "heart_bpm": float, "breaths_pm": float},
                        pk="id", foreign_keys=[("night_id", "nights", "id")])
    db["vitals"].create_index(["night_id", "t_utc"], unique=True)
    db["respiratory_events"].create({"id": int, "night_id": int, "onset_utc": float, "offset_utc": float},
                                    pk="id", foreign_keys=[("night_id", "nights", "id")])
    db["nights"].add_column("heart_response_json", str)


@migration
def m004_diary(db) -> None:
    """The evening diary: what each sleeper ticked for a night (appliance.diary), and a note."""
    db["diary"].create({"id": int, "date": str, "sleeper": str, "caffeine": int, "alcohol": int, "exercise": int,
                        "medicine": int, "note": str, "saved_utc": float}, pk="id", not_null={"date", "sleeper"})
    db["diary"].create_index(["date", "sleeper"], unique=True)


def crash_note_path(database: str | Path) -> Path:
    """Where a daemon that could not start leaves its one line for the dashboard: beside the database."""
    return Path(database).parent / "daemon-error.json"


class StoreError(RuntimeError):
    """The database cannot be opened or written."""


class Store:
    """One open database, with a queue of writes committed together."""

    def __init__(self, where: str | Path | sqlite3.Connection, *, readonly: bool = False):
        """Open the database at a path, or take one already open (tests: sqlite3.connect(":memory:"))."""
        try:
            if isinstance(where, sqlite3.Connection):
                self.path = Path(":memory:")
                self.conn = where
                self.db = None if readonly else self._migrated(where)
            elif readonly:
                self.path = Path(where)
                if not self.path.exists():
                    raise StoreError(f"no database at {self.path}; run the daemon first, or pass --db")
                try:
                    self.conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
                    self.conn.execute("SELECT count(*) FROM nights").fetchone()
                except sqlite3.OperationalError:
                    # a WAL database whose daemon is stopped, in a folder we may not write:
                    # read it as it lies on disk
                    self.conn = sqlite3.connect(f"file:{self.path}?mode=ro&immutable=1", uri=True,
                                                check_same_thread=False)
                    self.conn.execute("SELECT count(*) FROM nights").fetchone()
                self.db = None
            else:
                self.path = Path(where)
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self.conn = sqlite3.connect(self.path)
                self.conn.execute("PRAGMA journal_mode=WAL")
                self.conn.execute("PRAGMA synchronous=NORMAL")
                self.db = self._migrated(self.conn)
            self.conn.row_factory = sqlite3.Row
            cols = {r[1] for r in self.conn.execute("PRAGMA table_info(nights)")}
            # a database written before nights were per sleeper, read by a dashboard before the daemon updated it
            self._who = "sleeper = ?" if "sleeper" in cols else "'' = ?"
            # a store from before heart and breathing, read by a newer dashboard before the daemon updated it
            self._breathing = self.conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'vitals'").fetchone() is not None
            self._has_diary = self.conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'diary'").fetchone() is not None
        except StoreError:
            raise
        except (sqlite3.Error, OSError) as e:
            raise StoreError(f"cannot open the database {where}: {e}") from None
        self._queue: list[tuple[str, str, object]] = []

    @staticmethod
    def _migrated(conn: sqlite3.Connection):
        import sqlite_utils

        db = sqlite_utils.Database(conn)
        migrations().apply(db)
        return db

    def close(self) -> None:
        self.conn.close()

    def query(self, sql: str, params=()) -> list[dict]:
        return [dict(r) for r in self.conn.execute(sql, params).fetchall()]

    # -- writes: queued, then committed together ---------------------------
    def _later(self, op: str, table: str, payload) -> None:
        self._queue.append((op, table, payload))

    def save_movement(self, night_id: int, onset_utc: float, offset_utc: float, kind: str, channels: int,
                      peak: float, periodic: bool, series: int | None, respiratory: bool = False) -> None:
        self._later("replace", "movements", {"night_id": night_id, "onset_utc": onset_utc, "offset_utc": offset_utc,
                                              "kind": kind, "channels": channels, "peak": peak,
                                              "periodic": int(periodic), "series": series,
                                              "respiratory": int(respiratory)})

    def save_minute(self, night_id: int, t_utc: float, heart_bpm: float | None, breaths_pm: float | None) -> None:
        self._later("replace", "vitals", {"night_id": night_id, "t_utc": t_utc, "heart_bpm": heart_bpm,
                                           "breaths_pm": breaths_pm})

    def replace_respiratory_events(self, night_id: int, events: list[tuple[float, float]]) -> None:
        """The night's breathing events, (onset_utc, offset_utc), instead of the stored ones."""
        self._later("sql", "respiratory_events", ("DELETE FROM respiratory_events WHERE night_id = ?", [night_id]))
        for a, b in events:
            self._later("insert", "respiratory_events", {"night_id": night_id, "onset_utc": a, "offset_utc": b})

    def save_heart_response(self, night_id: int, curve_json: str | None) -> None:
        self._later("sql", "nights", ("UPDATE nights SET heart_response_json = ? WHERE id = ?", [curve_json, night_id]))

    def replace_series(self, night_id: int, series: list[dict]) -> None:
        """The night's series, each {number, onset_utc, offset_utc, count, mean_imi_s}, instead of the stored ones."""
        self._later("sql", "series", ("DELETE FROM series WHERE night_id = ?", [night_id]))
        for row in series:
            self._later("insert", "series", {"night_id": night_id, **row})

    def save_bed_period(self, night_id: int, in_utc: float, out_utc: float | None) -> None:
        self._later("replace", "bed_periods", {"night_id": night_id, "in_utc": in_utc, "out_utc": out_utc})

    def save_night(self, night_id: int, date: str, start_utc: float | None, end_utc: float | None,
                   last_utc: float, closed: bool, summary: dict, summary_json: str) -> None:
        self._later("upsert", "nights", {"id": night_id, "date": date, "start_utc": start_utc, "end_utc": end_utc,
                                         "last_utc": last_utc, "closed": int(closed),
                                         **{k: summary[k] for k in SUMMARY_COLUMNS}, "summary_json": summary_json})

    def save_scores(self, night_id: int, summary: dict, summary_json: str) -> None:
        """A night counted again: its figures, not its times."""
        sets = ", ".join(f"{k} = ?" for k in SUMMARY_COLUMNS)
        self._later("sql", "nights", (f"UPDATE nights SET {sets}, summary_json = ? WHERE id = ?",
                                      [*(summary[k] for k in SUMMARY_COLUMNS), summary_json, night_id]))

    def close_night(self, night_id: int) -> None:
        self._later("sql", "nights", ("UPDATE nights SET closed = 1 WHERE id = ?", [night_id]))

    def shift_night(self, night_id: int, delta: float) -> None:
        """Move every time of one night by `delta` seconds (the wall clock jumped)."""
        for table, cols in (("movements", ("onset_utc", "offset_utc")), ("series", ("onset_utc", "offset_utc")),
                            ("bed_periods", ("in_utc", "out_utc")), ("vitals", ("t_utc",)),
                            ("respiratory_events", ("onset_utc", "offset_utc")),
                            ("nights", ("origin_utc", "start_utc", "end_utc", "last_utc"))):
            sets = ", ".join(f"{c} = {c} + ?" for c in cols)
            key = "id" if table == "nights" else "night_id"
            self._later("sql", table, (f"UPDATE {table} SET {sets} WHERE {key} = ?", [delta] * len(cols) + [night_id]))

    def delete_night(self, night_id: int) -> None:
        for table in ("movements", "series", "bed_periods", "vitals", "respiratory_events"):
            self._later("sql", table, (f"DELETE FROM {table} WHERE night_id = ?", [night_id]))
        self._later("sql", "nights", ("DELETE FROM nights WHERE id = ?", [night_id]))

    def save_diary(self, row: dict, saved_utc: float) -> None:
        """One sleeper's diary for one night (appliance.diary.Entry.as_row), instead of what was there."""
        self._later("sql", "diary", ("DELETE FROM diary WHERE date = ? AND sleeper = ?", [row["date"], row["sleeper"]]))
        self._later("insert", "diary", {**row, "saved_utc": saved_utc})

    def add_health(self, ts_utc: float, status: str, samples: int = 0, gap_samples: int = 0,
                   clipped_samples: int = 0, flat_s: float = 0.0, rest: float = 0.0, level: float = 0.0,
                   in_bed: bool = False) -> None:
        self._later("insert", "health", {"ts_utc": ts_utc, "samples": samples, "gap_samples": gap_samples,
                                         "clipped_samples": clipped_samples, "flat_s": flat_s, "rest": rest,
                                         "level": level, "in_bed": int(in_bed), "status": status})

    @property
    def pending(self) -> int:
        return len(self._queue)

    def flush(self) -> int:
        """Commit every queued write in one transaction; return how many."""
        n = len(self._queue)
        if not n:
            return 0
        with self.conn:
            for op, table, payload in self._queue:
                if op == "upsert":
                    self.db[table].upsert(payload, pk=_pk(table))
                elif op == "insert":
                    self.db[table].insert(payload)
                elif op == "replace":
                    self.db[table].insert(payload, replace=True)
                elif op == "sql":
                    self.conn.execute(*payload)
        self._queue = []
        return n

    # -- immediate writes (rare: sessions, night rows that need an id) -----
    def new_session(self, started_utc: float, source: str, fs: float, channels: int, clock_synced: bool) -> int:
        with self.conn:
            return self.db["sessions"].insert({"started_utc": started_utc, "source": source, "fs": fs,
                                               "channels": channels, "clock_synced": int(clock_synced)}).last_pk

    def night_id(self, date: str, origin_utc: float, start_utc: float, fs: float, channels: int,
                 sleeper: str = "") -> int:
        row = self.conn.execute("SELECT id FROM nights WHERE date = ? AND sleeper = ?", [date, sleeper]).fetchone()
        if row:
            return row[0]
        with self.conn:
            return self.db["nights"].insert({"date": date, "origin_utc": origin_utc, "start_utc": start_utc,
                                             "closed": 0, "fs": fs, "channels": channels,
                                             "sleeper": sleeper}).last_pk

    def set_state(self, key: State, value) -> None:
        self._later("upsert", "state", {"key": State(key).value, "value": json.dumps(value)})

    # -- reads ---------------------------------------------------------------
    def get_state(self, key: State, default=None):
        row = self.conn.execute("SELECT value FROM state WHERE key = ?", [State(key).value]).fetchone()
        return json.loads(row[0]) if row else default

    def open_night(self, sleeper: str = "") -> dict | None:
        """The sleeper's newest night not yet closed, if any."""
        rows = self.query(f"SELECT * FROM nights WHERE closed = 0 AND {self._who} ORDER BY date DESC LIMIT 1", [sleeper])
        return rows[0] if rows else None

    def count_nights(self) -> int:
        return self.conn.execute("SELECT count(DISTINCT date) FROM nights").fetchone()[0]

    def sleepers(self) -> list[str]:
        """Who has nights here, in the order they were first stored ('' is the one sleeper of a bed)."""
        if self._who != "sleeper = ?":
            return [""]
        return [r[0] for r in self.conn.execute("SELECT sleeper FROM nights GROUP BY sleeper ORDER BY min(id)")] or [""]

    def nights(self, limit: int | None = None, sleeper: str = "") -> list[dict]:
        sql = f"SELECT * FROM nights WHERE {self._who} ORDER BY date DESC" + (f" LIMIT {int(limit)}" if limit else "")
        return self.query(sql, [sleeper])

    def night(self, date: str | None = None, sleeper: str = "") -> dict | None:
        if date is None:
            rows = self.query(f"SELECT * FROM nights WHERE {self._who} ORDER BY date DESC LIMIT 1", [sleeper])
        else:
            rows = self.query(f"SELECT * FROM nights WHERE date = ? AND {self._who}", [date, sleeper])
        return rows[0] if rows else None

    def movements(self, night_id: int) -> list[dict]:
        return self.query("SELECT * FROM movements WHERE night_id = ? ORDER BY onset_utc", [night_id])

    def series(self, night_id: int) -> list[dict]:
        return self.query("SELECT * FROM series WHERE night_id = ? ORDER BY number", [night_id])

    def vitals(self, night_id: int) -> list[dict]:
        return self.query("SELECT * FROM vitals WHERE night_id = ? ORDER BY t_utc", [night_id]) if self._breathing else []

    def respiratory_events(self, night_id: int) -> list[dict]:
        return (self.query("SELECT * FROM respiratory_events WHERE night_id = ? ORDER BY onset_utc", [night_id])
                if self._breathing else [])

    def diary(self, sleeper: str = "") -> list[dict]:
        """One sleeper's diary entries, newest first (none in a store from before the diary)."""
        if not self._has_diary:
            return []
        return self.query("SELECT * FROM diary WHERE sleeper = ? ORDER BY date DESC", [sleeper])

    def bed_periods(self, night_id: int) -> list[dict]:
        return self.query("SELECT * FROM bed_periods WHERE night_id = ? ORDER BY in_utc", [night_id])

    def latest_health(self) -> dict | None:
        rows = self.query("SELECT * FROM health ORDER BY ts_utc DESC LIMIT 1")
        return rows[0] if rows else None

    def integrity_ok(self) -> bool:
        return self.conn.execute("PRAGMA quick_check").fetchone()[0] == "ok"


def open_for_daemon(path: str | Path) -> tuple[Store, str | None]:
    """Open the store to write; a corrupt one is set aside (never deleted) and a fresh one started.

    Returns the store and, when that happened, where the bad file went.
    """
    path = Path(path)
    try:
        store = Store(path)
        if store.integrity_ok():
            return store, None
        store.close()
    except (StoreError, sqlite3.DatabaseError):
        pass
    stamp = time.strftime("%Y%m%dT%H%M%S")
    aside = path.with_name(f"{path.name}.corrupt-{stamp}")
    for suffix in ("", "-wal", "-shm"):
        p = Path(str(path) + suffix)
        if p.exists():
            p.rename(Path(str(aside) + suffix))
    store = Store(path)
    store.set_state(State.STORE_RESET, {"at": time.time(), "moved_to": str(aside)})
    store.flush()
    return store, str(aside)


def _pk(table: str):
    return {"state": "key", "movements": "id", "bed_periods": "id", "series": "id", "nights": "id"}.get(table, "id")

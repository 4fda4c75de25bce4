"""Faults the appliance must survive and say plainly: a damaged database, a full disk."""
from __future__ import annotations

import sqlite3
import subprocess
import sys

from appliance.config import Config
from appliance.daemon import Daemon
from appliance.store import Store, open_for_daemon
from sensor.recording import write_recording
from tests.conftest import cached_night
from tests.test_daemon import BlockSource


def test_a_corrupt_database_is_set_aside_and_a_fresh_one_started(tmp_path):
    db = tmp_path / "k.db"
    db.write_bytes(b"SQLite format 3\x00" + b"\xff" * 5000)
    store, aside = open_for_daemon(db)
    assert aside and (tmp_path / aside.split("/")[-1]).exists()      # kept, never deleted
    assert store.integrity_ok() and store.get_state("store_reset")["moved_to"] == aside
    store.close()


def test_the_daemon_command_says_so_and_goes_on(tmp_path):
    rec, _ = cached_night(0.3, 51, "piezo12")
    write_recording(tmp_path / "n.npz", rec)
    db = tmp_path / "k.db"
    db.write_bytes(b"not a database at all" * 100)
    r = subprocess.run([sys.executable, "-m", "appliance.cli", "run", "--source", str(tmp_path / "n.npz"),
                        "--speed", "max", "--db", str(db)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "damaged" in r.stderr and "fresh one" in r.stderr
    assert len(list(tmp_path.glob("k.db.corrupt-*"))) == 1
    assert sqlite3.connect(db).execute("SELECT count(*) FROM nights").fetchone()[0] == 1


def test_a_full_disk_delays_the_writes_and_loses_nothing(tmp_path, capsys):
    rec, _ = cached_night(0.5, 31, "piezo12")
    clock = [0.0]
    store = Store(tmp_path / "k.db")
    real_flush = store.flush
    calls = {"n": 0}

    def flaky_flush():
        calls["n"] += 1
        if calls["n"] <= 10:
            raise sqlite3.OperationalError("database or disk is full")
        return real_flush()

    store.flush = flaky_flush
    d = Daemon(Config(), BlockSource(rec, clock), store, finite=True, monotonic=lambda: clock[0])
    d.run()
    err = capsys.readouterr().err
    assert "cannot write the database" in err and "writing to the database again" in err
    reference = Store(tmp_path / "ref.db")
    Daemon(Config(), BlockSource(rec, [0.0]), reference, finite=True, monotonic=lambda: 0.0).run()
    assert store.query("SELECT count(*) AS n FROM movements") == reference.query("SELECT count(*) AS n FROM movements")
    assert store.query("SELECT count(*) AS n FROM movements")[0]["n"] > 0

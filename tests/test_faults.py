"""Faults the appliance must survive and say plainly: a damaged database, a full disk."""
from __future__ import annotations

import re
import sqlite3

import pytest
import subprocess
import sys

from appliance.config import Config
from appliance.daemon import Daemon
from appliance.store import Store, open_for_daemon
from sensor.recording import write_recording
from tests.conftest import cached_night
from tests.fakes import BlockSource


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
    r = subprocess.run([sys.executable, "-m", "kickwatch", "run", "--source", str(tmp_path / "n.npz"),
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


class DyingSource(BlockSource):
    """Yields `good` blocks, then the ADC stops answering."""

    def __init__(self, rec, clock, start_block=0, good=100):
        super().__init__(rec, clock)
        self.start_block, self.good, self.start = start_block, good, None

    def __iter__(self):
        from sensor.block import Block
        from sensor.errors import ADCNotAnswering
        n = int(self.fs)
        for k in range(self.start_block, len(self.rec.signal) // n):
            if k - self.start_block >= self.good:
                raise ADCNotAnswering("ADS1256 data-ready did not fall within 0.5 s")
            self.clock[0] += 1.0
            yield Block(self.rec.signal[k * n:(k + 1) * n], self.clock[0], self.fs)


def test_a_sensor_that_vanishes_is_reported_retried_and_resumed(tmp_path, capsys):
    from sensor.errors import SPIDeviceAbsent
    rec, _ = cached_night(0.5, 31, "piezo12")
    clock = [0.0]
    store = Store(tmp_path / "k.db")
    attempts = {"n": 0}

    def reopen():
        attempts["n"] += 1
        if attempts["n"] < 3:
            raise SPIDeviceAbsent("no SPI device /dev/spidev0.0")
        return DyingSource(rec, clock, start_block=335, good=10_000)   # 5 + 10 + 20 s of pauses later

    def sleep(s):
        clock[0] += s

    d = Daemon(Config(), DyingSource(rec, clock, good=300), store, monotonic=lambda: clock[0],
               wall=lambda: 1.7e9 + clock[0], reopen=reopen, sleep=sleep)
    report = d.run()
    err = capsys.readouterr().err
    assert "sensor fault" in err and "sensor back" in err and attempts["n"] == 3
    assert report.stream_s >= len(rec.signal) / rec.fs - 5          # the gap was filled: times stay right
    assert store.get_state("sensor_fault") is None
    statuses = [r["status"] for r in store.query("SELECT status FROM health ORDER BY id")]
    assert "fault" in statuses


def test_a_start_that_fails_leaves_a_note_the_dashboard_shows(tmp_path):
    from web.app import create_app
    cfgfile = tmp_path / "k.toml"
    cfgfile.write_text(f'[store]\ndatabase = "{tmp_path}/k.db"\n[source]\nkind = "ads1256"\n'
                       f'[web]\nsecret_file = "{tmp_path}/s"\n')
    r = subprocess.run([sys.executable, "-m", "kickwatch", "run", "--config", str(cfgfile)],
                       capture_output=True, text=True)
    assert r.returncode == 69
    note = tmp_path / "daemon-error.json"
    assert "spidev" in note.read_text()
    from appliance.config import load_config
    html = create_app(tmp_path / "k.db", load_config(cfgfile), testing=True).test_client().get("/").get_data(
        as_text=True)
    assert 'id="daemon-error"' in html and "could not start" in html and "spidev" in html


@pytest.mark.parametrize("by_h", [3.0, -2.0])
def test_a_clock_jump_moves_the_night_without_splitting_it(tmp_path, capsys, by_h):
    rec, _ = cached_night(1.0, 33, "piezo12")
    clock = [0.0]
    jump = {"by": 0.0}

    def wall():
        if clock[0] >= 1200:
            jump["by"] = by_h * 3600.0       # NTP arrives: the clock was hours off
        return 1.7e9 + clock[0] + jump["by"]

    class Live(BlockSource):
        pass

    store = Store(tmp_path / "k.db")
    Daemon(Config(), Live(rec, clock), store, monotonic=lambda: clock[0], wall=wall).run()
    moved = float(re.search(r"clock moved by ([-+]\d+) s", capsys.readouterr().err).group(1))
    assert abs(moved - by_h * 3600) <= 1.5
    assert len(store.nights()) == 1
    reference = Store(tmp_path / "ref.db")
    ref_clock = [0.0]
    Daemon(Config(), Live(rec, ref_clock), reference, monotonic=lambda: ref_clock[0],
           wall=lambda: 1.7e9 + ref_clock[0] + by_h * 3600.0).run()
    got = store.query("SELECT onset_utc, offset_utc FROM movements ORDER BY onset_utc")
    want = reference.query("SELECT onset_utc, offset_utc FROM movements ORDER BY onset_utc")
    assert len(got) == len(want) > 0
    assert all(abs(a["onset_utc"] - b["onset_utc"]) < 2.0 for a, b in zip(got, want))
    assert all(abs((a["offset_utc"] - a["onset_utc"]) - (b["offset_utc"] - b["onset_utc"])) < 1e-6
               for a, b in zip(got, want))


def test_wild_noise_is_reported_within_a_minute_and_not_scored_as_kicks(tmp_path):
    import numpy as np

    from sensor.recording import Recording
    from tests.test_detector import sleeper
    fs = 100.0
    x = sleeper(600, fs=fs, seed=4)
    x[int(300 * fs):] += np.random.default_rng(1).normal(0, 5.0, len(x) - int(300 * fs))   # a cable gone bad
    clock = [0.0]
    store = Store(tmp_path / "k.db")
    Daemon(Config(), BlockSource(Recording(fs, x[:, None]), clock), store, finite=True,
           monotonic=lambda: clock[0]).run()
    rows = store.query("SELECT ts_utc, status FROM health ORDER BY ts_utc")
    first_noisy = next(r["ts_utc"] for r in rows if r["status"] == "noisy")
    assert first_noisy - rows[0]["ts_utc"] <= 300 + 60 + 60
    lms = store.query("SELECT count(*) AS n FROM movements WHERE kind = 'lm'")[0]["n"]
    assert lms <= 3

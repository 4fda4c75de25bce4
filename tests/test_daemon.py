"""The daemon loop: batched commits, watchdog from the loop, nights that start and end by themselves."""
from __future__ import annotations

import socket
import threading

import numpy as np

from appliance.config import Config
from appliance.daemon import Daemon
from appliance.nights import evening_date, stored_night
from appliance.sdnotify import Notifier
from appliance.store import Store
from tests.conftest import cached_night
from tests.fakes import BlockSource


def test_commits_are_batched_by_the_flush_interval(tmp_path):
    rec, _ = cached_night(0.5, 31, "piezo12")
    clock = [0.0]
    store = Store(tmp_path / "k.db")
    flushes = []
    real_flush = store.flush
    store.flush = lambda: flushes.append(clock[0]) or real_flush()
    cfg = Config()
    cfg.store.flush_interval_s = 45.0
    Daemon(cfg, BlockSource(rec, clock), store, finite=True, monotonic=lambda: clock[0], wall=lambda: 1.7e9).run()
    gaps = np.diff(flushes)
    assert len(flushes) >= 30 and gaps[:-1].min() >= 45.0      # the last flush is the one at the end
    store.close()


def test_watchdog_is_pinged_from_the_loop(tmp_path):
    rec, _ = cached_night(0.5, 31, "piezo12")
    path = str(tmp_path / "n.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(path)
    listener.settimeout(1)
    clock = [0.0]
    notifier = Notifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "30000000"}, clock=lambda: clock[0])
    store = Store(tmp_path / "k.db")
    got = []

    def listen():
        try:
            while True:
                got.append(listener.recv(256))
        except (socket.timeout, OSError):
            pass

    reader = threading.Thread(target=listen)
    reader.start()
    Daemon(Config(), BlockSource(rec, clock), store, finite=True, notifier=notifier,
           monotonic=lambda: clock[0], wall=lambda: 1.7e9).run()
    reader.join()
    assert got[0].startswith(b"READY=1") and got[-1] == b"STOPPING=1"
    assert got.count(b"WATCHDOG=1") >= 1800 / 15 - 2         # every 15 s of a 30 min run
    store.close()


def test_a_night_is_keyed_by_the_evening_date():
    import datetime as dt
    late = dt.datetime(2026, 11, 24, 1, 30).timestamp()
    early = dt.datetime(2026, 11, 23, 22, 0).timestamp()
    assert evening_date(late) == evening_date(early) == "2026-11-23"


def test_the_night_starts_when_someone_gets_in_and_keeps_the_bed_times(tmp_path):
    import datetime as dt
    rec, truth = cached_night(1.0, 32, "loadcell")
    rec.start = dt.datetime(2026, 11, 23, 23, 0).astimezone()
    clock = [0.0]
    store = Store(tmp_path / "k.db")
    Daemon(Config(), BlockSource(rec, clock), store, finite=True, monotonic=lambda: clock[0]).run()
    night = stored_night(store)
    assert night["night"]["date"] == "2026-11-23" and night["night"]["closed"]
    (bed,) = night["bed"]
    assert abs(bed["in_s"] - truth.bed[0][0]) < 5 and abs(bed["out_s"] - truth.bed[-1][1]) < 10
    store.close()


def test_a_restart_mid_night_continues_the_same_night(tmp_path):
    rec, _ = cached_night(1.0, 33, "piezo12")
    half = len(rec.signal) // 2
    from sensor.recording import Recording
    first = Recording(rec.fs, rec.signal[:half], rec.start)
    second = Recording(rec.fs, rec.signal[half:], rec.start)
    clock = [0.0]
    wall = [1.7e9]
    store = Store(tmp_path / "k.db")
    Daemon(Config(), BlockSource(first, clock), store, monotonic=lambda: clock[0], wall=lambda: wall[0]).run()
    wall[0] += half / rec.fs + 30
    Daemon(Config(), BlockSource(second, clock), store, monotonic=lambda: clock[0], wall=lambda: wall[0]).run()
    assert len(store.nights()) == 1
    store.close()


def test_a_delete_request_from_the_dashboard_is_carried_out(tmp_path):
    import json as _json

    from appliance.daemon import apply_requests
    rec, _ = cached_night(0.5, 31, "piezo12")
    clock = [0.0]
    store = Store(tmp_path / "k.db")
    Daemon(Config(), BlockSource(rec, clock), store, finite=True, monotonic=lambda: clock[0]).run()
    (date,) = [n["date"] for n in store.nights()]
    req = tmp_path / "req"
    req.mkdir()
    (req / "1.json").write_text(_json.dumps({"action": "delete_night", "date": date}))
    assert apply_requests(store, str(req)) == 1
    store.flush()
    assert store.nights() == [] and store.query("SELECT count(*) AS n FROM movements")[0]["n"] == 0
    assert list(req.iterdir()) == []
    store.close()


def test_a_known_empty_bed_is_not_overwritten_by_a_sleeper(tmp_path):
    from appliance.detection.occupancy import QuietState
    from appliance.detection.pipeline import StreamDetector
    from tests.test_detector import sleeper
    x = sleeper(300, fs=100.0, seed=2)
    ref = QuietState(1.65, 1e-4, 1e-4)
    det = StreamDetector(100.0, 1, Config().detection, empty_ref=ref, provisional_after_s=60)
    ev = det.feed(x[:, None])
    ev2 = det.finish()
    changes = ev.bed_changes + ev2.bed_changes
    assert changes == [(0.0, "in")]
    assert det.bed.empty_ref == ref


def test_a_stop_between_gathered_stretches_loses_no_signal(tmp_path):
    # detection takes the blocks ten seconds at a time; a stop after 37 of them still scores all 37
    rec, _ = cached_night(0.5, 31, "piezo12")
    clock = [0.0]
    store = Store(tmp_path / "k.db")
    daemon = None

    class StopsAfter37(BlockSource):
        def __iter__(self):
            for k, block in enumerate(super().__iter__()):
                if k == 36:
                    daemon.stop()       # SIGTERM while the 37th block is read: the daemon takes it, then stops
                yield block

    daemon = Daemon(Config(), StopsAfter37(rec, clock), store, finite=True, monotonic=lambda: clock[0],
                    wall=lambda: 1.7e9)
    report = daemon.run()
    assert report.samples == 37 * int(rec.fs) and report.stream_s == 37.0
    store.close()

"""Power cuts: the daemon killed with SIGKILL at random moments while it writes, many times.

A recording is replayed as a live strip (it follows the wall clock, so a restarted
daemon picks up where time is, as with the real sensor). After every kill the
database must pass integrity_check; at the end there is one night, no movement
twice, and what was lost is at most the last unflushed batch.
"""
from __future__ import annotations

import datetime as dt
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np

from appliance.config import Config
from appliance.daemon import Daemon
from appliance.detection.occupancy import QuietState
from appliance.store import Store
from sensor.recording import Recording, write_recording
from sensor.replay import ReplaySource
from tests.test_detector import add_burst, sleeper

FS = 100.0
FLUSH_S = 5.0


def kicking_night(seconds=900):
    x = sleeper(seconds, fs=FS, seed=7)
    for k, t in enumerate(np.arange(10, seconds - 10, 20.0)):
        x = add_burst(x, t, 1.5, rms=6, fs=FS, seed=k)
    return x


def start_daemon(cfgfile, db):
    return subprocess.Popen([sys.executable, "-m", "kickwatch", "run", "--config", str(cfgfile), "--db", str(db)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_kill_nine_many_times_loses_only_the_last_batch(tmp_path, capsys):
    rng = random.Random(5)
    x = kicking_night()
    start = dt.datetime.now().astimezone() - dt.timedelta(seconds=30)
    write_recording(tmp_path / "live.npz", Recording(FS, x[:, None], start))
    cfgfile = tmp_path / "k.toml"
    cfgfile.write_text(f'[source]\nkind = "{tmp_path}/live.npz"\nfollow_clock = true\n'
                       f'[store]\nflush_interval_s = {FLUSH_S}\n'
                       f'[web]\nrequests_dir = "{tmp_path}/req"\n')
    db = tmp_path / "k.db"
    store = Store(db)
    # a night stored before, which every kill must leave exactly as it is
    earlier = kicking_night(600)
    before_start = start - dt.timedelta(days=1)
    Daemon(Config(), ReplaySource(Recording(FS, earlier[:, None], before_start), speed="max"), store,
           source_name="earlier", finite=True).run()
    before = store.query("SELECT * FROM movements ORDER BY id")
    assert before
    store.set_state("empty_ref", QuietState(1.65, 1e-4, 1e-4).as_dict())   # the empty bed, learnt by day
    store.flush()
    store.close()

    losses = []
    kills = 5
    for _ in range(kills):
        p = start_daemon(cfgfile, db)
        time.sleep(rng.uniform(15.0, 30.0))
        killed_at = time.time()
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
        con = sqlite3.connect(db)
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        row = con.execute("SELECT value FROM state WHERE key = 'daemon'").fetchone()
        con.close()
        if row:
            import json
            losses.append(killed_at - json.loads(row[0])["flushed_utc"])
    p = start_daemon(cfgfile, db)
    # long enough for the live detector (some 20 s behind the signal, and blind for its first seconds after
    # each start) to release a few kicks of its own, whatever the kills left
    time.sleep(60)
    p.send_signal(signal.SIGTERM)
    assert p.wait(30) == 0

    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    nights = con.execute("SELECT id FROM nights ORDER BY date").fetchall()
    assert len(nights) == 2, "a restart must continue the night, not start another"
    con.row_factory = sqlite3.Row
    kept = [dict(r) for r in con.execute("SELECT * FROM movements WHERE night_id = ? ORDER BY id", [nights[0][0]])]
    assert kept == before, "a night stored before the kills changed"
    con.row_factory = None
    moves = con.execute("SELECT onset_utc, offset_utc FROM movements WHERE night_id = ? ORDER BY onset_utc",
                        [nights[1][0]]).fetchall()
    assert len(moves) >= 3
    for (a0, b0), (a1, b1) in zip(moves, moves[1:]):
        assert a1 >= b0, "a movement stored twice"
    kicks = [start.timestamp() + t for t in np.arange(10, 890, 20.0)]
    matched = sum(1 for a, b in moves if any(a - 1 <= k <= b + 1 for k in kicks))
    assert matched >= 0.9 * len(moves)
    assert max(losses) <= FLUSH_S + 3.0
    with capsys.disabled():
        print(f"\n  kill -9: {kills} kills, 0 corruptions, largest unflushed stretch {max(losses):.1f} s "
              f"(flush every {FLUSH_S:g} s); {len(moves)} movements kept, {matched} of them the real kicks")

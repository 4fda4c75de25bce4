"""A month of nights written by the daemon: database size per night, and what it costs the SD card.

    python -m bench.month [--nights 30]

Each night is simulated (8 h, a different seed and profile each evening) and fed
to the real daemon loop in 1-second blocks, with the monotonic clock advancing
with the signal, so the 45 s flush interval behaves as it does on the Pi. Counts
commits, and bytes the database files grew by.
"""
from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
from pathlib import Path

from appliance.config import Config
from appliance.daemon import Daemon
from appliance.store import Store
from sensor.simulator import simulate_night
from tests.fakes import BlockSource

PROFILES = ("piezo12", "severe", "quiet", "loadcell", "piezo10")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nights", type=int, default=30)
    ap.add_argument("--hours", type=float, default=8.0)
    args = ap.parse_args()
    cfg = Config()
    cfg.store.keep_raw_nights = 0
    with tempfile.TemporaryDirectory() as d:
        db = Path(d) / "k.db"
        store = Store(db)
        commits = {"n": 0}
        real_flush = store.flush

        def counting_flush():
            n = real_flush()
            commits["n"] += 1 if n else 0
            return n

        store.flush = counting_flush
        clock = [0.0]
        today = dt.date.today()
        for k in range(args.nights):
            rec, _ = simulate_night(args.hours, 200 + k, PROFILES[k % len(PROFILES)])
            rec.start = dt.datetime.combine(today - dt.timedelta(days=args.nights - k), dt.time(22, 30)).astimezone()
            Daemon(cfg, BlockSource(rec, clock), store, finite=True, monotonic=lambda: clock[0]).run()
        store.close()
        size = sum(p.stat().st_size for p in Path(d).glob("k.db*"))
        hours = args.nights * args.hours
        con = Store(db, readonly=True)
        moves = con.query("SELECT count(*) AS n FROM movements")[0]["n"]
        nights = con.query("SELECT count(*) AS n FROM nights")[0]["n"]
        con.close()
        print(f"{nights} nights, {moves} movements: database {size / 1e6:.2f} MB, "
              f"{size / nights / 1e3:.0f} kB a night")
        print(f"commits: {commits['n']} for {hours:g} h of signal = {commits['n'] / hours:.0f} an hour "
              f"(one every {3600 * hours / max(commits['n'], 1):.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Server time of each dashboard page with a year of nights in the store.

    python -m bench.web [--nights 365]

One simulated 8-hour night is analysed once; its movements are stored for every
evening of the last year (the store is the real one, written in batches as the
daemon writes). Each page is then rendered 20 times through the WSGI app; the
median and the worst are printed.
"""
from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

from appliance.detection.analysis import analyze_signal
from appliance.config import Config
from appliance.nights import NightBook
from appliance.detection.pipeline import Events
from appliance.store import Store
from sensor.simulator import simulate_night
from web.app import create_app


def build(path: Path, nights: int, cfg: Config) -> None:
    rec, _ = simulate_night(8.0, 5, "severe")
    res = analyze_signal(rec.signal, rec.fs)
    store = Store(path)
    today = dt.date.today()
    for k in range(nights):
        origin = dt.datetime.combine(today - dt.timedelta(days=nights - k), dt.time(22, 30)).astimezone().timestamp()
        book = NightBook(store, cfg, origin, rec.fs, 1)
        changes = [(a, "in") for a, _ in res.bed] + [(b, "out") for _, b in res.bed]
        book.handle(Events(movements=list(res.movements), bed_changes=sorted(changes)), rec.signal.shape[0] / rec.fs)
        book.close()
        store.flush()
    store.close()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nights", type=int, default=365)
    args = ap.parse_args()
    cfg = Config()
    with tempfile.TemporaryDirectory() as d:
        db = Path(d) / "k.db"
        cfg.web.secret_file = str(Path(d) / "secret")
        t = time.perf_counter()
        build(db, args.nights, cfg)
        print(f"built {args.nights} nights in {time.perf_counter() - t:.1f} s; "
              f"database {db.stat().st_size / 1e6:.1f} MB ({db.stat().st_size / args.nights / 1e3:.0f} kB a night)")
        client = create_app(db, cfg).test_client()
        last = (dt.date.today() - dt.timedelta(days=1)).isoformat()
        first = (dt.date.today() - dt.timedelta(days=args.nights)).isoformat()
        pages = ["/", f"/night/{last}", "/nights", "/nights?days=90", "/nights?days=365", f"/night/{last}/print",
                 f"/print?from={(dt.date.today() - dt.timedelta(days=7)).isoformat()}&to={last}",
                 f"/night/{last}/movements.csv", "/status", "/api/nights", f"/api/night/{last}", "/api/status",
                 f"/night/{first}"]
        print(f"{'page':58s} {'median ms':>9s} {'max ms':>7s}   (target < 50 ms)")
        for page in pages:
            times = []
            for _ in range(20):
                t = time.perf_counter()
                r = client.get(page)
                times.append((time.perf_counter() - t) * 1000)
                assert r.status_code == 200, (page, r.status_code)
            print(f"{page:58s} {statistics.median(times):9.1f} {max(times):7.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

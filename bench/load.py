"""The dashboard under a few phones while the daemon writes.

    python -m bench.load [--clients 20] [--seconds 30]

Starts `kickwatch web` (waitress) on loopback over a database of a few nights,
starts `kickwatch run` replaying a night in real time into the same database
(so it commits every 45 s... and more often here: flush_interval_s = 5), and
has N client threads fetch pages for S seconds. Prints requests, errors and the
latency percentiles. Loopback only; every loop is bounded in count and time.
"""
from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from appliance.config import Config
from sensor.recording import write_recording
from sensor.simulator import simulate_night
from tests.webfixtures import build_db, wait_for_http

PAGES = ["/", "/nights", "/nights?days=90", "/status", "/api/status", "/api/nights"]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=30.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        build_db(d / "k.db", nights=5, cfg=Config()).close()
        rec, _ = simulate_night(1.0, 9, "severe")
        write_recording(d / "live.npz", rec)
        (d / "k.toml").write_text(f'[store]\nflush_interval_s = 5.0\n[web]\nsecret_file = "{d}/s"\n'
                                  f'requests_dir = "{d}/req"\npin_file = "{d}/pin"\n')
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        kw = [sys.executable, "-m", "kickwatch"]
        web = subprocess.Popen(kw + ["web", "--db", str(d / "k.db"), "--host", "127.0.0.1", "--port", str(port),
                                     "--config", str(d / "k.toml")], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
        daemon = subprocess.Popen(kw + ["run", "--source", str(d / "live.npz"), "--speed", "realtime",
                                        "--db", str(d / "k.db"), "--config", str(d / "k.toml")],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        wait_for_http(base + "/api/status")
        latencies, errors = [], []
        lock = threading.Lock()
        stop_at = time.monotonic() + args.seconds

        def client(k):
            i = k
            while time.monotonic() < stop_at:
                url = base + PAGES[i % len(PAGES)]
                i += 1
                t = time.perf_counter()
                try:
                    with urllib.request.urlopen(url, timeout=10) as r:
                        r.read()
                    ok = r.status == 200
                except (urllib.error.URLError, OSError) as e:
                    ok = False
                    with lock:
                        errors.append(f"{url}: {e}")
                with lock:
                    if ok:
                        latencies.append((time.perf_counter() - t) * 1000)

        threads = [threading.Thread(target=client, args=(k,)) for k in range(args.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        daemon.terminate()
        web.terminate()
        daemon.wait(30)
        web.wait(30)
        latencies.sort()
        p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]
        print(f"{args.clients} clients for {args.seconds:g} s on loopback, daemon writing every 5 s:")
        print(f"  requests {len(latencies) + len(errors)}, errors {len(errors)}, "
              f"{len(latencies) / args.seconds:.0f} pages/s")
        if latencies:
            print(f"  latency ms: median {statistics.median(latencies):.0f}, p95 {p(0.95):.0f}, "
                  f"p99 {p(0.99):.0f}, max {latencies[-1]:.0f}")
        for e in errors[:5]:
            print("  error:", e)
    return 0 if not errors else 1


if __name__ == "__main__":
    sys.exit(main())

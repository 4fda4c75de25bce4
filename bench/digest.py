"""A refactoring changes no answer: one digest of `analyze --json` per simulated night.

Every profile, two seeds, run through the same code path as `kickwatch analyze`
(read the recording, analyse, print); and the same night through the daemon and
back out of the store. Run it before and after a change and compare the lines.

    python -m bench.digest [--hours 2]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
from multiprocessing import Pool
from pathlib import Path

from appliance.config import Config
from appliance.daemon import Daemon
from appliance.detection.analysis import analyze_signal
from appliance.nights import stored_night
from appliance.store import Store
from sensor.replay import ReplaySource
from sensor.simulator import PROFILES, simulate_night

SEEDS = (1, 2)


def digests(job: tuple[str, int, float]) -> str:
    profile, seed, hours = job
    rec, _ = simulate_night(hours, seed, profile)
    cfg = Config()
    out = analyze_signal(rec.signal, rec.fs, cfg).as_dict()
    analyzed = hashlib.sha256(json.dumps(out).encode()).hexdigest()[:16]
    with tempfile.TemporaryDirectory() as d:
        store = Store(Path(d) / "k.db")
        Daemon(cfg, ReplaySource(rec, speed="max"), store, source_name="digest", finite=True).run()
        night = stored_night(store)
        store.close()
    night.pop("night", None)
    night["recording"].pop("start", None)
    stored = hashlib.sha256(json.dumps(night).encode()).hexdigest()[:16]
    return f"{profile:12s} seed {seed}  analyze {analyzed}  stored {stored}  ({out['summary']['lm_count']} LMs)"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hours", type=float, default=2.0)
    args = p.parse_args()
    jobs = [(profile, seed, args.hours) for profile in PROFILES for seed in SEEDS]
    with Pool(2) as pool:
        for line in pool.map(digests, jobs):
            print(line, flush=True)


if __name__ == "__main__":
    main()

"""`make bench`, part two: what if the bedroom is not as the simulator models it?

kickwatch will meet nights from other generators and real beds. Each row changes
one thing about the simulated world (sensor.simulator.World) and scores the
detector as bench.detection does, pooled over its nights. Seeds 201-202: neither
tuned on nor the held-out report. The second table asks the same of a household
set up for a shared bed (detection.shared_bed), with a partner's nights added.

    python -m bench.robustness [--hours 8]
"""
from __future__ import annotations

import argparse
import sys
from multiprocessing import Pool

from appliance.detection.evaluation import pooled
from bench.detection import score_night, shared_bed
from sensor.simulator import World

SEEDS = (201, 202)
PROFILES = ("piezo12", "loadcell", "quiet")
WORLDS = {
    "as modelled": World(),
    "heart 84-108 a minute": World(heart_rate=(1.4, 1.8)),
    "breathing 8-20x the heartbeat": World(breathing=(8.0, 20.0)),
    "pauses of 0.5-2 s inside turns": World(turn_pauses=(0.5, 2.0)),
    "kicks as one 1-4 Hz swing": World(lm_shape="swing"),
    "kicks as a smooth press": World(lm_shape="press"),
}
SHARED_WORLDS = ("as modelled", "heart 84-108 a minute", "kicks as one 1-4 Hz swing")


def _score(args):
    name, profile, seed, hours, shared = args
    return (name, shared), score_night(profile, seed, hours, WORLDS[name], shared_bed() if shared else None)


def _print_row(name: str, rows: list[dict]) -> None:
    lm = pooled([r["lm"] for r in rows])
    plmi = max(abs(r["plmi"] - r["plmi_true"]) for r in rows)
    partner = [r["partner_counted"] for r in rows if "partner_counted" in r]
    print(f"  {name:32s} LM P {lm['precision']:.3f} R {lm['recall']:.3f} F1 {lm['f1']:.3f}"
          f"  PLMI error max {plmi:.2f} /h  ({lm['true']} true LMs)"
          + (f"  partner counted {100 * sum(partner) / len(partner):.0f}%" if partner else ""), flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--hours", type=float, default=8.0)
    args = ap.parse_args()
    print(f"robustness: one change to the simulated world per row; {', '.join(PROFILES)}, seeds {list(SEEDS)}, "
          f"{args.hours:g} h; LM counts pooled over the nights")
    jobs = [(name, p, s, args.hours, False) for name in WORLDS for p in PROFILES for s in SEEDS]
    jobs += [(name, p, s, args.hours, True) for name in SHARED_WORLDS for p in PROFILES + ("partner",) for s in SEEDS]
    with Pool(2) as pool:
        done = pool.map(_score, jobs)
    for name in WORLDS:
        _print_row(name, [r for key, r in done if key == (name, False)])
    print(f"set up for a shared bed: {', '.join(PROFILES)} and partner, seeds {list(SEEDS)}")
    for name in SHARED_WORLDS:
        _print_row(name, [r for key, r in done if key == (name, True)])
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmarks: `make bench` runs them; each prints figures, none asserts."""
from __future__ import annotations

import argparse


def nights_parser(doc: str, held_out, quick: str) -> argparse.ArgumentParser:
    """The options every night bench takes: --hours, --seeds (the held-out ones by default), --quick."""
    ap = argparse.ArgumentParser(description=doc)
    ap.add_argument("--hours", type=float, default=8.0)
    ap.add_argument("--seeds", default=",".join(map(str, held_out)))
    ap.add_argument("--quick", action="store_true", help=f"{quick}, 2-hour nights")
    return ap


def asked_nights(args, quick_seeds: int = 1) -> tuple[float, list[int]]:
    """The hours and seeds asked for: with --quick, 2-hour nights of the first `quick_seeds` seeds."""
    seeds = [int(s) for s in args.seeds.split(",")]
    return (2.0, seeds[:quick_seeds]) if args.quick else (args.hours, seeds)

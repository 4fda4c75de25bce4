"""`make bench`: heart rate, breathing rate and breathing events, on held-out simulated nights
and on the real recordings.

Per night, through `analyze` as a household runs it (detected movements and bed, not the truth's):

- heart rate: mean absolute error per minute against the simulator's true rate, over
  the still minutes in bed (wholly in the truth's bed, no true movement within 2 s),
  and the share of those minutes that have a heart rate; the same for breathing
  (minutes holding a breathing event left out: their rate is not one rate);
- breathing events: F1 by overlap, events per hour against the truth's, events an
  hour on nights without any, and how far their edges sit from the truth's (the
  WASM window for respiratory-related movements runs from an event's end);
- respiratory-related leg movements: F1 of the flag over the leg movements found,
  and the PLMI with them left out against the truth's (the truth scored by the same
  rules with the true events).

Two sleepers, a strip each: heart and breathing rate per sleeper as above, breathing events by
F1 for a sleeper who pauses beside one who breathes on, and the breathing events found for a
sleeper the simulator gave none (each strip carries the other's breath too).

Real recordings: the median heart rate against the chest strap's median over its file.

    python -m bench.vitals [--hours 8] [--seeds 301,302,303] [--quick]
"""
from __future__ import annotations

import csv
import statistics
import sys
from multiprocessing import Pool
from pathlib import Path

import numpy as np

from appliance.config import Config
from bench import asked_nights, nights_parser
from appliance.detection.analysis import analyze_couple, analyze_signal
from appliance.detection.evaluation import pooled, prf
from appliance.detection.scoring import NightResult, Movement
from sensor.recording import read_recording
from sensor.simulator import simulate_couple, simulate_night

HELD_OUT = (301, 302, 303)
COUPLES = ("couple", "couple_loadcell", "couple_breathing")
PROFILES = ("piezo12", "piezo10", "loadcell", "loadcell500", "severe", "breathing", "breathing_loadcell")
REAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real"


def still_minutes(truth, sleeper: dict | None = None, other: dict | None = None) -> set[int]:
    """Minute starts wholly in the truth's bed that no true movement comes within 2 s of (with two
    sleepers, `sleeper`'s bed, and neither one's movements: the other's reach this strip too)."""
    own = sleeper or {"lms": truth.lms, "large": truth.large, "bed": truth.bed, "vitals": truth.vitals}
    moves = own["lms"] + own["large"] + ((other["lms"] + other["large"]) if other else [])
    out = set()
    for t, _, _ in own["vitals"]:
        if any(a <= t and t + 60 <= b for a, b in own["bed"]) and not any(
                a - 2 < t + 60 and b + 2 > t for a, b in moves):
            out.add(int(t))
    return out


def calm_minutes(minutes: set[int], events) -> set[int]:
    """The minute starts that no breathing event reaches into (a minute holding one has no one rate)."""
    return {t for t in minutes if not any(a < t + 60 and b > t for a, b in events)}


def score_couple(job) -> list[dict]:
    """Each sleeper's heart and breathing on their own strip, the other's heart beside it through the mattress."""
    profile, seed, hours = job
    rec, truth = simulate_couple(hours, seed, profile)
    res = analyze_couple(rec.signal, rec.fs, ["A", "B"])
    rows = []
    for k, night in enumerate(res.nights):
        sl, other = truth.sleepers[k], truth.sleepers[1 - k]
        true = {int(t): (hr, br) for t, hr, br in sl["vitals"]}
        still = still_minutes(truth, sl, other)
        calm = calm_minutes(still, sl["respiratory_events"])
        found = {int(v["t_s"]): v for v in night.vitals}
        hr = [abs(found[t]["heart_bpm"] - true[t][0]) for t in still if found.get(t, {}).get("heart_bpm") is not None]
        br = [abs(found[t]["breaths_pm"] - true[t][1]) for t in calm if found.get(t, {}).get("breaths_pm") is not None]
        hr_other = [abs(found[t]["heart_bpm"] - other["vitals"][t // 60][1]) for t in still
                    if found.get(t, {}).get("heart_bpm") is not None and t // 60 < len(other["vitals"])]
        rows.append({"profile": profile, "seed": seed, "who": k, "coupling": truth.coupling, "corner": truth.corner_hz,
                     "still": len(still), "calm": len(calm), "hr_err": hr, "br_err": br,
                     "as_other": sum(e < 2.0 <= a for e, a in zip(hr_other, hr)),
                     "found_events": len(night.events), "true_events": len(sl["respiratory_events"]),
                     "events": prf([tuple(e) for e in night.events], [tuple(e) for e in sl["respiratory_events"]]),
                     "hours": night.summary["hours_in_bed"]})
    return rows


def truth_result(truth) -> NightResult:
    moves = [Movement(a, b, "lm") for a, b in truth.lms] + [Movement(a, b, "large") for a, b in truth.large]
    return NightResult(moves, [tuple(b) for b in truth.bed], Config().series, truth.fs, 1, truth.duration_s,
                       events=[tuple(e) for e in truth.respiratory_events])


def score(job) -> dict:
    profile, seed, hours = job
    rec, truth = simulate_night(hours, seed, profile)
    res = analyze_signal(rec.signal, rec.fs)
    true = {int(t): (hr, br) for t, hr, br in truth.vitals}
    still = still_minutes(truth)
    found = {int(v["t_s"]): v for v in res.vitals}
    hr_err = [abs(found[t]["heart_bpm"] - true[t][0]) for t in still if t in found and found[t]["heart_bpm"] is not None]
    calm = calm_minutes(still, truth.respiratory_events)
    br_err = [abs(found[t]["breaths_pm"] - true[t][1]) for t in calm if t in found and found[t]["breaths_pm"] is not None]
    det_events = [tuple(e) for e in res.events]
    true_events = [tuple(e) for e in truth.respiratory_events]
    tres = truth_result(truth)
    true_resp = [(m.onset_s, m.offset_s) for m in tres.movements if m.kind == "lm" and m.respiratory]
    found_resp = [(m.onset_s, m.offset_s) for m in res.movements if m.kind == "lm" and m.respiratory]
    return {"profile": profile, "seed": seed, "hours": res.summary["hours_in_bed"],
            "still": len(still), "hr_n": len(hr_err), "hr_err": hr_err, "calm": len(calm), "br_n": len(br_err),
            "br_err": br_err, "events": prf(det_events, true_events), "true_events": len(true_events),
            "found_events": len(det_events), "resp": prf(found_resp, true_resp),
            "plmi": res.summary["plmi"], "true_plmi": tres.summary["plmi"],
            "plmi_with": res.summary["plmi_with_respiratory"], "true_plmi_with": tres.summary["plmi_with_respiratory"],
            "rise": (res.heart_response or {}).get("other"), "edges": edge_offsets(det_events, true_events)}


def edge_offsets(found, true) -> list[tuple[float, float]]:
    """(start, end) of each event found less the one true event it overlaps: where the edges sit."""
    out = []
    for a, b in found:
        match = [(c, d) for c, d in true if c < b and d > a]
        if len(match) == 1:
            out.append((a - match[0][0], b - match[0][1]))
    return out


def strap_median(path: Path) -> float:
    with path.open() as f:
        return statistics.median(float(r["HR"]) for r in csv.DictReader(f) if r.get("HR"))


def real() -> None:
    print("\nreal recordings (awake subject; the strap's median over its whole file):")
    errs = []
    for path in sorted(REAL.glob("*.npz")):
        rec = read_recording(path)
        res = analyze_signal(rec.signal, rec.fs)
        strap = strap_median(path.with_name(path.stem + ".polar_h10.csv"))
        got = res.summary["heart_bpm"]
        have = sum(1 for v in res.vitals if v["heart_bpm"] is not None)
        err = f"{got - strap:+.1f}" if got is not None else "n/a"
        if got is not None:
            errs.append(abs(got - strap))
        print(f"  {path.name:22s} strap {strap:5.1f}  strip {got if got is not None else 'none':>5}  ({err} bpm; "
              f"{have} of {len(res.vitals)} minutes in bed with a heart rate)")
    if errs:
        print(f"  mean |error| over the {len(errs)} with a heart rate: {statistics.mean(errs):.1f} bpm  (target <= 3; each <= 5)")


def main() -> int:
    args = nights_parser(__doc__, HELD_OUT, "one seed").parse_args()
    hours, seeds = asked_nights(args)
    jobs = [(p, s, hours) for p in PROFILES for s in seeds]
    with Pool(2) as pool:
        rows = pool.map(score, jobs)
    print(f"heart and breathing on simulated nights: {hours:g} h, seeds {seeds} (held out)")
    print(f"  {'profile':20s} {'HR MAE':>7s} {'HR cov':>7s} {'BR MAE':>7s} {'BR cov':>7s} {'ev F1':>6s} "
          f"{'ev/h':>11s} {'resp F1':>7s} {'PLMI':>11s} {'with resp':>11s}")
    for r in rows:
        ev = f"{r['found_events'] / max(r['hours'], 1e-9):.1f}/{r['true_events'] / max(r['hours'], 1e-9):.1f}"
        print(f"  {r['profile'] + ' ' + str(r['seed']):20s} {_mean(r['hr_err']):>7s} {r['hr_n'] / max(r['still'], 1):7.2f} "
              f"{_mean(r['br_err']):>7s} {r['br_n'] / max(r['calm'], 1):7.2f} {r['events']['f1']:6.2f} {ev:>11s} "
              f"{r['resp']['f1']:7.2f} {r['plmi']}/{r['true_plmi']:<6} {r['plmi_with']}/{r['true_plmi_with']}")
    hr = [e for r in rows for e in r["hr_err"]]
    br = [e for r in rows for e in r["br_err"]]
    print(f"  pooled: heart rate MAE {_mean(hr)} bpm on {sum(r['hr_n'] for r in rows) / sum(r['still'] for r in rows):.2f} "
          f"of still minutes (target <= 2 on >= 0.85); breathing MAE {_mean(br)} /min on "
          f"{sum(r['br_n'] for r in rows) / sum(r['calm'] for r in rows):.2f} (target <= 1 on >= 0.85)")
    with_ev = [r for r in rows if r["true_events"]]
    without = [r for r in rows if not r["true_events"]]
    if with_ev:
        f1 = pooled([r["events"] for r in with_ev])["f1"]
        rf1 = pooled([r["resp"] for r in with_ev])["f1"]
        plmi_err = [abs(r["plmi"] - r["true_plmi"]) for r in with_ev if r["plmi"] is not None]
        print(f"  nights with events ({len(with_ev)}): event F1 {f1:.2f} (target >= 0.8); respiratory LM F1 {rf1:.2f} "
              f"(target >= 0.95); PLMI error max {max(plmi_err):.1f} /h (target <= 1.5)")
        edges = np.array([e for r in with_ev for e in r["edges"]]).reshape(-1, 2)
        if len(edges):
            print(f"    event edges less the true ones, median: start {np.median(edges[:, 0]):+.2f} s, end "
                  f"{np.median(edges[:, 1]):+.2f} s ({len(edges)} events; the WASM window runs from the end)")
    if without:
        worst = max(r["found_events"] / max(r["hours"], 1e-9) for r in without)
        print(f"  nights without events ({len(without)}): at most {worst:.2f} events an hour found (target <= 1)")
    with Pool(2) as pool:
        pairs = [r for each in pool.map(score_couple, [(p, s, hours) for p in COUPLES for s in seeds]) for r in each]
    print("  two sleepers, a strip each (the other's heart through the mattress too):")
    for r in pairs:
        print(f"    {r['profile'] + ' ' + str(r['seed'])} sleeper {r['who']} (coupling {r['coupling']}, corner "
              f"{r['corner']} Hz): HR MAE {_mean(r['hr_err'])} on {len(r['hr_err']) / max(r['still'], 1):.2f}, "
              f"BR MAE {_mean(r['br_err'])} on {len(r['br_err']) / max(r['calm'], 1):.2f}; "
              f"{r['as_other']} minutes read the other's heart; breathing events {r['found_events']} "
              f"(true {r['true_events']})")
    hr2 = [e for r in pairs for e in r["hr_err"]]
    print(f"    pooled: HR MAE {_mean(hr2)} on {len(hr2) / max(sum(r['still'] for r in pairs), 1):.2f} of still minutes")
    pausing = [r for r in pairs if r["true_events"]]
    if pausing:
        print(f"    sleepers with breathing events ({len(pausing)}): event F1 "
              f"{pooled([r['events'] for r in pausing])['f1']:.2f} (target >= 0.8)")
    quiet = [r for r in pairs if not r["true_events"]]
    if quiet:
        worst = max(r["found_events"] / max(r["hours"], 1e-9) for r in quiet)
        print(f"    sleepers without breathing events ({len(quiet)}): at most {worst:.2f} events an hour found "
              "(target <= 1)")
    rises = [r["rise"]["rise_bpm"] for r in rows if r["rise"] and r["rise"]["rise_bpm"] is not None]
    if rises:
        print(f"  heart's answer to a kick (non-periodic LMs): median rise {statistics.median(rises):.1f} bpm over {len(rises)} nights")
    real()
    return 0


def _mean(v) -> str:
    return f"{np.mean(v):.2f}" if len(v) else "n/a"


if __name__ == "__main__":
    sys.exit(main())

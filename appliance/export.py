"""A night as files a doctor can open: its movements and its minutes (heart, breathing) as CSV, its
raw signal as EDF+ with the movements and breathing pauses as annotations and the heart rate as a signal.

The appliance's, not the web's: the dashboard asks for the bytes and serves them.
"""
from __future__ import annotations

import datetime as dt


def movements_csv(night: dict) -> str:
    """One row per movement, with local clock times beside the seconds from the night's origin."""
    start = dt.datetime.fromisoformat(night["recording"]["start"])
    lines = ["onset_local,offset_local,onset_s,offset_s,duration_s,kind,periodic,series,respiratory"]
    for m in night["movements"]:
        on = (start + dt.timedelta(seconds=m["onset_s"])).astimezone()
        off = (start + dt.timedelta(seconds=m["offset_s"])).astimezone()
        lines.append(f"{on.isoformat(timespec='seconds')},{off.isoformat(timespec='seconds')},"
                     f"{m['onset_s']},{m['offset_s']},{m['offset_s'] - m['onset_s']:.2f},{m['kind']},"
                     f"{int(m['periodic'])},{'' if m['series'] is None else m['series']},"
                     f"{int(bool(m.get('respiratory')))}")
    return "\n".join(lines) + "\n"


def vitals_csv(night: dict) -> str:
    """One row per minute in bed: its heart and breathing rate, empty where it had none; then the
    breathing events (what the strip saw of breathing effort: not an apnea test)."""
    start = dt.datetime.fromisoformat(night["recording"]["start"])
    lines = ["what,start_local,start_s,end_s,heart_bpm,breaths_pm"]
    for v in night.get("vitals") or []:
        at = (start + dt.timedelta(seconds=v["t_s"])).astimezone()
        lines.append(f"minute,{at.isoformat(timespec='seconds')},{v['t_s']},{v['t_s'] + 60},"
                     f"{'' if v['heart_bpm'] is None else v['heart_bpm']},{'' if v['breaths_pm'] is None else v['breaths_pm']}")
    for e in night.get("respiratory_events") or []:
        at = (start + dt.timedelta(seconds=e["onset_s"])).astimezone()
        lines.append(f"breathing pause,{at.isoformat(timespec='seconds')},{e['onset_s']},{e['offset_s']},,")
    return "\n".join(lines) + "\n"


def movements_csv_of_both(names: list[str], nights: list[dict | None]) -> str:
    """Two sleepers' movements in one file, a column saying whose, and whether it came just after the other's."""
    lines = ["sleeper,after_other," + movements_csv({"recording": {"start": "1970-01-01T00:00:00+00:00"},
                                                     "movements": []}).strip()]
    for who, night in zip(names, nights):
        if not night:
            continue
        rows = movements_csv(night).strip().split("\n")[1:]
        lines += [f"{who},{int(bool(m.get('after_other')))},{row}" for m, row in zip(night["movements"], rows)]
    return "\n".join(lines) + "\n"


def vitals_csv_of_both(names: list[str], nights: list[dict | None]) -> str:
    """Two sleepers' minutes and breathing pauses in one file, a column saying whose."""
    lines = ["sleeper," + vitals_csv({"recording": {"start": "1970-01-01T00:00:00+00:00"}}).strip()]
    for who, night in zip(names, nights):
        if night:
            lines += [f"{who},{row}" for row in vitals_csv(night).strip().split("\n")[1:]]
    return "\n".join(lines) + "\n"


def night_edf_of_both(names: list[str], nights: list[dict | None], raw_dir: str) -> bytes | None:
    """The raw signal of both strips (one EDF+ signal each) with both sleepers' movements, each
    annotation named with whose it is."""
    present = [(who, n) for who, n in zip(names, nights) if n]
    union = dict(present[0][1])
    origin = dt.datetime.fromisoformat(union["recording"]["start"]).timestamp()
    moves, bed, events, hearts = [], [], [], []
    for who, n in present:
        shift = dt.datetime.fromisoformat(n["recording"]["start"]).timestamp() - origin
        moves += [dict(m, onset_s=m["onset_s"] + shift, offset_s=m["offset_s"] + shift, who=who) for m in n["movements"]]
        bed += [{"in_s": b["in_s"] + shift, "out_s": b["out_s"] + shift, "who": who} for b in n["bed"]]
        events += [{"onset_s": e["onset_s"] + shift, "offset_s": e["offset_s"] + shift, "who": who}
                   for e in n.get("respiratory_events") or []]
        hearts.append((who, [dict(v, t_s=v["t_s"] + shift) for v in n.get("vitals") or []]))
    union["movements"], union["bed"] = sorted(moves, key=lambda m: m["onset_s"]), sorted(bed, key=lambda b: b["in_s"])
    union["respiratory_events"], union["heart_of"] = events, hearts
    return night_edf(union, raw_dir)


def night_edf(night: dict, raw_dir: str) -> bytes | None:
    """The night's raw signal as EDF+, each movement an annotation (LM, PLM, large), or None if not kept.

    With two sleepers (movements and bed periods carrying `who`), each annotation is named with whose it is."""
    from sensor.rawlog import read_span
    from sensor.recording import edf_bytes

    origin = dt.datetime.fromisoformat(night["recording"]["start"]).timestamp()
    bed = night["bed"]
    a = origin + (bed[0]["in_s"] if bed else 0.0) - 60
    b = origin + (bed[-1]["out_s"] if bed else night["recording"]["duration_s"]) + 60
    found = read_span(raw_dir, a, b)
    if found is None:
        return None
    rec, start = found
    rec.start = dt.datetime.fromtimestamp(start, dt.timezone.utc)
    shift = origin - start
    for m in night["movements"]:
        label = "large movement" if m["kind"] == "large" else ("PLM" if m["periodic"] else "LM")
        label = f"{m['who']}: {label}" if m.get("who") else label
        onset = m["onset_s"] + shift
        if 0 <= onset < rec.duration_s:
            rec.annotations.append((round(onset, 3), round(m["offset_s"] - m["onset_s"], 3), label))
    for p in bed:
        for t, what in ((p["in_s"], "in bed"), (p["out_s"], "out of bed")):
            what = f"{p['who']}: {what}" if p.get("who") else what
            if 0 <= t + shift < rec.duration_s:
                rec.annotations.append((round(t + shift, 3), 0.0, what))
    for e in night.get("respiratory_events") or []:
        label = f"{e['who']}: breathing pause" if e.get("who") else "breathing pause"
        if 0 <= e["onset_s"] + shift < rec.duration_s:
            rec.annotations.append((round(e["onset_s"] + shift, 3), round(e["offset_s"] - e["onset_s"], 3), label))
    rec.annotations.sort()
    hearts = night.get("heart_of") or [("", night.get("vitals") or [])]
    extra = tuple((f"{who} heart rate".strip()[:16], "bpm", _per_second(vitals, shift, rec.duration_s), (0.0, 250.0))
                  for who, vitals in hearts if vitals)
    return edf_bytes(rec, extra)


def _per_second(vitals: list[dict], shift: float, duration_s: float) -> list[float]:
    """Each minute's heart rate on every second of it, 0 where the minute had none (or was not in bed)."""
    out = [0.0] * int(duration_s + 1)
    for v in vitals:
        if v["heart_bpm"] is None:
            continue
        a = int(round(v["t_s"] + shift))
        for i in range(max(0, a), min(len(out), a + 60)):
            out[i] = v["heart_bpm"]
    return out

"""The doctor's report over many nights: what a clinician reads first, then the evidence.

One night is a weak sample: the PLMI of one person varies widely from night to
night, the periodicity index far less, and medicines, alcohol and caffeine change
it. So the first page gives each figure's median and spread (the middle half of the
nights, and the lowest and highest) over the nights chosen, the rules they were
counted by and what the sensor is and is not; then one line per night, every
periodic series, the intervals between movements over all nights, the heart's
answer to a kick, and the diary. Read from the nights as stored, never counted again.
"""
from __future__ import annotations

import datetime as dt
import json
import statistics

from appliance.diary import FACTORS, Entry, compare
from appliance.spread import spread
from appliance.store import Store
from web import charts

MIN_NIGHTS = 5
MAX_NIGHTS = 120

FIGURES = (   # (summary key, name, what it is, unit, decimals)
    ("plmi", "PLMI", "periodic leg movements per hour in bed, respiratory-related ones left out", "/h", 1),
    ("plmi_with_respiratory", "PLMI, all", "respiratory-related leg movements kept in", "/h", 1),
    ("lmi", "LM index", "all leg movements per hour in bed", "/h", 1),
    ("periodicity_index", "Periodicity index", "share of intervals in periodic runs (Ferri 2006)", "", 2),
    ("hours_in_bed", "Time in bed", "hours", "h", 1),
    ("rei", "Breathing pauses per hour", "in bed; breathing effort at the strip, not airflow", "/h", 1),
    ("heart_bpm", "Heart rate", "beats a minute, median of the still minutes", "/min", 0),
)


def build_report(store: Store | None, who: str, lo: str, hi: str) -> dict:
    """The report of one sleeper's nights from `lo` to `hi` (evening dates, both included); None for
    the store: none recorded yet."""
    rows = sorted((r for r in (store.nights(sleeper=who) if store else []) if lo <= r["date"] <= hi),
                  key=lambda r: r["date"])
    rows = rows[-MAX_NIGHTS:]
    out = {"who": who, "lo": lo, "hi": hi, "count": len(rows), "need": MIN_NIGHTS,
           "made": dt.date.today().isoformat()}
    if len(rows) < MIN_NIGHTS:
        return out
    summaries = [json.loads(r["summary_json"]) if r["summary_json"] else {} for r in rows]
    out["rates"] = " or ".join(f"{fs:g}" for fs in sorted({r["fs"] for r in rows if r.get("fs")}))
    entries = {r["date"]: Entry.from_row(r) for r in store.diary(who) if lo <= r["date"] <= hi}
    out["figures"] = [{"name": name, "what": what, "unit": unit, "digits": digits,
                       "s": spread([s[key] for s in summaries if s.get(key) is not None])}
                      for key, name, what, unit, digits in FIGURES]
    out["nights"] = [{"date": r["date"], "s": s, "diary": _ticks(entries.get(r["date"]))}
                     for r, s in zip(rows, summaries)]
    out["series"] = _series(store, rows)
    out["imi_chart"] = _intervals(summaries)
    out["response"] = _response(rows)
    out["diary"] = [{"date": d, "ticked": _ticks(e), "note": e.note} for d, e in sorted(entries.items())]
    out["comparisons"] = compare([{"date": r["date"], "plmi": s.get("plmi")} for r, s in zip(rows, summaries)],
                                 entries) if entries else []
    return out


def _ticks(entry: Entry | None) -> str:
    return ", ".join(label for key, label in FACTORS if entry and key in entry.ticked)


def _series(store: Store, rows: list[dict]) -> list[dict]:
    """Every periodic series of the nights, in local clock time."""
    out = []
    for r in rows:
        for s in store.series(r["id"]):
            a = dt.datetime.fromtimestamp(s["onset_utc"])
            b = dt.datetime.fromtimestamp(s["offset_utc"])
            out.append({"date": r["date"], "from": f"{a:%H:%M}", "to": f"{b:%H:%M}",
                        "minutes": round((s["offset_utc"] - s["onset_utc"]) / 60, 1), "count": s["count"],
                        "imi": s["mean_imi_s"]})
    return out


def _intervals(summaries: list[dict]) -> str | None:
    """The intervals between leg movements (onset to onset, 2 s bins to 90 s) over all the nights."""
    hists = [s["imi_histogram"]["counts"] for s in summaries if s.get("imi_histogram")]
    if not hists:
        return None
    counts = [sum(h[i] for h in hists if i < len(h)) for i in range(max(len(h) for h in hists))]
    return charts.intervals(counts, "intervals between leg movements, all nights")


def _response(rows: list[dict]) -> dict | None:
    """The heart's answer to a kick over all the nights: each night's mean curve weighted by its kicks."""
    curves = [json.loads(r["heart_response_json"]) for r in rows if r.get("heart_response_json")]
    if not curves:
        return None
    t_s = curves[0]["t_s"]
    shown, each = [], []
    for key, cls in charts.RESPONSE_CURVES:
        parts = [c[key] for c in curves if c.get(key) and c["t_s"] == t_s]
        kicks = sum(p["kicks"] for p in parts)
        if not kicks:
            continue
        mean = []
        for i in range(len(t_s)):
            pairs = [(p["bpm"][i], p["kicks"]) for p in parts if p["bpm"][i] is not None]
            weight = sum(w for _, w in pairs)
            mean.append(round(sum(v * w for v, w in pairs) / weight, 1) if weight else None)
        rises = [p["rise_bpm"] for p in parts if p.get("rise_bpm") is not None]
        shown.append((cls, mean))
        each.append({"which": key, "kicks": kicks, "nights": len(parts),
                     "rise": round(statistics.median(rises), 1) if rises else None})
    if not shown:
        return None
    return {"chart": charts.response(t_s, shown, "heart rate around a kick, all nights"), "each": each}

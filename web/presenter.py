"""From a stored night (the `analyze` JSON shape) to what a person reads on the page.

Plain words, local clock times, the densest periodic episode, and the hour with the
most movements when one stands out. Only what the strip measured: the partner's
sleep is not measured, so nothing here says how it went. No HTTP here: the views call it.
"""
from __future__ import annotations

import datetime as dt
import statistics

from appliance.detection.scoring import ELEVATED_PLMI
from appliance.spread import spread
from web import charts


def local(utc_iso: str) -> dt.datetime:
    return dt.datetime.fromisoformat(utc_iso).astimezone()


def clock(origin: dt.datetime, seconds: float) -> str:
    return (origin + dt.timedelta(seconds=seconds)).strftime("%H:%M")


def present_night(night: dict, name: str | None = None) -> dict:
    """`name`: whose night, when two sleepers share the bed, each on a strip of their own."""
    origin = local(night["recording"]["start"])
    origin_clock_s = origin.hour * 3600 + origin.minute * 60 + origin.second + origin.microsecond / 1e6
    s = night["summary"]
    moves = night["movements"]
    bed = night["bed"]
    lms = [m for m in moves if m["kind"] == "lm"]
    start = bed[0]["in_s"] if bed else 0.0
    end = bed[-1]["out_s"] if bed else night["recording"]["duration_s"]
    date = dt.date.fromisoformat(night["night"]["date"])
    trips = [(clock(origin, a["out_s"]), clock(origin, b["in_s"]), (b["in_s"] - a["out_s"]) / 60)
             for a, b in zip(bed, bed[1:])]
    episode = None
    if night["series"]:
        best = max(night["series"], key=lambda x: (x["count"], -x["mean_imi_s"]))
        episode = {"from": clock(origin, best["onset_s"]), "to": clock(origin, best["offset_s"]),
                   "every": round(best["mean_imi_s"]), "count": best["count"],
                   "minutes": round((best["offset_s"] - best["onset_s"]) / 60)}
    hours = _per_hour(lms, start, end, origin)
    busiest = _busiest(hours)
    imi = s["imi_histogram"]["counts"]
    return {
        "name": name or None,
        "after_other": _after_other(s),
        "date": night["night"]["date"],
        "weekday": date.strftime("%A %-d %B"),
        "closed": night["night"]["closed"],
        "s": s,
        "elevated": s["plmi"] is not None and s["plmi"] > ELEVATED_PLMI,
        "in_bed": (clock(origin, start), clock(origin, end)) if bed else None,
        "trips": trips,
        "episode": episode,
        "busiest": busiest,
        "movement_count": len(moves),
        "timeline": charts.timeline(moves, night["series"], bed, start, end, origin_clock_s),
        "imi_chart": charts.intervals(imi, "intervals between movements"),
        "hour_chart": charts.bars([c for _, c in hours], [h for h, _ in hours], "leg movements per hour",
                                  "per-hour", unit="leg movements, by hour in bed"),
        "plmi_gauge": _gauge(s["plmi"]),
        **_heart_and_breathing(night, start, end, origin_clock_s),
    }


def _heart_and_breathing(night: dict, start: float, end: float, origin_clock_s: float) -> dict:
    """Heart and breathing through the night, the breathing pauses, and the heart's answer to a kick:
    only what was measured (a night stored before kickwatch measured them shows none of it)."""
    s = night["summary"]
    vitals = night.get("vitals")
    events = night.get("respiratory_events")
    out = {"vitals": None, "pauses": None, "response": None}
    if vitals:
        out["vitals"] = {
            "heart": s.get("heart_bpm"), "breaths": s.get("breaths_pm"),
            "coverage": round((s.get("vitals_coverage") or 0) * 100),
            "heart_chart": charts.rates(vitals, "heart_bpm", start, end, origin_clock_s, "heart rate through the night",
                                        "heart beats a minute, minute by minute", "heart"),
            "breath_chart": charts.rates(vitals, "breaths_pm", start, end, origin_clock_s,
                                         "breathing through the night", "breaths a minute; pauses marked below",
                                         "breath", events),
        }
    if events is not None:
        out["pauses"] = {"count": len(events), "rate": s.get("rei"), "respiratory": s.get("respiratory_count") or 0,
                         "plmi_with": s.get("plmi_with_respiratory"), "plm_with": s.get("plm_count_with_respiratory")}
    curve = night.get("heart_response") or {}
    shown = [(cls, curve[key]) for key, cls in charts.RESPONSE_CURVES if curve.get(key)]
    if shown:
        out["response"] = {
            "chart": charts.response(curve["t_s"], [(cls, c["bpm"]) for cls, c in shown], "heart rate around a kick"),
            "each": [{"which": "periodic" if cls == "periodic-kicks" else "other", "rise": c["rise_bpm"],
                      "kicks": c["kicks"]} for cls, c in shown]}
    return out


def _after_other(s: dict) -> dict | None:
    """How often this sleeper moved within 10 s after the other began to, and what chance alone gives."""
    if s.get("after_other_count") is None:
        return None
    expected = s["after_other_expected"]
    return {"count": s["after_other_count"], "expected": round(expected) if expected >= 1 else round(expected, 1),
            "more": s["after_other_count"] >= 2 * max(expected, 1.0)}


BUSIEST_MIN = 10          # fewer movements in an hour than this is no busy hour worth naming


def _busiest(hours: list[tuple[str, int]]) -> dict | None:
    """The hour with the most leg movements, when it has at least BUSIEST_MIN and clearly more than the
    next (a quarter more): a tie, or a handful of movements, names no hour."""
    ranked = sorted(hours, key=lambda h: -h[1])
    if not ranked or ranked[0][1] < BUSIEST_MIN:
        return None
    if len(ranked) > 1 and ranked[0][1] < 1.25 * ranked[1][1]:
        return None
    return {"from": ranked[0][0], "count": ranked[0][1]}


def _per_hour(lms: list[dict], start: float, end: float, origin: dt.datetime) -> list[tuple[str, int]]:
    out = []
    t = start
    while t < end:
        count = sum(1 for m in lms if t <= m["onset_s"] < t + 3600)
        out.append((clock(origin, t), count))
        t += 3600
    return out


def _gauge(plmi: float | None) -> dict:
    """Where PLMI sits on a 0-60/h scale, for a bar with the elevated mark."""
    top = max(60.0, (plmi or 0) * 1.1)
    return {"percent": 0 if plmi is None else min(100, plmi / top * 100), "reference": ELEVATED_PLMI / top * 100}


def present_trend(nights: list[dict], days: int) -> dict:
    """The nights recorded in the `days` days up to the newest one (a tab of 30 with 7 stored shows 7)."""
    ordered = sorted(nights, key=lambda n: n["date"])
    if ordered:
        newest = dt.date.fromisoformat(ordered[-1]["date"])
        since = (newest - dt.timedelta(days=days - 1)).isoformat()
        ordered = [n for n in ordered if n["date"] >= since]
    recent = ordered
    values = [n["plmi"] for n in recent if n["plmi"] is not None]
    median = statistics.median(values) if values else None
    points = [(n["date"][5:], n["plmi"]) for n in recent]
    above = sum(1 for v in values if v > ELEVATED_PLMI)
    return {"chart": charts.trend(points, median, ELEVATED_PLMI), "median": median, "count": len(recent), "above": above,
            "days": days, "until": recent[-1]["date"] if recent else None}


USUAL_NIGHTS = 14         # "your usual": the median of this many nights before the one shown
USUAL_MIN = 5             # fewer nights than this before it: too few to say what is usual
STRIP_NIGHTS = 30


def present_context(nights: list[dict], date: str) -> dict:
    """The night beside the ones before it: higher or lower than usual (the median of the last 14
    nights with a rate, and the middle half of them as the spread), and the last 30 nights as a strip."""
    ordered = sorted(nights, key=lambda n: n["date"])
    upto = [n for n in ordered if n["date"] <= date]
    this = next((n for n in upto if n["date"] == date), None)
    before = [n["plmi"] for n in upto if n["date"] < date and n["plmi"] is not None][-USUAL_NIGHTS:]
    strip_nights = upto[-STRIP_NIGHTS:]
    out = {"strip": charts.strip([(n["date"], n["plmi"]) for n in strip_nights], date, ELEVATED_PLMI)
           if len(strip_nights) > 1 else None, "strip_count": len(strip_nights), "usual": None, "before": len(before),
           "need": USUAL_MIN}
    if len(before) < USUAL_MIN or this is None:
        return out
    usual = spread(before)
    value = this["plmi"]
    if value is None:
        word = None
    elif value > usual["high"]:
        word = "higher than"
    elif value < usual["low"]:
        word = "lower than"
    else:
        word = "about"
    out["usual"] = {"word": word, "median": usual["median"], "low": usual["low"], "high": usual["high"],
                    "nights": usual["n"]}
    return out

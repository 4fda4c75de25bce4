"""Nights: from the detector's stream events to rows in the store, and back.

A night starts when someone gets into bed and ends when the bed has been empty for
`night_gap_min` (a trip to the bathroom does not end it). It is keyed by the
evening's date: the local date twelve hours before getting in, so 01:30 on the
24th belongs to the night of the 23rd. With two sleepers, one who gets in while the
other's night is open joins its date: one bed, one night. Times inside a night are
counted from its origin: the start of the recording session in which the night
began, so a recording replayed through the daemon reads exactly as `analyze` reads it.
"""
from __future__ import annotations

import datetime as dt
import json
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from appliance.config import Config, SeriesConfig
from appliance.detection.scoring import Movement, NightResult, Series, after_other, periodic_runs, summarise
from appliance.store import Store

if TYPE_CHECKING:      # the pipeline needs numpy; reading a stored night does not
    from appliance.detection.pipeline import Events
    from appliance.detection.vitals import Minute

EVENING_SHIFT = dt.timedelta(hours=12)
EARLY_MINUTES = 30          # minutes kept while no night is open, for the night that may begin in them
RECENT_MINUTES = 3          # a heart or breathing rate older than this many minutes is no longer "now"


def evening_date(utc: float) -> str:
    """The night's key: local date of (time - 12 h)."""
    return (dt.datetime.fromtimestamp(utc) - EVENING_SHIFT).date().isoformat()


@dataclass
class Tonight:
    """One sleeper's night so far, as it stands now: what a home automation may act on."""

    in_bed: bool
    leg_movements: int
    series_in_progress: bool
    heart_bpm: float | None
    breaths_pm: float | None


@dataclass
class OpenNight:
    id: int
    date: str
    origin_utc: float
    movements: list[Movement] = field(default_factory=list)   # times relative to origin
    bed: list[list] = field(default_factory=list)             # [in, out or None], relative
    last_s: float = 0.0
    dirty: bool = True
    written: dict = field(default_factory=dict)                # onset -> (periodic, series, respiratory) as stored
    minutes: list = field(default_factory=list)                # this session's Minutes, times relative
    kept_events: list = field(default_factory=list)            # breathing events stored before a restart, relative
    kept_vitals: list = field(default_factory=list)            # minutes in bed stored before a restart, relative
    written_vitals: dict = field(default_factory=dict)         # minute -> (heart, breaths) as stored


class NightBook:
    """Keeps the open night and writes it to the store in batches."""

    def __init__(self, store: Store, cfg: Config, origin_utc: float, fs: float, channels: int, sleeper: str = ""):
        """`sleeper`: whose nights these are, with two sleepers in the bed ('' for the one sleeper of a bed)."""
        self.store, self.cfg = store, cfg
        self.origin_utc, self.fs, self.channels = origin_utc, fs, channels
        self.sleeper = sleeper
        self.partner: NightBook | None = None     # the other sleeper's book, with two in the bed (the daemon sets it)
        self.gap_s = cfg.store.night_gap_min * 60
        self.closed: list[dict] = []             # summaries of the nights closed since the daemon last took them
        self.night: OpenNight | None = self._resume()
        self.last_night: OpenNight | None = None   # the night closed last (its sleeper's partner still reads it)
        # minutes read while no night is open: getting into bed is known only once it is sure, and the
        # night then begins when they lay down, minutes before
        self._early: deque = deque(maxlen=EARLY_MINUTES)

    def _resume(self) -> OpenNight | None:
        """Continue the last night if it is still open and recent (a restart mid-night)."""
        row = self.store.open_night(self.sleeper)
        if not row:
            return None
        nid, date, origin, last = row["id"], row["date"], row["origin_utc"], row["last_utc"]
        if last is None or self.origin_utc - last > self.gap_s:
            self.store.close_night(nid)
            return None
        night = OpenNight(nid, date, origin, last_s=last - origin)
        for m in self.store.movements(nid):
            mv = Movement(m["onset_utc"] - origin, m["offset_utc"] - origin, m["kind"], m["channels"], m["peak"])
            night.movements.append(mv)
            night.written[mv.onset_s] = (bool(m["periodic"]), m["series"], bool(m.get("respiratory")))
        # what was read of the night before the restart stays as stored; minutes are read on from here
        night.kept_events = [(e["onset_utc"] - origin, e["offset_utc"] - origin) for e in self.store.respiratory_events(nid)]
        night.kept_vitals = [_vital(v, origin) for v in self.store.vitals(nid)]
        night.written_vitals = {v["t_s"]: (v["heart_bpm"], v["breaths_pm"]) for v in night.kept_vitals}
        for b in self.store.bed_periods(nid):
            night.bed.append([b["in_utc"] - origin, None if b["out_utc"] is None else b["out_utc"] - origin])
        return night

    def handle(self, events: Events, stream_now_s: float) -> None:
        """Take one batch of detector events (times in seconds of this session's stream)."""
        for t, what in events.bed_changes:
            utc = self.origin_utc + t
            if what == "in":
                self._get_in(utc)
            elif self.night and self.night.bed and self.night.bed[-1][1] is None:
                self.night.bed[-1][1] = utc - self.night.origin_utc
                self.night.dirty = True
        for m in events.movements:
            if self.night is None:
                continue
            shift = self.origin_utc - self.night.origin_utc
            self.night.movements.append(Movement(m.onset_s + shift, m.offset_s + shift, m.kind, m.channels, m.peak))
            self.night.dirty = True
        if self.night:
            self.night.last_s = self.origin_utc + stream_now_s - self.night.origin_utc
            bed = self.night.bed
            if bed and bed[-1][1] is not None and self.night.last_s - bed[-1][1] > self.gap_s:
                self.close()

    def tonight(self) -> Tonight:
        """The open night as it stands: in bed, leg movements so far, whether a periodic series is
        running (its last movement is the latest, and the next may still come within the IMI
        bound), and the latest still minute's heart and breathing rates."""
        n = self.night
        if n is None:
            return Tonight(False, 0, False, None, None)
        lms = [m for m in n.movements if m.kind == "lm"]
        running = False
        if lms and n.last_s - lms[-1].onset_s <= self.cfg.series.imi_max_s:
            tail = n.movements[-4 * self.cfg.series.min_count:]
            runs = periodic_runs(tail, self.cfg.series)
            running = bool(runs) and runs[-1][-1] is lms[-1]
        from appliance.detection.vitals import MINUTE_S, reaches, touched    # numpy: the daemon's, not a reader's

        heart = breaths = None
        if n.minutes and n.last_s - (n.minutes[-1].t_s + MINUTE_S) <= RECENT_MINUTES * 60.0:
            last = n.minutes[-1]
            if not touched(last.t_s, last.t_s + MINUTE_S, reaches(n.movements[-8:])):     # as the stored minute is read
                heart, breaths = last.heart_bpm, last.breaths_pm
        return Tonight(bool(n.bed) and n.bed[-1][1] is None, len(lms), running, heart, breaths)

    def _partners_movements(self) -> list[Movement]:
        """The other sleeper's movements of tonight on this night's clock (two in the bed), or none."""
        other = (self.partner.night or self.partner.last_night) if self.partner is not None else None
        if other is None or self.night is None:
            return []
        shift = other.origin_utc - self.night.origin_utc
        return [Movement(m.onset_s + shift, m.offset_s + shift, m.kind) for m in other.movements]

    def add_minutes(self, minutes: list[Minute]) -> None:
        """Take the heart and breathing readings of whole minutes of this session's stream."""
        if self.night is None:
            self._early.extend(minutes)
            return
        if not minutes:
            return
        shift = self.origin_utc - self.night.origin_utc
        for m in minutes:
            m.t_s += shift
        self.night.minutes.extend(minutes)
        self.night.dirty = True

    def shift(self, delta: float) -> None:
        """The wall clock was wrong by `delta` s (it jumped at NTP sync): move this session's times.

        Durations come from sample counts and do not change; the open night's stored
        rows move with it, so it is neither split nor duplicated.
        """
        self.origin_utc += delta
        n = self.night
        if n is None:
            return
        n.origin_utc += delta
        self.store.shift_night(n.id, delta)
        n.dirty = True

    def _get_in(self, utc: float) -> None:
        n = self.night
        if n and n.bed and n.bed[-1][1] is not None and utc - (n.origin_utc + n.bed[-1][1]) > self.gap_s:
            self.close()
            n = None
        if n is None:
            date = self._date_of_night_in(utc)
            nid = self.store.night_id(date, self.origin_utc, utc, self.fs, self.channels, self.sleeper)
            self.night = n = OpenNight(nid, date, self.origin_utc)
            self.add_minutes(list(self._early))
            self._early.clear()
            # a night of that date that already exists (a second bedtime) continues
            for b in self.store.bed_periods(nid):
                n.bed.append([b["in_utc"] - n.origin_utc, b["out_utc"] - n.origin_utc if b["out_utc"] else None])
        if not n.bed or n.bed[-1][1] is not None:
            n.bed.append([utc - n.origin_utc, None])
            n.dirty = True

    def _date_of_night_in(self, utc: float) -> str:
        """The date of a night that begins at `utc`: the partner's, when they are in their night
        already. Two people in one bed share one night: one who lies down at 11:58 and one at 12:03
        are in the night of one evening, not of two (and the morning page shows them side by side)."""
        p = self.partner.night if self.partner else None
        return p.date if p is not None else evening_date(utc)

    def close(self) -> None:
        if self.night is None:
            return
        n = self.night
        if n.bed and n.bed[-1][1] is None:
            n.bed[-1][1] = n.last_s
        n.dirty = True
        self.closed.append(self.write(closed=True))
        n.minutes = []                           # read and written: only its movements are asked for again
        self.last_night, self.night = n, None

    def write(self, closed: bool = False) -> dict | None:
        """Queue the open night's rows (the store commits them on its next flush); its summary, when
        it was scored again."""
        n = self.night
        if n is None or not n.dirty:
            return None
        from appliance.detection.whole_night import score_night    # numpy: the daemon's, not a reader's

        bed = [(a, b if b is not None else n.last_s) for a, b in n.bed]
        result = score_night(n.minutes, n.movements, bed, self.cfg.series, self.fs, self.channels, n.last_s,
                             kept_events=n.kept_events, kept_vitals=n.kept_vitals, others=self._partners_movements())
        o = n.origin_utc
        _queue_scores(self.store, n.id, o, result, n.written)
        _queue_vitals(self.store, n.id, o, result, n.written_vitals)
        for a, b in n.bed:
            self.store.save_bed_period(n.id, o + a, None if b is None else o + b)
        self.store.save_night(n.id, n.date, o + n.bed[0][0] if n.bed else None, o + bed[-1][1] if bed else None,
                              o + n.last_s, closed, result.summary,
                              json.dumps({**result.summary, "scored_with": scored_with(self.cfg)}))
        n.dirty = False
        return result.summary


def scored_with(cfg: Config) -> dict:
    """The settings a night was counted with, kept beside its figures."""
    return {"imi_min_s": cfg.series.imi_min_s, "imi_max_s": cfg.series.imi_max_s,
            "min_count": cfg.series.min_count, "shared_bed": cfg.detection.shared_bed}


def stored_night(store: Store, date: str | None = None, sleeper: str = "") -> dict | None:
    """A stored night in the shape of `kickwatch analyze --json` (plus a 'night' key), read as it was stored.

    The recorder scored it, with its settings, when it wrote it; every reader (the
    command line, each page, the API) shows those figures and no others. Counting it
    again under other settings is `kickwatch rescore`, which says what changed.
    """
    row = store.night(date, sleeper)
    if row is None:
        return None
    movements, series, bed, last = _stored_parts(store, row)
    o = row["origin_utc"]
    summary = json.loads(row["summary_json"]) if row["summary_json"] else None
    kept = summary.pop("scored_with", None) if summary else None
    if summary is None:   # the night's row exists, its first write has not come yet: nothing counted so far
        summary = summarise(movements, series, bed, SeriesConfig())
    events, vitals = _stored_breathing(store, row)
    out = {"recording": {"fs": row["fs"], "channels": row["channels"], "duration_s": round(last - o, 2),
                         "start": dt.datetime.fromtimestamp(o, dt.timezone.utc).isoformat()},
           "movements": [m.as_dict() for m in movements], "series": [s.as_dict() for s in series],
           "summary": summary, "bed": [{"in_s": round(a, 2), "out_s": round(b, 2)} for a, b in bed],
           "vitals": vitals, "respiratory_events": [{"onset_s": round(a, 2), "offset_s": round(b, 2)} for a, b in events],
           "heart_response": json.loads(row["heart_response_json"]) if row.get("heart_response_json") else None}
    out["night"] = {"date": row["date"], "closed": bool(row["closed"]), "sleeper": sleeper or None,
                    "in_bed_from": _iso(row["start_utc"]), "in_bed_until": _iso(row["end_utc"]),
                    "scored_with": kept}
    return out


def _stored_parts(store: Store, row: dict):
    """A night's movements (with their stored marks), series and bed periods, in seconds from its origin."""
    o = row["origin_utc"]
    last = row["last_utc"] if row["last_utc"] is not None else o
    movements = [Movement(m["onset_utc"] - o, m["offset_utc"] - o, m["kind"], m["channels"], m["peak"],
                          bool(m["periodic"]), m["series"], respiratory=bool(m.get("respiratory")))
                 for m in store.movements(row["id"])]
    series = [Series(s["number"], s["onset_utc"] - o, s["offset_utc"] - o, s["count"], s["mean_imi_s"] or 0.0)
              for s in store.series(row["id"])]
    bed = [(b["in_utc"] - o, (b["out_utc"] if b["out_utc"] is not None else last) - o)
           for b in store.bed_periods(row["id"])]
    return movements, series, bed, last


def _vital(row: dict, origin: float) -> dict:
    return {"t_s": round(row["t_utc"] - origin, 2), "heart_bpm": row["heart_bpm"], "breaths_pm": row["breaths_pm"]}


def _stored_breathing(store: Store, row: dict) -> tuple[list[tuple[float, float]], list[dict]]:
    """A night's stored breathing events and minutes in bed, in seconds from its origin."""
    o = row["origin_utc"]
    events = [(e["onset_utc"] - o, e["offset_utc"] - o) for e in store.respiratory_events(row["id"])]
    return events, [_vital(v, o) for v in store.vitals(row["id"])]


def rescore(store: Store, cfg: Config, dates: list[str] | None = None) -> list[dict]:
    """Count closed nights again under `cfg`'s rules; return what changed, night by night.

    The open night is left to the recorder, which writes it with its own settings.
    """
    changed = []
    rows = [r for who in store.sleepers() for r in store.nights(sleeper=who)
            if r["closed"] and (dates is None or r["date"] in dates)]
    for row in rows:
        who = row.get("sleeper") or ""
        before = stored_night(store, row["date"], who)
        o = row["origin_utc"]
        movements, _, bed, last = _stored_parts(store, row)
        events, vitals = _stored_breathing(store, row)
        result = NightResult(movements, bed, cfg.series, row["fs"], row["channels"], last - o, events=events,
                             vitals=vitals)
        _queue_scores(store, row["id"], o, result, {})
        store.save_scores(row["id"], result.summary, json.dumps({**result.summary, "scored_with": scored_with(cfg)}))
        diff = {k: (before["summary"].get(k), result.summary[k])
                for k in ("plm_count", "series_count", "plmi", "periodicity_index")
                if before["summary"].get(k) != result.summary[k]}
        changed.append({"date": row["date"], "sleeper": who or None, "changes": diff,
                        "was": before["night"]["scored_with"]})
    store.flush()
    return changed


def _queue_scores(store: Store, night_id: int, origin: float, result: NightResult, written: dict) -> None:
    """Queue a scored night's movements (those whose marks changed) and its series."""
    for m in result.movements:
        if written.get(m.onset_s) == (m.periodic, m.series, m.respiratory):
            continue   # unchanged since the last flush: spare the SD card
        written[m.onset_s] = (m.periodic, m.series, m.respiratory)
        store.save_movement(night_id, origin + m.onset_s, origin + m.offset_s, m.kind, m.channels, m.peak,
                            m.periodic, m.series, m.respiratory)
    store.replace_series(night_id, [{"number": s.id, "onset_utc": origin + s.onset_s, "offset_utc": origin + s.offset_s,
                                     "count": s.count, "mean_imi_s": s.mean_imi_s} for s in result.series])


def _queue_vitals(store: Store, night_id: int, origin: float, result: NightResult, written: dict) -> None:
    """Queue the minutes in bed whose rates changed, the breathing events and the heart's answer to a kick."""
    for v in result.vitals or []:
        if written.get(v["t_s"]) == (v["heart_bpm"], v["breaths_pm"]):
            continue
        written[v["t_s"]] = (v["heart_bpm"], v["breaths_pm"])
        store.save_minute(night_id, origin + v["t_s"], v["heart_bpm"], v["breaths_pm"])
    store.replace_respiratory_events(night_id, [(origin + a, origin + b) for a, b in result.events or []])
    store.save_heart_response(night_id, json.dumps(result.heart_response) if result.heart_response else None)


def stored_pair(store: Store, names: list[str], date: str | None = None) -> list[dict | None]:
    """Two sleepers' stored nights of one date (with none given, the last date either has), each as
    stored_night gives it, with how often each moved just after the other; None for a sleeper with no
    night that date."""
    if date is None:
        dates = [row["date"] for row in (store.night(None, who) for who in names) if row]
        if not dates:
            return [None, None]
        date = max(dates)
    each = [stored_night(store, date, who) for who in names]
    _count_after_other(each)
    return each


def stored_nights_of_both(store: Store, names: list[str], date: str | None = None) -> dict | None:
    """Two sleepers' stored nights in the shape of `analyze --json --sleepers` (DESIGN.md): the first
    one's at the top (the other's if the first has none), each one's in `sleepers`."""
    each = stored_pair(store, names, date)
    if not any(each):
        return None
    top = dict(next(n for n in each if n))
    keys = ("movements", "series", "bed", "summary", "night", "vitals", "respiratory_events", "heart_response")
    empty = {"movements": [], "series": [], "bed": [], "summary": None, "night": None, "vitals": [],
             "respiratory_events": [], "heart_response": None}
    top["sleepers"] = [{"name": who, "channel": k, **({key: n[key] for key in keys} if n else empty)}
                       for k, (who, n) in enumerate(zip(names, each))]
    return top


def _count_after_other(each: list[dict | None]) -> None:
    """Each stored night's after_other marks and counts, from the other's stored movements.

    The two nights may count from different origins (a restart between bedtimes):
    their movements are put on one clock, the earliest origin's, first.
    """
    origins = [dt.datetime.fromisoformat(n["recording"]["start"]).timestamp() if n else None for n in each]
    first = min(o for o in origins if o is not None) if any(each) else 0.0
    shifts = [0.0 if o is None else o - first for o in origins]
    moves = [[Movement(m["onset_s"] + shift, m["offset_s"] + shift, m["kind"]) for m in n["movements"]] if n else []
             for n, shift in zip(each, shifts)]
    for k, (n, shift) in enumerate(zip(each, shifts)):
        if not n:
            continue
        bed = [(b["in_s"] + shift, b["out_s"] + shift) for b in n["bed"]]
        n["summary"].update(after_other(moves[k], moves[1 - k], bed))
        for m, d in zip(moves[k], n["movements"]):
            d["after_other"] = m.after_other


def _iso(utc: float | None) -> str | None:
    return None if utc is None else dt.datetime.fromtimestamp(utc, dt.timezone.utc).isoformat()

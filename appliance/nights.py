"""Nights: from the detector's stream events to rows in the store, and back.

A night starts when someone gets into bed and ends when the bed has been empty for
`night_gap_min` (a trip to the bathroom does not end it). It is keyed by the
evening's date: the local date twelve hours before getting in, so 01:30 on the
24th belongs to the night of the 23rd. Times inside a night are counted from its
origin: the start of the recording session in which the night began, so a
recording replayed through the daemon reads exactly as `analyze` reads it.
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from appliance.config import Config
from appliance.scoring import Movement, NightResult
from appliance.store import Store

if TYPE_CHECKING:      # the pipeline needs numpy; reading a stored night does not
    from appliance.pipeline import Events

EVENING_SHIFT = dt.timedelta(hours=12)


def evening_date(utc: float) -> str:
    """The night's key: local date of (time - 12 h)."""
    return (dt.datetime.fromtimestamp(utc) - EVENING_SHIFT).date().isoformat()


@dataclass
class OpenNight:
    id: int
    date: str
    origin_utc: float
    movements: list[Movement] = field(default_factory=list)   # times relative to origin
    bed: list[list] = field(default_factory=list)             # [in, out or None], relative
    last_s: float = 0.0
    dirty: bool = True
    written: dict = field(default_factory=dict)                # onset -> (periodic, series) as stored


class NightBook:
    """Keeps the open night and writes it to the store in batches."""

    def __init__(self, store: Store, cfg: Config, origin_utc: float, fs: float, channels: int):
        self.store, self.cfg = store, cfg
        self.origin_utc, self.fs, self.channels = origin_utc, fs, channels
        self.gap_s = cfg.store.night_gap_min * 60
        self.night: OpenNight | None = self._resume()

    def _resume(self) -> OpenNight | None:
        """Continue the last night if it is still open and recent (a restart mid-night)."""
        row = self.store.conn.execute(
            "SELECT id, date, origin_utc, last_utc FROM nights WHERE closed = 0 ORDER BY date DESC LIMIT 1").fetchone()
        if not row:
            return None
        nid, date, origin, last = row
        if last is None or self.origin_utc - last > self.gap_s:
            self.store.queue("sql", "nights", ("UPDATE nights SET closed = 1 WHERE id = ?", [nid]))
            return None
        night = OpenNight(nid, date, origin, last_s=last - origin)
        for m in self.store.movements(nid):
            mv = Movement(m["onset_utc"] - origin, m["offset_utc"] - origin, m["kind"], m["channels"], m["peak"])
            night.movements.append(mv)
            night.written[mv.onset_s] = (bool(m["periodic"]), m["series"])
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
        for table, cols in (("movements", ("onset_utc", "offset_utc")), ("series", ("onset_utc", "offset_utc")),
                            ("bed_periods", ("in_utc", "out_utc")),
                            ("nights", ("origin_utc", "start_utc", "end_utc", "last_utc"))):
            sets = ", ".join(f"{c} = {c} + ?" for c in cols)
            key = "id" if table == "nights" else "night_id"
            self.store.queue("sql", table, (f"UPDATE {table} SET {sets} WHERE {key} = ?", [delta] * len(cols) + [n.id]))
        n.dirty = True

    def _get_in(self, utc: float) -> None:
        n = self.night
        if n and n.bed and n.bed[-1][1] is not None and utc - (n.origin_utc + n.bed[-1][1]) > self.gap_s:
            self.close()
            n = None
        if n is None:
            date = evening_date(utc)
            nid = self.store.night_id(date, self.origin_utc, utc, self.fs, self.channels)
            self.night = n = OpenNight(nid, date, self.origin_utc)
            # a night of that date that already exists (a second bedtime) continues
            for b in self.store.bed_periods(nid):
                n.bed.append([b["in_utc"] - n.origin_utc, b["out_utc"] - n.origin_utc if b["out_utc"] else None])
        if not n.bed or n.bed[-1][1] is not None:
            n.bed.append([utc - n.origin_utc, None])
            n.dirty = True

    def close(self) -> None:
        if self.night is None:
            return
        n = self.night
        if n.bed and n.bed[-1][1] is None:
            n.bed[-1][1] = n.last_s
        n.dirty = True
        self.write(closed=True)
        self.night = None

    def write(self, closed: bool = False) -> None:
        """Queue the open night's rows (the store commits them on its next flush)."""
        n = self.night
        if n is None or not n.dirty:
            return
        bed = [(a, b if b is not None else n.last_s) for a, b in n.bed]
        result = NightResult(n.movements, bed, self.cfg, self.fs, self.channels, n.last_s)
        o = n.origin_utc
        for m in result.movements:
            if n.written.get(m.onset_s) == (m.periodic, m.series):
                continue   # unchanged since the last flush: spare the SD card
            n.written[m.onset_s] = (m.periodic, m.series)
            self.store.queue("replace", "movements", {
                "night_id": n.id, "onset_utc": o + m.onset_s, "offset_utc": o + m.offset_s, "kind": m.kind,
                "channels": m.channels, "peak": m.peak, "periodic": int(m.periodic), "series": m.series})
        self.store.queue("sql", "series", ("DELETE FROM series WHERE night_id = ?", [n.id]))
        for s in result.series:
            self.store.queue("insert", "series", {"night_id": n.id, "number": s.id, "onset_utc": o + s.onset_s,
                                                  "offset_utc": o + s.offset_s, "count": s.count,
                                                  "mean_imi_s": s.mean_imi_s})
        for a, b in n.bed:
            self.store.queue("replace", "bed_periods", {"night_id": n.id, "in_utc": o + a,
                                                        "out_utc": None if b is None else o + b})
        s = result.summary
        self.store.queue("upsert", "nights", {
            "id": n.id, "date": n.date, "start_utc": o + n.bed[0][0] if n.bed else None,
            "end_utc": o + bed[-1][1] if bed else None, "last_utc": o + n.last_s, "closed": int(closed),
            "hours_in_bed": s["hours_in_bed"], "lm_count": s["lm_count"], "plm_count": s["plm_count"],
            "series_count": s["series_count"], "plmi": s["plmi"], "lmi": s["lmi"],
            "periodicity_index": s["periodicity_index"], "summary_json": json.dumps(s)})
        n.dirty = False


def stored_night(store: Store, cfg: Config, date: str | None = None) -> dict | None:
    """A stored night in the shape of `kickwatch analyze --json` (plus a 'night' key)."""
    row = store.night(date)
    if row is None:
        return None
    o = row["origin_utc"]
    last = row["last_utc"] if row["last_utc"] is not None else o
    movements = [Movement(m["onset_utc"] - o, m["offset_utc"] - o, m["kind"], m["channels"], m["peak"])
                 for m in store.movements(row["id"])]
    bed = [(b["in_utc"] - o, (b["out_utc"] if b["out_utc"] is not None else last) - o)
           for b in store.bed_periods(row["id"])]
    result = NightResult(movements, bed, cfg, row["fs"], row["channels"], last - o,
                         {"start": dt.datetime.fromtimestamp(o, dt.timezone.utc).isoformat()})
    out = result.as_dict()
    out["night"] = {"date": row["date"], "closed": bool(row["closed"]),
                    "in_bed_from": _iso(row["start_utc"]), "in_bed_until": _iso(row["end_utc"])}
    return out


def _iso(utc: float | None) -> str | None:
    return None if utc is None else dt.datetime.fromtimestamp(utc, dt.timezone.utc).isoformat()

"""The scoring rules of DESIGN.md (WASM/IRLSSG 2016, adapted), as pure functions.

Input: activity segments in seconds and the in-bed periods. Output: movements
classified as LM or large, PLM series, and the night's summary. Both `analyze` and
the stored nights go through here, so a night reads the same either way.

Breathing events (from appliance.detection.breathing_events, or none) make leg movements
respiratory-related by WASM 2016's window (respiratory_related): those are left out
of the periodic sequence, the interval running from the leg movement before to the
one after, and the night's periodic counts are given both ways.

One addition to the written rules: turning over stops and starts, and a pause of
a second or two inside it would, by the offset rule alone, cut it into "leg
movements". Pieces with pauses under `large_pause_s` that together outlast a leg
movement are one large movement (join_large). And in a shared bed (`shared_bed`),
a movement without fast force at the strip came through the mattress from the
partner's side and is not the sleeper's (classify).
"""
from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

from appliance.detection.settings import DetectionConfig, SeriesConfig

ELEVATED_PLMI = 15.0       # periodic movements per hour over which ICSD-3 calls it elevated in adults
IMI_BIN_S = 2.0
MIN_HOURS_FOR_RATE = 1.0   # under an hour in bed a few movements more or less swing a per-hour rate wildly
IMI_HIST_MAX_S = 90.0


@dataclass
class Movement:
    onset_s: float
    offset_s: float
    kind: str = "lm"            # 'lm' or 'large'
    channels: int = 1           # bit mask of the channels that saw it
    peak: float = 0.0           # peak sustained activity over resting level
    periodic: bool = False
    series: int | None = None
    after_other: bool | None = None   # two sleepers: began within AFTER_OTHER_S after an onset of the other's
    respiratory: bool = False   # WASM 2016: near the end of a breathing event (respiratory_related)

    @property
    def duration_s(self) -> float:
        return self.offset_s - self.onset_s

    def as_dict(self) -> dict:
        out = {"onset_s": round(self.onset_s, 2), "offset_s": round(self.offset_s, 2), "kind": self.kind,
               "periodic": self.periodic, "series": self.series, "channels": self.channels,
               "peak": round(self.peak, 1), "respiratory": self.respiratory}
        if self.after_other is not None:
            out["after_other"] = self.after_other
        return out


@dataclass
class Series:
    id: int
    onset_s: float
    offset_s: float
    count: int
    mean_imi_s: float = 0.0

    def as_dict(self) -> dict:
        return {"id": self.id, "onset_s": round(self.onset_s, 2), "offset_s": round(self.offset_s, 2),
                "count": self.count, "mean_imi_s": round(self.mean_imi_s, 1)}


@dataclass
class Stretch:
    """A stretch of activity in seconds, on one channel or merged across channels, before scoring."""

    onset: float
    offset: float
    channels: int = 1            # bit mask of the channels that saw it
    peak: float = 0.0            # peak sustained activity / resting level
    body: float = 0.0            # median sustained activity inside / resting level
    fast: float | None = None    # mean fast force inside / its resting level (measured in a shared bed)

    def joined(self, other: "Stretch") -> "Stretch":
        """The two as one stretch: from the first onset to the last offset, the stronger measures."""
        fast = None if self.fast is None and other.fast is None else max(self.fast or 0.0, other.fast or 0.0)
        return Stretch(min(self.onset, other.onset), max(self.offset, other.offset), self.channels | other.channels,
                       max(self.peak, other.peak), max(self.body, other.body), fast)


def merge_channels(per_channel: list[list[Stretch]], gap_s: float) -> list[Stretch]:
    """Movements from two channels that overlap or lie closer than `gap_s` are one.

    Returns the stretches of all channels sorted by onset, merged where they touch.
    """
    items = sorted((s for segs in per_channel for s in segs), key=lambda s: (s.onset, s.offset))
    merged: list[Stretch] = []
    for s in items:
        if len(per_channel) > 1 and merged and s.onset - merged[-1].offset < gap_s:
            merged[-1] = merged[-1].joined(s)
        else:
            merged.append(s)
    return merged


def join_large(items: list[Stretch], pause_s: float, cfg: DetectionConfig) -> list[Stretch]:
    """Pieces of activity with pauses under `pause_s` between them that together last longer
    than a leg movement can are one large movement.

    Turning over stops and starts: a pause of a second leaves the body half turned,
    and a scorer watching calls the whole one body movement, not a run of kicks.
    Takes and returns merge_channels' stretches, sorted.
    """
    out: list[Stretch] = []
    run: list[Stretch] = []
    end = 0.0
    for item in items + [None]:
        if run and (item is None or item.onset - end >= pause_s):
            out.extend(_as_one_if_large(run, cfg))
            run = []
        if item is not None:
            end = max(end, item.offset) if run else item.offset
            run.append(item)
    return out


def _as_one_if_large(run: list[Stretch], cfg: DetectionConfig) -> list[Stretch]:
    if len(run) == 1:
        return run
    joined = run[0]
    for s in run[1:]:
        joined = joined.joined(s)
    return [joined] if classify(joined.onset, joined.offset, joined.channels, cfg) == "large" else run


def classify(onset: float, offset: float, mask: int, cfg: DetectionConfig, body: float | None = None,
             fast: float | None = None) -> str | None:
    """'lm', 'large', or None for activity that is too short, or not sustained, to score.

    `body` is the median sustained activity inside the stretch over the resting
    level: a leg moving keeps it high throughout; a stretch that only a burst at
    one end lifted over the onset margin does not. `fast` is its fast force over
    that band's resting level: in a shared bed, a movement without it came through
    the mattress from the other side.
    """
    dur = offset - onset
    combined = bin(mask).count("1") > 1
    longest = cfg.combined_max_s if combined else cfg.lm_max_s
    if dur < cfg.lm_min_s:
        return None
    if dur > longest:
        return "large"
    if body is not None and body < cfg.min_sustained:
        return None
    if through_mattress(fast, cfg):
        return None
    return "lm"


def through_mattress(fast: float | None, cfg: DetectionConfig) -> bool:
    """In a shared bed: a movement without fast force at the strip came from the partner's side."""
    return cfg.shared_bed and fast is not None and fast < cfg.min_fast


def bed_periods(changes: list[tuple[float, str]], end_s: float) -> list[tuple[float, float]]:
    """Turn a list of (time, 'in'/'out') into in-bed periods."""
    out, since = [], None
    for t, what in changes:
        if what == "in" and since is None:
            since = t
        elif what == "out" and since is not None:
            out.append((since, t))
            since = None
    if since is not None:
        out.append((since, end_s))
    return [(a, b) for a, b in out if b > a]


def in_any(t0: float, t1: float, periods: list[tuple[float, float]]) -> bool:
    return any(t0 < b and t1 > a for a, b in periods)


RESPIRATORY_BEFORE_S = 2.0    # WASM 2016: from this long before the end of a breathing event...
RESPIRATORY_AFTER_S = 10.25   # ...to this long after it, a movement is respiratory-related


def respiratory_related(onset: float, offset: float, events: list[tuple[float, float]]) -> bool:
    """WASM 2016: the onset or the offset lies from 2.0 s before to 10.25 s after the end of a
    breathing event (both ends included), or the movement spans that window."""
    for _, end in events:
        lo, hi = end - RESPIRATORY_BEFORE_S, end + RESPIRATORY_AFTER_S
        if lo <= onset <= hi or lo <= offset <= hi or (onset < lo and offset > hi):
            return True
    return False


def mark_respiratory(movements: list[Movement], events: list[tuple[float, float]]) -> None:
    """Flag, in place, every movement that is respiratory-related by the events."""
    for m in movements:
        m.respiratory = respiratory_related(m.onset_s, m.offset_s, events)


def _in_sequence(m: Movement, with_respiratory: bool) -> bool:
    """Whether a movement takes part in the periodic sequence: a large one does (it ends a series),
    a respiratory-related leg movement does only when they are kept in."""
    return m.kind != "lm" or with_respiratory or not m.respiratory


def periodic_runs(movements: list[Movement], cfg: SeriesConfig, bed: list[tuple[float, float]] | None = None,
                  with_respiratory: bool = False) -> list[list[Movement]]:
    """The PLM series as runs of movements: >= min_count consecutive LMs, every IMI within bounds.

    A large movement, an IMI out of bounds, or leaving the bed ends a series.
    Respiratory-related LMs are left out of the sequence unless `with_respiratory`.
    """
    runs: list[list[Movement]] = []
    run: list[Movement] = []

    def end_run():
        nonlocal run
        if len(run) >= cfg.min_count:
            runs.append(run)
        run = []

    for m in sorted(movements, key=lambda m: m.onset_s):
        if not _in_sequence(m, with_respiratory):
            continue
        if m.kind != "lm":
            end_run()
            continue
        if run:
            imi = m.onset_s - run[-1].onset_s
            crosses_out = bed is not None and _period_of(run[-1].onset_s, bed) != _period_of(m.onset_s, bed)
            if not (cfg.imi_min_s <= imi <= cfg.imi_max_s) or crosses_out:
                end_run()
        run.append(m)
    end_run()
    return runs


def find_series(movements: list[Movement], cfg: SeriesConfig, bed: list[tuple[float, float]] | None = None) -> list[Series]:
    """Mark PLM series in place (respiratory-related LMs left out, as WASM 2016 asks)."""
    for m in movements:
        m.periodic, m.series = False, None
    series = []
    for i, r in enumerate(periodic_runs(movements, cfg, bed), start=1):
        for m in r:
            m.periodic, m.series = True, i
        mean_imi = (r[-1].onset_s - r[0].onset_s) / (len(r) - 1)
        series.append(Series(i, r[0].onset_s, r[-1].offset_s, len(r), mean_imi))
    return series


def _period_of(t: float, bed: list[tuple[float, float]]) -> int:
    for i, (a, b) in enumerate(bed):
        if a <= t <= b:
            return i
    return -1


def intervals(movements: list[Movement], bed: list[tuple[float, float]] | None = None) -> list[list[float]]:
    """IMIs (onset to onset) between consecutive LMs, in runs broken by large movements and by leaving the
    bed; respiratory-related LMs are left out of the sequence."""
    runs, cur, last = [], [], None
    for m in sorted(movements, key=lambda m: m.onset_s):
        if not _in_sequence(m, False):
            continue
        if m.kind != "lm" or (last is not None and bed is not None and _period_of(last.onset_s, bed) != _period_of(m.onset_s, bed)):
            if cur:
                runs.append(cur)
            cur, last = [], (m if m.kind == "lm" else None)
            continue
        if last is not None:
            cur.append(m.onset_s - last.onset_s)
        last = m
    if cur:
        runs.append(cur)
    return runs


def periodicity_index(imi_runs: list[list[float]], lo: float = 10.0, hi: float = 90.0) -> float | None:
    """Ferri 2006: the share of IMIs that are lo-hi s long and stand in a run of >= 3 such IMIs."""
    total = sum(len(r) for r in imi_runs)
    if total == 0:
        return None
    periodic = 0
    for r in imi_runs:
        streak = 0
        for imi in r + [None]:
            if imi is not None and lo <= imi <= hi:
                streak += 1
                continue
            if streak >= 3:
                periodic += streak
            streak = 0
    return periodic / total


def summarise(movements: list[Movement], series: list[Series], bed: list[tuple[float, float]],
              cfg: SeriesConfig, events: list[tuple[float, float]] | None = None,
              vitals: list[dict] | None = None) -> dict:
    """The night's summary: the DESIGN.md keys, and more.

    `events` are the breathing events and `vitals` the minutes in bed with their heart and
    breathing rates (appliance.detection.breathing_events, .vitals); None where not measured (a night
    stored before kickwatch measured them), which makes their figures null.
    """
    hours = sum(b - a for a, b in bed) / 3600.0
    lms = [m for m in movements if m.kind == "lm"]
    plm = [m for m in lms if m.periodic]
    with_resp = sum(len(r) for r in periodic_runs(movements, cfg, bed, with_respiratory=True))
    runs = intervals(movements, bed)
    flat = [x for r in runs for x in r]
    hist = _histogram(flat, IMI_BIN_S, int(IMI_HIST_MAX_S / IMI_BIN_S))
    log_width = math.log(300) / 30
    log_edges = [k * log_width for k in range(31)]
    log_hist = _histogram([math.log(x) for x in flat if x > 0], log_width, 30)
    pi = periodicity_index(runs, cfg.imi_min_s, cfg.imi_max_s)

    measured = hours >= MIN_HOURS_FOR_RATE

    def rate(k):
        return round(k / hours, 1) if measured else None

    return {
        "hours_in_bed": round(hours, 2),
        "lm_count": len(lms),
        "plm_count": len(plm),
        "series_count": len(series),
        "plmi": rate(len(plm)),
        "lmi": rate(len(lms)),
        "periodicity_index": round(pi, 2) if pi is not None else None,
        "plm_count_with_respiratory": with_resp,
        "plmi_with_respiratory": rate(with_resp),
        "respiratory_count": sum(1 for m in lms if m.respiratory),
        "rei": rate(len(events)) if events is not None else None,
        "respiratory_event_count": len(events) if events is not None else None,
        **vitals_summary(vitals),
        "large_count": sum(1 for m in movements if m.kind == "large"),
        "series_lengths": [s.count for s in series],
        "imi_histogram": {"bin_s": IMI_BIN_S, "counts": hist},
        "log_imi_histogram": {"edges_ln_s": [round(x, 3) for x in log_edges], "counts": log_hist},
        "denominator": "time in bed (no EEG, so not sleep time)",
        "not_measured": None if measured else not_measured_reason(hours),
    }


def vitals_summary(vitals: list[dict] | None) -> dict:
    """DESIGN.md's "Heart and breathing": the medians over the minutes that have each, and the
    share of minutes in bed with a heart rate (null when nothing was measured)."""
    minutes = vitals or []
    hearts = [v["heart_bpm"] for v in minutes if v["heart_bpm"] is not None]
    breaths = [v["breaths_pm"] for v in minutes if v["breaths_pm"] is not None]
    return {"heart_bpm": round(_median(hearts), 1) if hearts else None,
            "breaths_pm": round(_median(breaths), 1) if breaths else None,
            "vitals_coverage": round(len(hearts) / len(minutes), 3) if minutes else None}


def _median(values: list[float]) -> float:
    v = sorted(values)
    mid = len(v) // 2
    return v[mid] if len(v) % 2 else (v[mid - 1] + v[mid]) / 2


AFTER_OTHER_S = 10.0   # a movement this soon after the other sleeper's onset came "after the other"


def after_other(mine: list[Movement], theirs: list[Movement], bed: list[tuple[float, float]],
                window_s: float = AFTER_OTHER_S) -> dict:
    """Mark each of `mine` that began after an onset of `theirs` and at most `window_s` after it.

    Returns the count and what chance alone would give: my movement count times the
    share of my time in bed that lies within `window_s` after an onset of theirs. A
    measurement of movement, not of waking.
    """
    onsets = sorted(m.onset_s for m in theirs)
    count = 0
    for m in mine:
        before = bisect.bisect_left(onsets, m.onset_s)     # their onsets strictly before this one
        m.after_other = before > 0 and m.onset_s - onsets[before - 1] <= window_s
        count += m.after_other
    covered = _union([(t, t + window_s) for t in onsets])
    in_bed = sum(b - a for a, b in bed)
    exposed = sum(max(0.0, min(b, d) - max(a, c)) for a, b in bed for c, d in covered)
    expected = len(mine) * exposed / in_bed if in_bed > 0 else 0.0
    return {"after_other_count": count, "after_other_expected": round(expected, 1)}


def _union(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def not_measured_reason(hours: float) -> str:
    """Why the per-hour rates are null, in one sentence."""
    if hours <= 0:
        return "Nobody was in bed, so there is no per-hour rate."
    return (f"Only {hours * 60:.0f} minutes in bed: a per-hour rate needs at least "
            f"{MIN_HOURS_FOR_RATE * 60:.0f} minutes in bed to mean anything.")


class NightResult:
    """Movements, series and bed periods of one stretch of recording, scored.

    `events` (breathing events, (onset, offset) in seconds) make leg movements
    respiratory-related before the series are found; `vitals` are the minutes in bed
    with their heart and breathing rates. Either is None where it was not measured.
    """

    def __init__(self, movements: list[Movement], bed: list[tuple[float, float]], series: SeriesConfig,
                 fs: float, channels: int, duration_s: float, extra: dict | None = None,
                 events: list[tuple[float, float]] | None = None, vitals: list[dict] | None = None,
                 heart_response: dict | None = None):
        self.movements = sorted(movements, key=lambda m: m.onset_s)
        self.bed = bed
        self.events, self.vitals, self.heart_response = events, vitals, heart_response
        mark_respiratory(self.movements, events or [])
        self.series = find_series(self.movements, series, bed)
        self.summary = summarise(self.movements, self.series, bed, series, events, vitals)
        self.fs, self.channels, self.duration_s = fs, channels, duration_s
        self.extra = extra or {}

    def as_dict(self) -> dict:
        out = {
            "recording": {"fs": self.fs, "channels": self.channels, "duration_s": round(self.duration_s, 2),
                          **self.extra},
            "movements": [m.as_dict() for m in self.movements],
            "series": [s.as_dict() for s in self.series],
            "summary": self.summary,
            "bed": [{"in_s": round(a, 2), "out_s": round(b, 2)} for a, b in self.bed],
        }
        if self.vitals is not None:
            out["vitals"] = self.vitals
        if self.events is not None:
            out["respiratory_events"] = [{"onset_s": round(a, 2), "offset_s": round(b, 2)} for a, b in self.events]
        if self.heart_response is not None:
            out["heart_response"] = self.heart_response
        return out


def _histogram(values: list[float], width: float, bins: int) -> list[int]:
    """Counts in bins [k w, (k+1) w) from zero, the last bin closed; values outside are left out.

    Plain Python, so reading a stored night does not import numpy.
    """
    counts = [0] * bins
    top = width * bins
    for x in values:
        if 0 <= x <= top:
            counts[min(int(x / width), bins - 1)] += 1
    return counts


SLEEPER_KEYS = ("movements", "series", "bed", "summary", "vitals", "respiratory_events", "heart_response")


class CoupleResult:
    """Two sleepers' nights from one recording, each with how often they moved just after the other."""

    def __init__(self, nights: list[NightResult], names: list[str]):
        self.nights, self.names = nights, list(names)
        for k, night in enumerate(nights):
            night.summary.update(after_other(night.movements, nights[1 - k].movements, night.bed))

    def as_dict(self) -> dict:
        """DESIGN.md's "Two sleepers": the first sleeper's night at the top level, and each one's."""
        each = [night.as_dict() for night in self.nights]
        top = dict(each[0])
        top["sleepers"] = [{"name": name, "channel": k, **{key: d[key] for key in SLEEPER_KEYS if key in d}}
                           for k, (name, d) in enumerate(zip(self.names, each))]
        return top

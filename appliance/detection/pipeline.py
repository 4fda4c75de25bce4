"""The one detector that both the daemon and `analyze` run: samples in, movements and bed changes out.

Per channel a ChannelDetector finds activity; here the channels are merged (the
two-channel rule), each movement is classified (LM or large), the bed tracker
says when someone is in bed, and movements are released once everything that
could still change them is known. Movements where no one is in bed, or touching a
flat (unplugged or stuck) stretch of signal, are not scored.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from itertools import accumulate

import numpy as np

from appliance.detection.clipping import ClipCounter, at_rails
from appliance.detection.detector import ChannelDetector, Tick
from appliance.detection.errors import CannotMeasure
from appliance.detection.occupancy import BedTracker, QuietState
from appliance.detection.settings import DetectionConfig
from appliance.detection.scoring import Movement, Stretch, classify, in_any, join_large, merge_channels

# The detector works in 0.1 s frames and looks at force up to 10 Hz beside mains hum
# nulled at 50 and 60 Hz; the config, the simulator and the tests span 100-500 Hz.
MIN_FS = 100.0


def check_rate(fs: float) -> None:
    """Refuse a sample rate that cannot show a leg movement, rather than report none."""
    if fs < MIN_FS:
        raise CannotMeasure(f"the recording has {fs:g} samples per second, too few to see a leg movement: "
                            f"kickwatch needs at least {MIN_FS:g} (it was built and checked at {MIN_FS:g}-500); "
                            "record at a higher rate")


FLAT_MARGIN_S = 1.0
BED_CHANGE_MARGIN_S = 2.0
PROVISIONAL_LAG_S = 30.0


def at_a_bed_change(m: Movement, times: list[float]) -> bool:
    """A movement this near a change of bed (getting in or out) is a large movement, whatever its length."""
    return any(m.onset_s - BED_CHANGE_MARGIN_S <= t <= m.offset_s + BED_CHANGE_MARGIN_S for t in times)


@dataclass
class Health:
    """Sensor health over the stream so far."""

    samples: int = 0
    gap_samples: int = 0
    clipped_samples: int = 0
    flat_ticks: int = 0
    ticks: int = 0
    last_rest: float = 0.0
    last_level: float = 0.0
    flat_now: bool = False
    busy_recent: float = 0.0   # share of the last minute's seconds with activity over the onset margin


    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass
class Events:
    """What one call to feed() or finish() produced."""

    movements: list[Movement] = field(default_factory=list)
    bed_changes: list[tuple[float, str]] = field(default_factory=list)


class StreamDetector:
    def __init__(self, fs: float, channels: int, detection: DetectionConfig | None = None,
                 empty_ref: QuietState | None = None, rails: tuple[float, float] | None = None,
                 provisional_after_s: float | None = None, keep_frames: bool = False, whole: bool = False):
        check_rate(fs)
        self.rules = detection or DetectionConfig()
        self.fs = float(fs)
        self.n_channels = channels
        self.chans = [ChannelDetector(fs, self.rules, keep_frames) for _ in range(channels)]
        self.tick_s = self.chans[0].tick_s
        self.frame_s = self.chans[0].frame_s
        self.bed = BedTracker(self.tick_s, self.rules.bed_confirm_s, empty_ref)
        self.rails = rails
        self._clips = ClipCounter(channels)    # clipping seen in the samples, where the rails are not known
        # a live start mid-night with no empty-bed reference: after this long, assume someone is in
        # bed (movements need a body) rather than hold everything until they get up
        self.provisional_after_s = provisional_after_s
        # whole: release movements whether or not this tracker says someone is in bed (for a reader that
        # decides the bed from more than this one strip: appliance.detection.sleepers)
        self.whole = whole
        self.health = Health()
        self._pool: list[Stretch] = []   # each channel's activity, not yet scored
        self._held: list[Movement] = []
        self._flat_ticks: list[int] = []
        self._recent_quiet: deque = deque(maxlen=60)
        self._changes_sent = 0
        self._initial_sent = False

    @property
    def samples_seen(self) -> int:
        return self.health.samples

    def feed(self, samples: np.ndarray, gap_samples: int = 0, raw: np.ndarray | None = None) -> Events:
        """`raw`: the strip's own samples, where `samples` were worked on first (another sleeper's share
        taken off): clipping, a flat stretch and the ADC's step are facts about the ADC's own readings."""
        samples = np.asarray(samples, dtype=np.float64)
        if samples.ndim == 1:
            samples = samples[:, None]
        raw = None if raw is None else np.asarray(raw, dtype=np.float64).reshape(samples.shape)
        readings = samples if raw is None else raw
        if samples.shape[1] != self.n_channels:
            raise ValueError(f"expected {self.n_channels} channels, got {samples.shape[1]}")
        self.health.samples += samples.shape[0]
        self.health.gap_samples += gap_samples
        if self.rails is not None:
            self.health.clipped_samples += int(np.count_nonzero(at_rails(readings, self.rails)))
        else:
            self.health.clipped_samples += self._clips.count(readings)
        for c, det in enumerate(self.chans):
            det.feed(samples[:, c], None if raw is None else raw[:, c])
        return self._collect(final=False)

    def finish(self) -> Events:
        for det in self.chans:
            det.finish()
        self._take_ticks()
        self.bed.finish()
        return self._collect(final=True)

    @property
    def end_s(self) -> float:
        return self.health.samples / self.fs

    # -- internals --------------------------------------------------------
    def _collect(self, final: bool) -> Events:
        self._take_ticks()
        for c, det in enumerate(self.chans):
            self._pool.extend(Stretch(s.onset * self.frame_s, s.offset * self.frame_s, 1 << c, s.peak, s.body, s.fast)
                              for s in det.segments)
            del det.segments[:]
        det_cfg = self.rules
        joins = max(det_cfg.merge_gap_s, det_cfg.large_pause_s)   # how close a later piece may still join
        safe = float("inf") if final else min(self._safe_s(det) for det in self.chans) - joins
        self._pool.sort(key=lambda p: (p.onset, p.offset, p.channels))
        ready = [p for p in self._pool if p.offset < safe]
        if ready and not final:
            # a group is ready only if nothing still pending could join it
            cut = len(ready)
            ends = list(accumulate((r.offset for r in ready), max))   # the latest offset up to each
            while cut and any(q.onset - ends[cut - 1] < joins for q in self._pool[cut:]):
                cut -= 1
            ready = ready[:cut]
        self._pool = self._pool[len(ready):]
        per_channel = [[s for s in ready if s.channels == 1 << ch] for ch in range(self.n_channels)]
        merged = merge_channels(per_channel, det_cfg.merge_gap_s)
        for s in join_large(merged, det_cfg.large_pause_s, det_cfg):
            kind = classify(s.onset, s.offset, s.channels, det_cfg, s.body, s.fast)
            if kind is not None:
                self._held.append(Movement(s.onset, s.offset, kind, s.channels, s.peak))
        return self._release(final)

    def _safe_s(self, det: ChannelDetector) -> float:
        onset = det.open_onset_s
        return onset if onset is not None else det.processed_s - FLAT_MARGIN_S

    def _take_ticks(self) -> None:
        n = min(len(det.ticks) for det in self.chans)
        if n == 0:
            return
        if len(self.chans) == 1:
            ticks = self.chans[0].ticks[:n]
        else:
            ticks = [Tick(per[0].index, sum(p.level for p in per), max(p.spread for p in per),
                          max(p.energy for p in per), max(p.rest for p in per),
                          all(p.quiet for p in per), any(p.flat for p in per), max(p.floor for p in per))
                     for per in zip(*(det.ticks[:n] for det in self.chans))]
        for t in ticks:
            self.bed.add(t)
        flat = [t.index for t in ticks if t.flat]
        self._recent_quiet.extend(t.quiet for t in ticks)
        last = ticks[-1]
        self.health.busy_recent = 1.0 - sum(self._recent_quiet) / len(self._recent_quiet)
        self.health.ticks += n
        self.health.flat_now = last.flat
        self.health.flat_ticks += len(flat)
        self.health.last_rest, self.health.last_level = last.rest, last.level
        for det in self.chans:
            del det.ticks[:n]
        self._flat_ticks = (self._flat_ticks + flat)[-10_000:]

    def _touches_flat(self, m: Movement) -> bool:
        a = int((m.onset_s - FLAT_MARGIN_S) / self.tick_s)
        b = int((m.offset_s + FLAT_MARGIN_S) / self.tick_s)
        return any(a <= i <= b for i in self._flat_ticks)

    def _release(self, final: bool) -> Events:
        out = Events()
        until = self.end_s if final else self.bed.resolved_until_s
        provisional = (not final and self.bed.state is None and self.provisional_after_s is not None
                       and self.end_s > self.provisional_after_s)
        if provisional:
            until = self.end_s - PROVISIONAL_LAG_S
        periods = self.bed.periods(self.end_s if final else until)
        keep = []
        for m in self._held:
            # held until no bed change can still be placed near it
            if m.offset_s + BED_CHANGE_MARGIN_S <= until or final:
                if at_a_bed_change(m, [t for t, _ in self.bed.changes]):
                    m.kind = "large"   # getting in or out of bed
                if (self.whole or in_any(m.onset_s, m.offset_s, periods)) and not self._touches_flat(m):
                    out.movements.append(m)
            else:
                keep.append(m)
        self._held = keep
        if final or self.bed.state is not None or provisional:
            if not self._initial_sent:
                if (self.bed.initial or "in") == "in":
                    out.bed_changes.append((0.0, "in"))
                self._initial_sent = True
            new = self.bed.changes[self._changes_sent:]
            out.bed_changes.extend(new)
            self._changes_sent += len(new)
        return out

"""The rules of detection and of PLM series: settings the science needs, with their bounds and why.

They are dataclasses of their own so that the science takes only them, never the
household's whole config; `appliance.config` reads them from the [detection] and
[series] sections of kickwatch.toml.
"""
from __future__ import annotations

from dataclasses import dataclass, field


def setting(default, doc: str, lo=None, hi=None, choices=None, item=int):
    """A field with its doc and bounds; a list's items are of type `item`."""
    meta = {"doc": doc, "lo": lo, "hi": hi, "choices": choices, "item": item}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class DetectionConfig:
    onset_margin: float = setting(2.2, "onset: sustained activity above its resting level (what a still "
                                       "sleeper's heart does) by this many times it", 0.5, 50.0)
    offset_margin: float = setting(1.0, "edges: sustained activity under resting level plus this many times it", 0.1, 20.0)
    min_sustained: float = setting(1.5, "a leg movement's median sustained activity is at least this many times "
                                        "the resting level", 0.0, 20.0)
    offset_quiet_s: float = setting(0.5, "an offset needs this long under the offset margin, seconds", 0.1, 5.0)
    rest_window_s: float = setting(30.0, "resting level: the median of each second's peak activity over this "
                                         "long, seconds", 10.0, 600.0)
    lm_min_s: float = setting(0.5, "shortest leg movement, seconds", 0.1, 5.0)
    lm_max_s: float = setting(10.0, "longest leg movement; longer is a large movement, seconds", 2.0, 30.0)
    combined_max_s: float = setting(15.0, "longest combined two-channel movement, seconds", 2.0, 60.0)
    merge_gap_s: float = setting(0.5, "two-channel movements closer than this are one, seconds", 0.0, 5.0)
    large_pause_s: float = setting(3.0, "activity that goes on longer than a leg movement can, with pauses "
                                        "shorter than this, is one large movement (turning over), seconds",
                                   0.0, 10.0)
    shared_bed: bool = setting(False, "someone else sleeps in this bed: count only movements that bring fast force "
                                      "to the strip, not the slow sway that comes through the mattress from the "
                                      "other side (a slow, gentle leg movement of the sleeper's may be missed too)")
    min_fast: float = setting(3.5, "in a shared bed, a leg movement's fast force (4-10 Hz) is at least this many "
                                   "times its resting level (what the sleeper's heart brings)", 1.0, 50.0)
    bed_confirm_s: float = setting(10.0, "quiet seconds needed to confirm getting in or out of bed", 3.0, 120.0)


@dataclass
class SeriesConfig:
    imi_min_s: float = setting(10.0, "shortest interval between movements in a PLM series (AASM: 5)", 1.0, 60.0)
    imi_max_s: float = setting(90.0, "longest interval between movements in a PLM series", 20.0, 300.0)
    min_count: int = setting(4, "fewest movements in a PLM series", 2, 20)


@dataclass
class Rules:
    """Both sets of rules, as a night is counted with them (the household's Config has the same two)."""

    detection: DetectionConfig = field(default_factory=DetectionConfig)
    series: SeriesConfig = field(default_factory=SeriesConfig)

"""A night scored whole: its movements and bed with what its minutes say of heart and breathing.

Both `analyze` and the daemon's night book go through here, so a night reads the same either way.
"""
from __future__ import annotations

from appliance.detection.breathing_events import breathing_events
from appliance.detection.heart_response import heart_response
from appliance.detection.scoring import NightResult
from appliance.detection.vitals import Minute, vitals_of


def score_night(minutes: list[Minute], movements, bed, series_cfg, fs: float, channels: int, duration_s: float,
                extra: dict | None = None, kept_events=(), kept_vitals=(), others=()):
    """A night scored with its breathing events, minutes in bed and the heart's answer to a kick.

    `kept_events` and `kept_vitals` are what was found before `minutes` begin (a daemon that
    restarted mid-night keeps its stored part of the night and reads on from there). `others`
    are the other sleeper's movements, with two in the bed: they reach this strip through the
    mattress, so a minute they touch is no still minute here either.
    """
    disturbed = list(movements) + list(others)
    events = list(kept_events) + breathing_events(minutes, disturbed, bed)
    vitals = list(kept_vitals) + vitals_of(minutes, disturbed, bed)
    night = NightResult(movements, bed, series_cfg, fs, channels, duration_s, extra, events=events, vitals=vitals)
    night.heart_response = heart_response(minutes, night.movements, others)   # once the series say which are periodic
    return night

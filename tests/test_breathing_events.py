"""Breathing events from the breathing envelope: the level they are measured against and where they begin and end."""
from __future__ import annotations

import numpy as np

from appliance.detection.breathing_events import breathing_events
from appliance.detection.vitals import BREATH_FS, Minute


def _minutes(depth: np.ndarray) -> list[Minute]:
    per = int(60 * BREATH_FS)
    return [Minute(60.0 * k, None, None, np.full(60, np.nan), depth[k * per:(k + 1) * per]) for k in range(len(depth) // per)]


def _ramp_to(depth: np.ndarray, t_s: float, value: float, ramp_s: float = 1.0) -> None:
    """From t_s on, the depth goes to `value`, over ramp_s centred on t_s (breathing fades over a breath)."""
    i = int(t_s * BREATH_FS)
    half = int(ramp_s * BREATH_FS / 2)
    before = depth[i - half - 1]
    depth[i - half:i + half] = np.linspace(before, value, 2 * half + 2)[1:-1]
    depth[i + half:] = value


def _episode(events: list[tuple[float, float]], inside: float, minutes: int = 12) -> np.ndarray:
    """Breathing at the sleeper's own depth 1, events at `inside`, each ended by two deep recovery breaths."""
    depth = np.ones(int(minutes * 60 * BREATH_FS))
    for a, b in events:
        _ramp_to(depth, a, inside)
        _ramp_to(depth, b, 2.5)
        _ramp_to(depth, b + 8.0, 1.0)
    return depth


def test_a_shallow_event_ends_at_the_first_deep_breath_and_begins_at_the_last_normal_one():
    # half the level alone is crossed late in a fall to a third and early in a rise to 2.5 times
    true = [(300.0, 311.0)]
    found = breathing_events(_minutes(_episode(true, inside=0.35)), [], [(0.0, 720.0)])
    assert len(found) == 1
    (a, b), = found
    assert abs(a - 300.0) <= 0.3 and abs(b - 311.0) <= 0.3


def test_a_kick_inside_a_pause_does_not_end_it_when_the_movement_that_ends_it_follows_close():
    # the pause runs 300-320 s; a kick at 311.5-313 s, and the arousal's movement at 316-318 s, whose
    # margins leave no breathing known between them: what is seen between them is still paused
    from appliance.detection.scoring import Movement

    depth = _episode([(300.0, 318.0)], inside=0.05)
    depth[int(311.5 * BREATH_FS):int(313 * BREATH_FS)] = 0.6      # the kick shows in the band while it lasts
    kicks = [Movement(311.5, 313.0, "lm"), Movement(316.0, 318.0, "lm")]
    (a, b), = breathing_events(_minutes(depth), kicks, [(0.0, 720.0)])
    assert abs(a - 300.0) <= 0.3
    assert abs(b - 316.0) <= 0.3       # at the later one's onset, not the kick's

    # with the breathing back between them, the first one ended it
    depth[int(314.5 * BREATH_FS):int(315 * BREATH_FS)] = 2.5
    (a, b), = breathing_events(_minutes(depth), kicks, [(0.0, 720.0)])
    assert abs(b - 311.5) <= 0.3


def test_a_row_of_shallow_events_filling_most_of_the_night_is_measured_against_the_breaths_between():
    # 30 minutes in which the breathing is shallow (0.3 deep) for 40 s of every minute: the night's
    # median depth is a pause's, and half of it would count the pauses as breaths and lower the bar
    true = [(float(a), float(a + 40)) for a in range(60, 30 * 60 - 60, 60)]
    found = breathing_events(_minutes(_episode(true, inside=0.3, minutes=30)), [], [(0.0, 1800.0)])
    assert len(found) >= len(true) - 2          # the first ones have no two minutes of breaths before them yet
    assert all(any(abs(a - c) <= 2.0 and abs(b - d) <= 1.0 for c, d in true) for a, b in found)


def test_a_pause_that_goes_on_beside_the_kick_near_its_end_is_an_event_though_less_than_10_s_is_seen_before_it():
    # the pause runs 300-312 s and the arousal's kick comes at 308-310 s: its two-second margins leave
    # only 300-306 s plainly seen, but the breathing band beside the kick is still paused on both sides
    # (a movement only adds to the band), so the pause went on under it
    from appliance.detection.scoring import Movement

    depth = _episode([(300.0, 312.0)], inside=0.05)
    depth[int(308 * BREATH_FS):int(310 * BREATH_FS)] = 0.6      # the kick shows in the band while it lasts
    kick = [Movement(308.0, 310.0, "lm")]
    (a, b), = breathing_events(_minutes(depth), kick, [(0.0, 720.0)])
    assert abs(a - 300.0) <= 0.3 and abs(b - 312.0) <= 0.5

    # with the breathing back as soon as the kick is over, the pause ended with it: 8 s, no event
    depth[int(310 * BREATH_FS):int(312 * BREATH_FS)] = 2.5
    assert breathing_events(_minutes(depth), kick, [(0.0, 720.0)]) == []

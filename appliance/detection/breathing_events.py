"""Breathing pauses: stretches of at least 10 s in which the breathing movement the strip sees
stops or falls well below the sleeper's own level just before.

The strip feels breathing effort, not airflow. A central pause stops the movement; an
obstructed breath (chest and belly moving against each other) shrinks the net movement
at the strip; a shallow stretch is smaller breaths. All three show as the breathing
band's envelope (appliance.detection.vitals, five times a second) falling under half
of what it was: that is what is found here, and nothing here calls it an apnea.
"""
from __future__ import annotations

import numpy as np

from appliance.detection.vitals import BREATH_FS, MOVEMENT_MARGIN_S, Minute

EVENT_MIN_S = 10.0          # a breathing event lasts at least this long (DESIGN.md)
EVENT_DEPTH = 0.5           # breathing under this share of the sleeper's own level just before
BREATH_QUANTILE = 75        # a breath: deeper than EVENT_DEPTH of the night's depth at this percentile
BASELINE_S = 120.0          # "just before": the level over the two minutes before...
EVENT_BRIDGE_S = 1.0        # a blip this short does not end an event
TRANSITION_S = 1.0          # an event's edges are looked for this far out from where it crossed the bar
RECOVERY_LOOK_S = 4.0       # the breaths that end an event: in this long after it


def breathing_events(minutes: list[Minute], movements, bed: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Stretches of at least 10 s in bed in which the breathing envelope stays under half the sleeper's
    own level over the two minutes before.

    The level is the median depth of the breaths in those two minutes, the pauses among them left
    out (a pause is no breath), so a row of events does not lower the bar for the next. A breath is
    what is deeper than half the night's upper quartile of depth (BREATH_QUANTILE): on a night with
    ten events an hour the median depth is itself nearly a pause's, and half of it let the shallow
    pauses count as breaths; the upper quartile is breathing unless the pauses fill three quarters
    of the night.

    A movement hides the breathing under it: its seconds, and MOVEMENT_MARGIN_S either side where it
    leaks into the breathing band, are neither an event nor a level, and an event running into one
    ends at its onset (the arousal that ends a pause often moves the legs, so an event that holds a
    movement near its end is still an event). But a movement only adds to the band: a margin whose
    breathing is still under the bar is paused, and a pause still seen right after a movement went
    on under it. So a pause of 12 s whose kick came 8 s in is one event, not 6 s seen and no event.

    Half the level finds an event; its edges are where the breathing is midway between the
    depth inside it and the depth outside, as a scorer marks one from the last normal breath to
    the first recovery breath. The bar alone would place them by how deep the event is: a
    shallow stretch (a third of the level) crosses it late in its fall, and the deep recovery
    breaths cross it early in their rise, so such an event came out a second short.
    """
    if not minutes:
        return []
    depth = np.concatenate([m.depth for m in minutes])
    t = minutes[0].t_s + np.arange(len(depth)) / BREATH_FS
    in_bed = np.zeros(len(depth), bool)
    for a, b in bed:
        in_bed[_samples_in(t, a, b)] = True
    known = in_bed.copy()
    moving = np.zeros(len(depth), bool)
    for m in movements:
        known[_samples_in(t, m.onset_s - MOVEMENT_MARGIN_S, m.offset_s + MOVEMENT_MARGIN_S)] = False
        moving[_samples_in(t, m.onset_s, m.offset_s)] = True
    moving &= in_bed
    beside = in_bed & ~known & ~moving          # a movement's margins
    between = _between(t, movements) & in_bed
    if not known.any():
        return []
    breathing = known & (depth >= EVENT_DEPTH * np.percentile(depth[known], BREATH_QUANTILE))
    level = _running_level(depth, breathing)
    events = []
    i = 0
    candidates = np.flatnonzero(known & (depth < EVENT_DEPTH * level))
    for a in candidates:
        if a < i:
            continue
        bar = EVENT_DEPTH * level[a]
        b = _low_until(depth, known, a, bar, int(EVENT_BRIDGE_S * BREATH_FS), between, moving, beside)
        inside = _median(depth[a:b][known[a:b]])
        start = _midway_back(depth, known, a, (inside + level[a]) / 2, i)
        end = float(t[b - 1] + 1 / BREATH_FS)
        if b < len(known) and not known[b]:
            # it ran into a movement: the pause lasted until the movement began (the one after the
            # last breathing seen paused, where two lie close)
            end = max(end, min((m.onset_s for m in movements if t[b - 1] < m.onset_s
                                and m.onset_s - MOVEMENT_MARGIN_S <= t[b] < m.offset_s + MOVEMENT_MARGIN_S), default=end))
        elif b < len(known):
            look = slice(b, b + int(RECOVERY_LOOK_S * BREATH_FS))
            after = depth[look][known[look]]
            if len(after):
                b = _midway_on(depth, known, b, (inside + float(after.max())) / 2)
                end = float(t[b - 1] + 1 / BREATH_FS)
        if end - float(t[start]) >= EVENT_MIN_S:
            events.append((round(float(t[start]), 2), round(end, 2)))
        i = b
    return events


def _median(v: np.ndarray) -> float:
    """np.median's answer, without its cost on a few samples (thousands of dips are looked at a night)."""
    v = np.sort(v)
    return float((v[(len(v) - 1) // 2] + v[len(v) // 2]) / 2)


def _samples_in(t: np.ndarray, a: float, b: float) -> slice:
    """The samples of the rising times `t` in [a, b) (a whole night's mask costs a pass per movement)."""
    return slice(int(np.searchsorted(t, a, "left")), int(np.searchsorted(t, b, "left")))


def _midway_back(depth, known, a: int, mid: float, lo: int) -> int:
    """From an event's first sample back to where the breathing was still over `mid` (not before `lo`)."""
    lo = max(lo, a - int(TRANSITION_S * BREATH_FS))
    while a > lo and known[a - 1] and depth[a - 1] < mid:
        a -= 1
    return a


def _midway_on(depth, known, b: int, mid: float) -> int:
    """From just past an event's last sample on to where the breathing has come back over `mid`."""
    hi = min(len(depth), b + int(TRANSITION_S * BREATH_FS))
    while b < hi and known[b] and depth[b] < mid:
        b += 1
    return b


LEVEL_BLOCK_S = 10.0


def _running_level(depth: np.ndarray, breathing: np.ndarray) -> np.ndarray:
    """Per sample: the median depth of the breathing in the BASELINE_S before its 10-second block
    (the median of those blocks' medians; NaN where too little is known)."""
    block = int(LEVEL_BLOCK_S * BREATH_FS)
    k = int(BASELINE_S / LEVEL_BLOCK_S)
    n = len(depth) // block * block
    masked = np.where(breathing, depth, np.nan)[:n].reshape(-1, block)
    enough = np.count_nonzero(np.isfinite(masked), axis=1) >= block / 4
    med = np.full(len(masked), np.nan)
    if enough.any():
        med[enough] = np.nanmedian(masked[enough], axis=1)
    padded = np.concatenate([np.full(k, np.nan), med])
    windows = np.lib.stride_tricks.sliding_window_view(padded, k)[:len(med)]   # the k blocks before each
    seen = np.count_nonzero(np.isfinite(windows), axis=1)
    level = np.full(len(med), np.nan)
    ok = seen >= k / 4
    if ok.any():
        level[ok] = np.nanmedian(windows[ok], axis=1)
    out = np.full(len(depth), np.nan)
    out[:n] = np.repeat(level, block)
    return out


def _low_until(depth: np.ndarray, known: np.ndarray, a: int, bar: float, gap: int, between: np.ndarray,
               moving: np.ndarray, beside: np.ndarray) -> int:
    """From `a`, where the depth is under `bar`: the end of the stretch that stays under it, blips of
    at most `gap` samples bridged. A movement inside is passed over when the breathing is still
    under the bar after it (a kick in the middle of a pause), else the stretch ends at its onset --
    or, where two movements lie too close for their margins to leave anything known between them,
    at the later one's, when the breathing seen `between` them is still paused (a kick inside the
    pause, then the one that ends it). Beside a movement (`beside`: its margins), breathing under the bar
    is a pause all the same, and where the breathing right after a movement (`moving`) is still under
    it, the pause went on under the movement."""
    i, last_low = a, a
    while i < len(depth):
        if beside[i] and depth[i] < bar:
            last_low = i        # beside a movement, yet paused: a movement only adds to the breathing band
            i += 1
            continue
        if moving[i] and (still := _movement_end(moving, i)) < len(depth) and still - i <= MAX_HIDDEN_S * BREATH_FS \
                and beside[still] and depth[still] < bar:
            i = last_low = still     # paused again right after the movement: the pause went on under it
            continue
        if not known[i]:
            after = _next_known(known, i)
            if after is None or after - i > MAX_HIDDEN_S * BREATH_FS:
                break
            look = depth[after:after + int(AFTER_MOVEMENT_S * BREATH_FS)]
            if not len(look) or not known[after:after + len(look)].all() or np.median(look) >= bar:
                seen = i + np.flatnonzero(between[i:after])
                if len(seen) >= BETWEEN_MIN_S * BREATH_FS and (depth[seen] < bar).all():
                    last_low = int(seen[-1])
                break
            i = last_low = after
            continue
        if depth[i] < bar:
            last_low = i
        elif i - last_low > gap:
            break
        i += 1
    return last_low + 1


BETWEEN_MARGIN_S = 1.0    # between two close movements, the breathing is read this far from either
BETWEEN_MIN_S = 1.0       # and only from this much of it
MAX_HIDDEN_S = 15.0       # a movement longer than this inside a pause: no telling what the breathing did
AFTER_MOVEMENT_S = 2.0    # how long after a movement the breathing is looked at


def _between(t: np.ndarray, movements) -> np.ndarray:
    """The samples between two movements whose margins leave no sample between them, at least
    BETWEEN_MARGIN_S from either: the breathing there is seen, though MOVEMENT_MARGIN_S hides it."""
    out = np.zeros(len(t), bool)
    moves = sorted(movements, key=lambda m: m.onset_s)
    for m, n in zip(moves, moves[1:]):
        hidden = _samples_in(t, m.offset_s + MOVEMENT_MARGIN_S, n.onset_s - MOVEMENT_MARGIN_S)
        if hidden.stop <= hidden.start:     # no sample left known between their margins
            out[_samples_in(t, m.offset_s + BETWEEN_MARGIN_S, n.onset_s - BETWEEN_MARGIN_S)] = True
    for m in moves:         # not near any movement (a third one, or a long one, may lie across)
        out[_samples_in(t, m.onset_s - BETWEEN_MARGIN_S, m.offset_s + BETWEEN_MARGIN_S)] = False
    return out


def _movement_end(moving: np.ndarray, i: int) -> int:
    """The first sample after the movement that covers sample i (len(moving) if it runs to the end)."""
    end = np.flatnonzero(~moving[i:i + int(MAX_HIDDEN_S * BREATH_FS) + 1])
    return i + int(end[0]) if len(end) else len(moving)


def _next_known(known: np.ndarray, i: int) -> int | None:
    rest = np.flatnonzero(known[i:])
    return int(i + rest[0]) if len(rest) else None

"""Whole simulated nights of a strip under a mattress, with their ground truth.

The model works in force at the strip (arbitrary units: the heartbeat's RMS force is
about 1), then passes it through a front end (piezo or load cell) and an ADC.

Components, with their typical size and band:

- Occupancy: a sleeper's legs put a static load of ~150 on the strip (load cell
  only sees it; a piezo film is AC-coupled and sees only changes).
- Respiration: 0.15-0.4 Hz, rate drifting slowly, amplitude ~2-6 under the legs
  (far more at the chest); one depth per night (no sighs: bench.robustness tries
  deeper breathing).
- Breathing events (profiles with `events`): episodes of 5-20 minutes in which
  breathing stops or shrinks for 10-40 s at a time, event after event, each ended by
  2-4 deep recovery breaths and, often (60 %), a leg movement from 1.5 s before to
  4 s after the end (the arousal that ends it). Three kinds, one per episode: a
  central pause (no breathing movement at all), an obstructed breath (chest and belly
  move against each other: the net movement at the strip falls to 10-30 %, its
  shape changed) and a shallow stretch (25-40 %). In the truth an event runs from
  the last normal breath's end to the first recovery breath.
- Ballistocardiogram (BCG): one beat every 0.7-1.25 s (48-84 a minute, a sleeping
  adult; heart-rate variability ~5 % beat to beat), a damped 4-8 Hz wavelet,
  amplitude varying +-25 % beat to beat. RMS ~1. The rate drifts +-6 % over the
  night and rises after each of the sleeper's movements (a leg movement 3-10 a
  minute, turning over 8-20, peaking ~4 s after the onset, gone within ~20 s). The
  truth lists each minute's true heart and breathing rate.
- Leg movements (LM), 0.5-10 s: band-limited 0.5-8 Hz force bursts under a smooth
  envelope plus a small weight shift; RMS 2.5x to 30x the heartbeat, log-uniform,
  so some are only a few times the heartbeat. Isolated ones (a Poisson process)
  and periodic series (IMI 15-40 s with 8-15 % jitter, minutes to hours long).
- Large movements (turning over), 10-60 s: 15x-80x the heartbeat, with pauses of
  0.3-0.45 s inside (shorter than the 0.5 s that ends a movement), then the coupling
  (gain) of every body signal changes by x0.6-1.6 and the static load shifts.
- Bed entry and exit: a 4-8 s scramble while the static load ramps; trips out of
  bed of 2-15 minutes. In the truth, the sleeper is in bed from the start of
  climbing in to the end of climbing out.
- A partner (profile 'partner'), lying 60-90 cm to the side. Their force reaches
  this strip only through the mattress sideways: a mattress spreads a load over a
  bowl some tens of centimetres wide and its foam or springs damp fast motion, so
  what arrives is the slow sag and rocking of the surface. Modelled as 0.1-0.3 of
  the force at low frequency (per movement: a leg or an arm, near or far),
  falling off as a second-order low-pass above a corner of 1.5-4 Hz (per night:
  one mattress). Through it pass the partner's breathing (0.2-0.33 Hz, nearly
  whole), heartbeat (4-8 Hz, so little of it) and movements (0.7-9 s, 3x-30x at
  source, about 15 an hour). The sleeper's own legs lie on the strip: their force
  comes through the mattress's thickness, not filtered in this band.
- What if (World, for bench.robustness): kicks of other lengths, strengths and
  intervals (short weak kicks in dense series: 0.5-1.2 s at 2.2-4x the heartbeat,
  every 15-25 s); restless stretches of 40-120 s in which the sleeper fidgets hard
  enough to drive the front end past both rails again and again (bursts of 2-10 s,
  RMS 0.6-1.5 of half the ADC's range, whatever its gain), staying in bed, lying
  differently after; hours of empty bed before the sleeper first lies down; less
  hum and noise (at 0.1 an empty bed on a 10-bit ADC reads its bias within a count
  or two).
- Electrical: mains hum (50 or 60 Hz, 0.2-2 % of full scale on the piezo),
  single-sample glitches (a few per hour), slow bias drift, white noise, clipping
  at the ADC's rails, quantisation to 10, 12 or 24 bits.

Front ends: 'piezo' = film into a charge amplifier (high-pass 0.3 Hz, bias at half
the reference) into an MCP3008 (10 bit) or MCP3208 (12 bit), 3.3 V; 'loadcell' =
bridge into an ADS1256 (24 bit, PGA 64, 2.5 V reference), which sees the static load.

Ground truth is scored with the same rules the detector uses (appliance.detection.scoring),
so 'periodic' and series in the truth mean what they mean in the output.
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field, asdict
from pathlib import Path

import numpy as np

from sensor.errors import SourceSettingError
from sensor.recording import Recording

PROFILES = {
    # name: (front end, adc bits, fs, PLM series per night (mean), isolated LM per hour, partner)
    "piezo12": dict(front="piezo", bits=12, fs=250.0, series=3.0, iso_rate=12.0, partner=False),
    "piezo10": dict(front="piezo", bits=10, fs=200.0, series=3.0, iso_rate=12.0, partner=False),
    "loadcell": dict(front="loadcell", bits=24, fs=100.0, series=3.0, iso_rate=12.0, partner=False),
    "loadcell500": dict(front="loadcell", bits=24, fs=500.0, series=2.0, iso_rate=8.0, partner=False),
    "severe": dict(front="piezo", bits=12, fs=250.0, series=6.0, iso_rate=20.0, partner=False),
    "quiet": dict(front="piezo", bits=12, fs=250.0, series=0.0, iso_rate=3.0, partner=False),
    "partner": dict(front="piezo", bits=12, fs=250.0, series=2.0, iso_rate=8.0, partner=True),
    # breathing events in episodes (episodes per 8 h), on a piezo and on a load cell
    "breathing": dict(front="piezo", bits=12, fs=250.0, series=2.0, iso_rate=8.0, partner=False, events=4.0),
    "breathing_loadcell": dict(front="loadcell", bits=24, fs=100.0, series=2.0, iso_rate=8.0, partner=False,
                               events=4.0),
}
# two sleepers, a strip under each: the first sleeper is the one who kicks, the second kicks less
COUPLES = {
    "couple": dict(front="piezo", bits=12, fs=250.0, series=(3.0, 1.0), iso_rate=(12.0, 6.0)),
    "couple_loadcell": dict(front="loadcell", bits=24, fs=100.0, series=(3.0, 1.0), iso_rate=(12.0, 6.0)),
    # the first sleeper's breathing pauses in episodes, the second breathing on beside them
    "couple_breathing": dict(front="piezo", bits=12, fs=250.0, series=(2.0, 1.0), iso_rate=(8.0, 6.0),
                             events=(4.0, 0.0)),
}
COUPLING = (0.1, 0.6)       # the share of one sleeper's force that reaches the other's strip
CORNER_HZ = (5.0, 40.0)     # the mattress passes it whole below this, and falls off above


@dataclass(frozen=True)
class World:
    """The ranges a simulated bedroom draws from. The defaults are the model above;
    other values ask what if the world is not as modelled (`python -m bench.robustness`)."""

    heart_rate: tuple = (0.8, 1.4)      # beats per second
    breathing: tuple = (2.0, 6.0)       # breathing's amplitude at the strip, in heartbeat RMS
    turn_pauses: tuple = (0.3, 0.45)    # pauses inside turning over, seconds
    lm_shape: str = "burst"             # 'burst': band-limited 0.5-8 Hz force, as above; 'swing': one
                                        # 1-4 Hz swing under a smooth window; 'press': a smooth press and release
    kick_strength: tuple = (2.5, 30.0)  # a leg movement's RMS force, in heartbeat RMS (drawn log-uniformly)
    kick_seconds: tuple | None = None   # every leg movement's length drawn uniformly from this range, seconds
                                        # (None: the lengths of the model above, 0.5-10 s)
    imi: tuple = (15.0, 40.0)           # a series' interval between movements, seconds
    restless: float = 0.0               # stretches per 8 h of 40-120 s of fidgeting hard enough to clip the
                                        # ADC at both rails, again and again; the sleeper stays in bed
    empty_hours: float = 0.0            # the bed stands empty this long before the sleeper first lies down
    hum: float = 1.0                    # mains hum and white noise at the front end, times the model's: at 0.1
                                        # an empty bed on a 10-bit ADC reads its bias within a count or two


LM_SHAPES = ("burst", "swing", "press")


@dataclass
class Truth:
    """What really happened in a simulated night (seconds from its start)."""

    fs: float
    duration_s: float
    profile: str
    seed: int
    lms: list = field(default_factory=list)        # [onset, offset]
    large: list = field(default_factory=list)      # [onset, offset]
    bed: list = field(default_factory=list)        # [in, out]
    partner: list = field(default_factory=list)    # [onset, offset], partner's movements
    partner_size: list = field(default_factory=list)  # each one's RMS at the strip, in sleeper's heartbeats
    glitches: list = field(default_factory=list)   # seconds
    # two sleepers on two strips (simulate_couple): each one's own lms, large and bed; the first is
    # also the top level's. `coupling` and `corner` are the mattress between the strips.
    sleepers: list = field(default_factory=list)
    coupling: float | None = None
    corner_hz: float | None = None
    # breathing events [onset, offset], and each minute's true [start, heart bpm, breaths a minute]
    respiratory_events: list = field(default_factory=list)
    vitals: list = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def load(cls, path) -> "Truth":
        return cls(**json.loads(Path(path).read_text()))


def truth_path(recording_path) -> Path:
    p = Path(recording_path)
    return p.with_name(p.stem + ".truth.json")


def simulate_night(hours: float = 8.0, seed: int = 0, profile: str = "piezo12",
                   fs: float | None = None, start: dt.datetime | None = None,
                   world: World | None = None) -> tuple[Recording, Truth]:
    """Simulate one night; return the recording (ADC output in volts) and its truth."""
    world = world or World()
    if world.lm_shape not in LM_SHAPES:
        raise SourceSettingError(f"unknown leg movement shape {world.lm_shape!r}; choose from {', '.join(LM_SHAPES)}")
    if profile in COUPLES:
        return simulate_couple(hours, seed, profile, fs, start, world)
    if profile not in PROFILES:
        raise SourceSettingError(f"unknown profile {profile!r}; choose from {', '.join(PROFILES | COUPLES)}")
    p = PROFILES[profile]
    fs, rng, n = _night_frame(hours, seed, fs or p["fs"])
    dur = n / fs
    truth = Truth(fs, dur, profile, seed)

    sl = _one_sleeper(rng, n, fs, hours, p, world)
    truth.lms, truth.large, truth.bed = sl.lms, sl.large, sl.bed
    truth.respiratory_events, truth.vitals = sl.events, sl.vitals
    force, coupling = sl.force, sl.coupling

    # --- a partner: breathing, heartbeat and movements, through the mattress sideways
    if p["partner"]:
        moved, partner, sizes = _partner(rng, n, fs, world.heart_rate)
        force += moved
        truth.partner = [[round(a, 3), round(b, 3)] for a, b in partner]
        # in the sleeper's heartbeats at the time: the sleeper's coupling scales his heart, not the partner
        truth.partner_size = [round(size / coupling[int(a * fs)], 2) for (a, _), size in zip(partner, sizes)]

    volts, rails = _front_end(rng, force, fs, p["front"], p["bits"], restless=sl.restless, hum=world.hum)
    glitches = rng.uniform(0, dur, rng.poisson(3 * hours))
    for g in glitches:
        volts[int(g * fs)] = rails[rng.integers(0, 2)]
    truth.glitches = sorted(round(float(g), 3) for g in glitches)
    rec = Recording(fs, volts[:, None], start, "V")
    return rec, truth


@dataclass
class Sleeper:
    """One sleeper's force on the strip under them, and what they did."""

    force: np.ndarray
    lms: list
    large: list
    bed: list
    coupling: np.ndarray     # how strongly their body reaches the strip, moment by moment
    events: list = field(default_factory=list)   # breathing events [onset, offset]
    vitals: list = field(default_factory=list)   # per minute [start, heart bpm, breaths a minute]
    restless: list = field(default_factory=list)  # fidgeting that clips the ADC [onset, offset]


FOLLOW_SHARE = 0.3   # of the other's movements, the share this sleeper answers within a few seconds


def _one_sleeper(rng, n, fs, hours, p, world, late=0.0, early=0.0, follow=()) -> Sleeper:
    """A sleeper's night on the strip under them: bed, turns, breath, heart, legs.

    `late` and `early` move their going to bed and getting up; `follow` lists onsets of
    the other sleeper's movements, some of which they answer with a leg movement.
    """
    dur = n / fs
    # --- when the sleeper is in bed: a few minutes awake at each end, trips out
    bed_in = min(rng.uniform(60, 300), dur * 0.1)
    bed_out = max(dur - rng.uniform(60, 300), dur * 0.9)
    bed_in, bed_out = bed_in + late + world.empty_hours * 3600, bed_out - early
    trips = []
    if dur > 3 * 3600:
        for _ in range(rng.integers(0, 3)):
            t = rng.uniform(bed_in + 1800, bed_out - 1800)
            trips.append((t, t + rng.uniform(120, 900)))
    trips.sort()
    bed = []
    t = bed_in
    for a, b in trips:
        if a > t + 60:
            bed.append([t, a])
            t = b
    bed.append([t, bed_out])

    gain = np.zeros(n)            # coupling of body signals: 0 out of bed
    load = np.zeros(n)            # static load
    body = np.zeros(n)            # dynamic force from the sleeper
    occupied = np.zeros(n, bool)
    for a, b in bed:
        occupied[int(a * fs):int(b * fs)] = True

    # --- large movements (turns), and their coupling changes
    turns = []
    for a, b in bed:
        t = a + rng.uniform(600, 2400)
        while t < b - 120:
            turns.append(t)
            t += rng.uniform(1200, 3600)
    restless = _restless_stretches(rng, bed, turns, world.restless * hours / 8.0)
    coupling = np.ones(n)
    static = np.full(n, 150.0)
    for t in sorted(turns + [b for _, b in restless]):
        i = int(t * fs)
        coupling[i:] *= rng.uniform(0.6, 1.6)
        static[i:] += rng.normal(0, 15)
    coupling = np.clip(coupling, 0.3, 3.0)
    gain[occupied] = coupling[occupied]
    load[occupied] = static[occupied]

    # --- respiration
    rate = 0.25 + 0.05 * _smooth_walk(rng, n, fs, 600.0)
    rate = np.clip(rate, 0.15, 0.4)
    phase = 2 * np.pi * np.cumsum(rate) / fs
    resp_amp = rng.uniform(*world.breathing)
    breath = np.sin(phase) + 0.25 * np.sin(2 * phase + 0.7)
    events, depth, paradox = _breathing_events(rng, n, fs, bed, phase, p.get("events", 0.0) * hours / 8.0)
    body += resp_amp * (depth * breath + paradox * np.sin(2 * phase + 2.0))

    # --- ballistocardiogram: the beats drawn now, placed once the movements that raise the rate are known
    beats = _heartbeats(rng, n, fs, world.heart_rate)

    # --- leg movements: series and isolated
    lms = []
    free = _FreeTime(bed, turns + [t for a, b in restless for t in np.arange(a, b + 60, 60.0)])
    for _, end in events:
        # the arousal that ends a breathing event, often with a leg movement
        if rng.random() < 0.6:
            a = end + rng.uniform(-1.5, 4.0)
            d = float(np.clip(rng.lognormal(np.log(1.8), 0.4), 0.7, 6.0))
            if free.ok(a, a + d):
                lms.append((a, a + d))
    n_series = rng.poisson(p["series"] * hours / 8.0)
    spans: list[tuple[float, float]] = []          # series do not overlap: one pair of legs
    for _ in range(n_series * 20):
        if len(spans) >= n_series:
            break
        shortest = min(5 * 60, dur / 6)
        length = rng.uniform(shortest, max(shortest, min(120 * 60, dur / 3)))
        t0 = rng.uniform(bed_in, max(bed_in + 1, bed_out - length))
        if any(t0 < b + 120 and t0 + length > a - 120 for a, b in spans + _spans_of(events)):
            continue
        spans.append((t0, t0 + length))
        imi = rng.uniform(*world.imi)
        jitter = rng.uniform(0.08, 0.15)
        t = t0
        while t < t0 + length:
            d = _kick_seconds(rng, world, np.log(1.8), 0.45, 8.0)
            if free.ok(t, t + d):
                lms.append((t, t + d))
            t += imi * (1 + jitter * rng.standard_normal())
    n_iso = rng.poisson(p["iso_rate"] * hours)
    for _ in range(n_iso):
        t = rng.uniform(bed_in, bed_out)
        d = _kick_seconds(rng, world, np.log(2.0), 0.6, 9.0)
        # isolated movements come between series, not inside them
        if (free.ok(t - 2, t + d + 2) and not any(a - 60 < t < b + 60 for a, b in spans + _spans_of(events))
                and all(t + d + 1.0 < a or t > b + 1.0 for a, b in lms)):
            lms.append((t, t + d))
    lms.sort()
    for a, b in lms:
        body += _leg(rng, n, fs, a, b, _kick_rms(rng, world), world.lm_shape)

    # --- large movements: turns, and getting in and out of bed
    large = []
    for t in turns:
        d = rng.uniform(10.5, 60)
        large.append((t, t + d))
        _large_burst(rng, body, fs, t, d, pauses=world.turn_pauses)
    truth_bed = []
    for a, b in bed:
        edges = ((a - rng.uniform(4, 8), a), (b, b + rng.uniform(4, 8)))
        # on the bed from the start of climbing in to the end of climbing out
        truth_bed.append([round(max(edges[0][0], 0), 2), round(min(edges[1][1], dur), 2)])
        for (s, e) in edges:
            s, e = max(s, 0), min(e, dur)
            large.append((s, e))
            _large_burst(rng, body, fs, s, e - s, strength=(20, 60), pauses=world.turn_pauses)
            i, j = int(s * fs), int(e * fs)
            ramp = np.linspace(0, 1, j - i) if s < a else np.linspace(1, 0, j - i)
            level = static[min(j, n - 1)] if s < a else static[max(i - 1, 0)]
            load[i:j] = ramp * level
            gain[i:j] = np.maximum(gain[i:j], 1.0)
    large += restless
    large.sort()

    for t in follow:
        # a movement of the other's that this sleeper answers with one of their own
        if rng.random() < FOLLOW_SHARE:
            a = t + rng.uniform(0.5, 8.0)
            d = float(np.clip(rng.lognormal(np.log(1.5), 0.5), 0.6, 6.0))
            if free.ok(a, a + d) and all(a + d + 1.0 < x or a > y + 1.0 for x, y in lms):
                lms.append((a, a + d))
                body += _leg(rng, n, fs, a, a + d, _kick_rms(rng, world), world.lm_shape)
    lms.sort()
    heart = _heart_rate(rng, n, fs, beats.rate, [a for a, _ in lms], [a for a, _ in large])
    body += _bcg(beats, heart, n, fs)
    vitals = _true_vitals(heart, rate, fs, dur)
    return Sleeper(gain * body + load, [[round(a, 3), round(b, 3)] for a, b in lms],
                   [[round(a, 2), round(b, 2)] for a, b in large], truth_bed, coupling,
                   [[round(a, 2), round(b, 2)] for a, b in events], vitals, restless)


def _kick_seconds(rng, world, log_median, sigma, longest) -> float:
    """A leg movement's length: the model's log-normal one, or the World's range."""
    if world.kick_seconds is not None:
        return float(rng.uniform(*world.kick_seconds))
    return float(np.clip(rng.lognormal(log_median, sigma), 0.7, longest))


def _kick_rms(rng, world) -> float:
    """A leg movement's RMS force in heartbeats, log-uniform over the World's range."""
    return float(np.exp(rng.uniform(*np.log(world.kick_strength))))


def _restless_stretches(rng, bed, turns, mean_count) -> list:
    """Where the sleeper fidgets for 40-120 s (clipping the ADC: _front_end's `restless`), away from
    bed edges and turns; none when `mean_count` is 0, drawing nothing."""
    if mean_count <= 0:
        return []
    out = []
    for _ in range(rng.poisson(mean_count)):
        for _try in range(20):
            s, e = bed[rng.integers(len(bed))]
            d = rng.uniform(40, 120)
            if e - s < d + 1200:
                continue
            t = rng.uniform(s + 600, e - d - 300)
            if all(t + d + 120 < u or t > u + 180 for u in turns) and all(t + d + 300 < a or t > b + 300
                                                                            for a, b in out):
                out.append((float(t), float(t + d)))
                break
    return sorted(out)


def _night_frame(hours: float, seed: int, fs: float) -> tuple[float, np.random.Generator, int]:
    """A simulated night's rate, random source and length in samples, its hours checked first."""
    if not 0.05 <= hours <= 24:
        raise SourceSettingError(f"hours must be between 0.05 and 24, got {hours}")
    fs = float(fs)
    return fs, np.random.default_rng(seed), int(round(hours * 3600 * fs))


def simulate_couple(hours: float = 8.0, seed: int = 0, profile: str = "couple", fs: float | None = None,
                    start: dt.datetime | None = None, world: World | None = None,
                    coupling: float | None = None, corner_hz: float | None = None) -> tuple[Recording, Truth]:
    """Two sleepers, a strip under each: channel k is sleeper k's strip.

    Each strip carries its own sleeper whole and the other's force through the
    mattress: a share `coupling` of it (drawn from COUPLING), falling off as a
    second-order low-pass above `corner_hz` (drawn log-uniformly from CORNER_HZ: from
    foam that smooths a movement crossing it to a firm bed or shared frame that passes
    it nearly whole). The other's heartbeat, breathing, movements and, on load cells,
    weight all come through it. The two strips are one kit's: their front ends match
    within 10 %. The second sleeper goes to bed later and gets up
    earlier, has their own trips out, kicks less, and answers some of the first's
    movements with one of their own. A profile with `events` gives each sleeper their
    own episodes of breathing events (couple_breathing: the first pauses, the second
    breathes on beside them, and their breath reaches the first's strip).
    """
    world = world or World()
    if profile not in COUPLES:
        raise SourceSettingError(f"unknown two-sleeper profile {profile!r}; choose from {', '.join(COUPLES)}")
    p = COUPLES[profile]
    fs, rng, n = _night_frame(hours, seed, fs or p["fs"])
    dur = n / fs
    c = float(coupling if coupling is not None else rng.uniform(*COUPLING))
    corner = float(corner_hz if corner_hz is not None else np.exp(rng.uniform(*np.log(CORNER_HZ))))
    events = p.get("events", (0.0, 0.0))
    settings = [dict(p, series=p["series"][k], iso_rate=p["iso_rate"][k], events=events[k]) for k in range(2)]
    first = _one_sleeper(rng, n, fs, hours, settings[0], world)
    onsets = [a for a, _ in first.lms + first.large]
    late, early = rng.uniform(0, min(3600, dur * 0.2)), rng.uniform(0, min(2400, dur * 0.15))
    second = _one_sleeper(rng, n, fs, hours, settings[1], world, late=late, early=early, follow=onsets)
    channels = []
    gain = rng.uniform(0.02, 0.04) if p["front"] == "piezo" else rng.uniform(0.8e-5, 1.6e-5)
    for own, other in ((first, second), (second, first)):
        force = own.force + c * _lowpass(other.force, fs, corner)
        volts, _ = _front_end(rng, force, fs, p["front"], p["bits"], gain * rng.uniform(0.9, 1.1))
        channels.append(volts)
    truth = Truth(fs, dur, profile, seed, first.lms, first.large, first.bed, coupling=round(c, 3),
                  corner_hz=round(corner, 2))
    truth.respiratory_events, truth.vitals = first.events, first.vitals
    truth.sleepers = [{"lms": sl.lms, "large": sl.large, "bed": sl.bed, "respiratory_events": sl.events,
                       "vitals": sl.vitals} for sl in (first, second)]
    return Recording(fs, np.column_stack(channels), start, "V"), truth


def _partner(rng, n, fs, heart_rate):
    """The partner's force at this strip, their movements and each one's RMS there (force units)."""
    dur = n / fs
    t = np.arange(n) / fs
    rate = rng.uniform(0.2, 0.33)
    force = 0.2 * rng.uniform(2, 6) * np.sin(2 * np.pi * rate * t + rng.uniform(0, 2 * np.pi))
    beats = _heartbeats(rng, n, fs, heart_rate)
    force += 0.2 * _bcg(beats, np.full(int(n / fs / HEART_GRID_S) + 2, beats.rate), n, fs)
    moves = np.zeros(n)
    partner = []
    t0 = rng.uniform(300, 900)
    while t0 < dur - 60:
        d = float(np.clip(rng.lognormal(np.log(2.5), 0.6), 0.7, 9.0))
        partner.append((t0, t0 + d))
        attenuation, rms = rng.uniform(0.1, 0.3), np.exp(rng.uniform(np.log(3), np.log(30)))
        moves += attenuation * _burst(rng, n, fs, t0, t0 + d, rms=rms)
        t0 += rng.exponential(240)
    corner = rng.uniform(1.5, 4.0)
    moves = _lowpass(moves, fs, corner)
    sizes = [round(float(np.sqrt(np.mean(moves[int(a * fs):int(b * fs)] ** 2))), 2) for a, b in partner]
    return _lowpass(force, fs, corner) + moves, partner, sizes


class _FreeTime:
    """Where an LM may go: in bed, away from bed edges and turns."""

    def __init__(self, bed, turns):
        self.bed = bed
        self.turns = turns

    def ok(self, a, b):
        # people lie awake a few minutes before sleep; no kicks right after getting in
        inside = any(s + 180 < a and b < e - 20 for s, e in self.bed)
        return inside and all(b + 3 < t or a > t + 65 for t in self.turns)


def _smooth_walk(rng, n, fs, tau):
    """A slow random wander of unit size with time constant ~tau seconds."""
    m = max(4, int(n / fs / tau * 4) + 4)
    knots = rng.standard_normal(m)
    return np.interp(np.linspace(0, m - 1, n), np.arange(m), knots)


@dataclass
class _Beats:
    """A night's heartbeats as drawn: the mean rate, each beat's place in beats (with its
    beat-to-beat variation) and size, and the wavelet one beat makes at the strip."""

    rate: float            # beats per second
    index: np.ndarray      # beat k falls where the heart has beaten index[k] times
    size: np.ndarray
    wavelet: np.ndarray


def _heartbeats(rng, n, fs, heart_rate) -> _Beats:
    hr = rng.uniform(*heart_rate)  # beats per second
    dur = n / fs
    index = np.cumsum(1 + 0.05 * rng.standard_normal(int(dur * hr * 1.3) + 10))
    size = rng.normal(1.0, 0.25, len(index))
    k = np.arange(int(0.5 * fs)) / fs
    f0 = rng.uniform(4, 8)
    wavelet = np.sin(2 * np.pi * f0 * k) * np.exp(-k / 0.09)
    wavelet /= np.sqrt(np.sum(wavelet ** 2) * hr / fs)  # RMS ~1 at this heart rate
    return _Beats(hr, index, size, wavelet)


HEART_GRID_S = 0.1


def _heart_rate(rng, n, fs, base, lm_onsets, large_onsets) -> np.ndarray:
    """Beats per second on a 0.1 s grid: `base`, drifting +-6 % over the night, risen after each movement."""
    m = int(n / fs / HEART_GRID_S) + 2
    t = np.arange(m) * HEART_GRID_S
    rate = base * (1 + 0.06 * np.clip(_smooth_walk(rng, m, 1 / HEART_GRID_S, 1800.0), -2, 2))
    for onsets, rise in ((lm_onsets, (3.0, 10.0)), (large_onsets, (8.0, 20.0))):
        for a in onsets:
            i = int(a / HEART_GRID_S)
            u = t[i:i + int(40 / HEART_GRID_S)] - a
            u = np.maximum(u, 0.0)
            rate[i:i + len(u)] += rng.uniform(*rise) / 60 * (u / 4) * np.exp(1 - u / 4)   # peak ~4 s after
    return rate


def _bcg(beats: _Beats, heart: np.ndarray, n, fs) -> np.ndarray:
    """The heartbeats at the strip: beat k where the heart, beating at `heart`, has beaten index[k] times."""
    grid = np.arange(len(heart)) * HEART_GRID_S
    done = np.concatenate([[0.0], np.cumsum(heart[:-1]) * HEART_GRID_S])   # beats so far
    times = np.interp(beats.index, done, grid, right=np.inf)
    keep = times < n / fs - 1
    train = np.zeros(n)
    np.add.at(train, (times[keep] * fs).astype(int), beats.size[keep])
    return np.convolve(train, beats.wavelet)[:n]


def _true_vitals(heart: np.ndarray, breathing: np.ndarray, fs, dur) -> list:
    """Each whole minute's mean heart rate and breathing rate, per minute."""
    per = int(60 / HEART_GRID_S)
    out = []
    for k in range(int(dur // 60)):
        hr = float(np.mean(heart[k * per:(k + 1) * per])) * 60
        br = float(np.mean(breathing[int(k * 60 * fs):int((k + 1) * 60 * fs)])) * 60
        out.append([k * 60, round(hr, 2), round(br, 2)])
    return out


def _breathing_events(rng, n, fs, bed, phase, episodes: float):
    """Episodes of breathing events: where they are, and the depth of breathing (1 = the sleeper's
    own) and the residue of an obstructed breath moment by moment."""
    depth = np.ones(n)
    paradox = np.zeros(n)
    events = []
    if episodes <= 0:
        return events, depth, paradox
    cycles = phase / (2 * np.pi)          # breaths so far
    spans = []
    for _ in range(rng.poisson(episodes)):
        length = rng.uniform(300, 1200)
        a, b = max(bed, key=lambda p: p[1] - p[0])
        if b - a < length + 1200:
            continue
        t0 = rng.uniform(a + 600, b - length - 300)
        if any(t0 < y + 300 and t0 + length > x - 300 for x, y in spans):
            continue
        spans.append((t0, t0 + length))
        kind = rng.choice(["central", "obstructive", "shallow"])
        t = t0
        while t < t0 + length:
            # from the end of a breath (a whole breath cycle), for 10-40 s
            i = int(t * fs)
            start = np.searchsorted(cycles, np.ceil(cycles[i]))
            end = start + int(rng.uniform(10, 40) * fs)
            if end >= n - fs * 60:
                break
            level = {"central": rng.uniform(0, 0.03), "obstructive": rng.uniform(0.1, 0.3),
                     "shallow": rng.uniform(0.25, 0.4)}[kind]
            depth[start:end] = level
            if kind == "obstructive":
                paradox[start:end] = rng.uniform(0.05, 0.15)
            # 2-4 deep recovery breaths from where the next breath begins
            first = np.searchsorted(cycles, np.ceil(cycles[end]))
            deep = np.searchsorted(cycles, cycles[first] + rng.integers(2, 5))
            depth[end:first] = level
            depth[first:deep] = rng.uniform(1.8, 3.0)
            events.append((start / fs, first / fs))
            t = deep / fs + rng.uniform(5, 20)
    # breathing deepens and fades over a breath's fraction, never in a step (a step is a jolt)
    return events, _smoothed(depth, int(0.5 * fs)), _smoothed(paradox, int(0.5 * fs))


def _smoothed(x, k):
    """`x` under a triangular moving average 2k samples wide."""
    for _ in range(2):
        pad = np.concatenate([np.full(k // 2, x[0]), x, np.full(k - k // 2, x[-1])])
        c = np.concatenate([[0.0], np.cumsum(pad)])
        x = (c[k:] - c[:-k])[:len(x)] / k
    return x


def _spans_of(events, margin=60.0):
    """The episodes of breathing events, as spans no other series or isolated movement enters."""
    out = []
    for a, b in events:
        if out and a - out[-1][1] < margin:
            out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


def _band_noise(rng, m, fs, lo, hi):
    spec = np.fft.rfft(rng.standard_normal(m))
    f = np.fft.rfftfreq(m, 1 / fs)
    spec[(f < lo) | (f > hi)] = 0
    x = np.fft.irfft(spec, m)
    return x / (np.std(x) + 1e-12)


def _burst(rng, n, fs, a, b, rms):
    """A leg movement: a band-limited force burst under a smooth envelope."""
    out = np.zeros(n)
    i, j = int(a * fs), min(int(b * fs), n)
    m = j - i
    if m < 4:
        return out
    ramp = min(0.15 * fs, m // 4)
    env = np.ones(m)
    if ramp >= 1:
        r = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, int(ramp)))
        env[:len(r)] = r
        env[m - len(r):] = r[::-1]
    x = _band_noise(rng, m, fs, 0.5, 8.0) * rms
    shift = rng.normal(0, rms * 0.3) * np.sin(np.linspace(0, np.pi, m))
    out[i:j] = env * x + shift
    return out


def _leg(rng, n, fs, a, b, rms, shape):
    """A leg movement of the given RMS force, in one of the World's shapes."""
    if shape == "burst":
        return _burst(rng, n, fs, a, b, rms)
    out = np.zeros(n)
    i, j = int(a * fs), min(int(b * fs), n)
    m = j - i
    if m < 4:
        return out
    window = np.sin(np.linspace(0, np.pi, m)) ** 2          # RMS sqrt(3/8)
    if shape == "press":
        out[i:j] = rms * np.sqrt(8 / 3) * window * rng.choice((-1, 1))
    else:
        f = rng.uniform(1, 4)
        out[i:j] = rms * 4 / np.sqrt(3) * window * np.sin(2 * np.pi * f * np.arange(m) / fs + rng.uniform(0, 6.3))
    return out


def _large_burst(rng, body, fs, t, d, strength=(15, 80), pauses=(0.3, 0.45)):
    """Turning over: strong activity with short pauses inside."""
    n = len(body)
    rms = rng.uniform(*strength)
    s = t
    while s < t + d:
        seg = min(rng.uniform(2, 10), t + d - s)
        body += _burst(rng, n, fs, s, s + seg, rms * rng.uniform(0.5, 1.0))
        s += seg + rng.uniform(*pauses)


def _front_end(rng, force, fs, front, bits, gain=None, restless=(), hum=1.0):
    """Force to ADC volts; `gain` scales the front end's own (drawn) gain: matched strips of one kit.

    Fidgeting in the `restless` stretches drives the front end past both rails again and again,
    whatever its gain: RMS 0.6-1.5 of half the ADC's range, in 2-10 s bursts with short pauses.
    """
    n = len(force)
    t = np.arange(n) / fs
    hum_f = 50.0 if rng.random() < 0.5 else 60.0
    if front == "piezo":
        vref = 3.3
        x = _highpass(force, fs, 0.3) * (gain or rng.uniform(0.02, 0.04))  # ~30 mV per heartbeat RMS
        x += vref / 2 + 0.02 * _smooth_walk(rng, n, fs, 3600)
        x += hum * rng.uniform(0.002, 0.02) * vref * np.sin(2 * np.pi * hum_f * t)
        x += hum * rng.normal(0, 0.001, n)
        lo, hi = 0.0, vref
    else:
        vref, pga = 2.5, 64
        fullscale = 2 * vref / pga
        x = force * (gain or rng.uniform(0.8e-5, 1.6e-5)) + 0.002  # ~150 mV... of bridge at x64 well inside range
        x += 0.0004 * _smooth_walk(rng, n, fs, 7200)       # creep and bias drift
        x += hum * 2e-6 * np.sin(2 * np.pi * hum_f * t)
        x += hum * rng.normal(0, 1e-6, n)
        lo, hi = -fullscale, fullscale
    for a, b in restless:
        t0 = a
        while t0 < b:
            seg = min(rng.uniform(2, 10), b - t0)
            x += _burst(rng, n, fs, t0, t0 + seg, rng.uniform(0.6, 1.5) * (hi - lo) / 2)
            t0 += seg + rng.uniform(0.1, 0.45)
    step = (hi - lo) / (2 ** bits)
    x = np.clip(np.round((x - lo) / step) * step + lo, lo, hi - step)
    return x, (lo, hi - step)


def _lowpass(x, fs, fc):
    """Second-order low-pass (two real poles at fc), in the frequency domain (simulation only)."""
    spec = np.fft.rfft(x)
    f = np.fft.rfftfreq(len(x), 1 / fs)
    return np.fft.irfft(spec / (1 + 1j * f / fc) ** 2, len(x))


def _highpass(x, fs, fc):
    """First-order high-pass, applied in the frequency domain (simulation only)."""
    spec = np.fft.rfft(x)
    f = np.fft.rfftfreq(len(x), 1 / fs)
    h = (1j * f / fc) / (1 + 1j * f / fc)
    return np.fft.irfft(spec * h, len(x))

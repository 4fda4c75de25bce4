"""Breathing events and WASM 2016's respiratory rule end to end: clean synthetic nights scored by
`kickwatch analyze --json` give the counts that PLMScoRe's "respiratory LMs removed" variant gives
on the same nights' true leg movements and breathing events.

The nights are clean on purpose (in bed from the first second, a steady heartbeat, breathing
that stops outright for 15-25 s and comes back with deep breaths), so that what is checked is
the rule and the event ends it hangs on, not the detector's limits. Leg movements are placed
before an event's end (inside the event, outside the window), inside its end, after it within
the window, and after the window; in one row of events, one after every event, 40 s apart.

`plmscore_counts` restates PLMScoRe's R/lm_score.R (rlm and plm) for leg movements that are all
candidates (none over 10 s): a movement is respiratory when its onset or offset lies from 2.0 s
before to 10.25 s after an event's end, both ends included, or it spans that window; a series is
4 or more consecutive movements with every onset-to-onset interval 10-90 s; the "removed"
variant takes the respiratory ones out of the sequence first.
"""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from appliance.detection.analysis import analyze_signal
from sensor.recording import Recording, write_recording

FS = 250.0
BREATH_HZ = 0.25


def respiratory(on: float, off: float, events: list[tuple[float, float]]) -> bool:
    return any(e - 2.0 <= on <= e + 10.25 or e - 2.0 <= off <= e + 10.25 or (on < e - 2.0 and off > e + 10.25)
               for _, e in events)


def plmscore_counts(lms: list[tuple[float, float]], events: list[tuple[float, float]]) -> dict:
    def series(onsets):
        runs, run = [], []
        for t in onsets:
            if run and not 10.0 <= t - run[-1] <= 90.0:
                runs.append(run)
                run = []
            run.append(t)
        runs.append(run)
        return [r for r in runs if len(r) >= 4]

    lms = sorted(lms)
    kept = [on for on, off in lms if not respiratory(on, off, events)]
    removed, kept_all = series(kept), series([on for on, _ in lms])
    return {"plm_count": sum(map(len, removed)), "series_count": len(removed),
            "plm_count_with_respiratory": sum(map(len, kept_all))}


def clean_night(seed: int, layout: list[tuple[str, float]]) -> tuple[Recording, list, list]:
    """A night laid out as (what, offset) steps from 120 s on: ('event', seconds of pause) puts a
    pause then three deep breaths and a calm stretch; ('lm', offset from the last event's end) a
    leg movement; ('gap', seconds) calm breathing; ('series', count) kicks every 25 s."""
    rng = np.random.default_rng(seed)
    hours = 1.2
    n = int(hours * 3600 * FS)
    t = np.arange(n) / FS
    depth = np.ones(n)
    events, lms = [], []
    now, last_end = 120.0, None
    period = 1 / BREATH_HZ
    for what, x in layout:
        if what == "event":
            start = np.ceil(now / period) * period          # the end of a breath
            end = start + np.ceil(x / period) * period       # a breath begins again
            depth[int(start * FS):int(end * FS)] = 0.0
            depth[int(end * FS):int((end + 3 * period) * FS)] = 2.5
            events.append((start, end))
            last_end, now = end, end + 3 * period + 8.0
        elif what == "lm":
            a = last_end + x
            lms.append((a, a + rng.uniform(1.2, 2.5)))
        elif what == "gap":
            now += x
        elif what == "series":
            for k in range(int(x)):
                a = now + 25.0 * k
                lms.append((a, a + rng.uniform(1.2, 2.5)))
            now += 25.0 * x + 30.0
    k = int(0.5 * FS)                                         # depth changes over half a second, not in a step
    depth = np.convolve(depth, np.ones(k) / k, mode="same")
    phase = 2 * np.pi * BREATH_HZ * t
    force = 4.0 * depth * (np.sin(phase) + 0.25 * np.sin(2 * phase + 0.7))
    beats = np.cumsum(1 / 1.05 * (1 + 0.03 * rng.standard_normal(int(hours * 3600 * 1.05) + 10)))
    train = np.zeros(n)
    train[(beats[beats < t[-1] - 1] * FS).astype(int)] = rng.normal(1.0, 0.15, np.count_nonzero(beats < t[-1] - 1))
    w = np.arange(int(0.4 * FS)) / FS
    wavelet = np.sin(2 * np.pi * 6.0 * w) * np.exp(-w / 0.08)
    force += np.convolve(train, wavelet / np.sqrt(np.sum(wavelet ** 2) * 1.05 / FS))[:n]
    for a, b in lms:
        i, j = int(a * FS), int(b * FS)
        spec = np.fft.rfft(rng.standard_normal(j - i))
        f = np.fft.rfftfreq(j - i, 1 / FS)
        spec[(f < 0.5) | (f > 8)] = 0
        burst = np.fft.irfft(spec, j - i)
        force[i:j] += 12.0 * burst / burst.std() * np.hanning(j - i) ** 0.3
    volts = 1.65 + 0.03 * force + rng.normal(0, 0.001, n)
    return Recording(FS, volts[:, None], None, "V"), lms, events


LAYOUTS = {
    # one placement of each kind, events apart
    "each_kind": [("gap", 60), ("event", 20), ("lm", -8.0), ("gap", 60), ("event", 18), ("lm", -0.8),
                  ("gap", 60), ("event", 22), ("lm", 4.0), ("gap", 60), ("event", 16), ("lm", 14.0),
                  ("gap", 60), ("series", 6), ("event", 25), ("gap", 90), ("event", 15), ("lm", 7.0)],
    # a row of events with a kick after each, 40 s apart: periodic only if they are kept in
    "row": [("gap", 30)] + [step for _ in range(8) for step in (("event", 17), ("lm", 3.0))]
           + [("gap", 120), ("series", 5)],
    # kicks that would be periodic with the related ones, and are once these are left out
    "mixed": [("series", 4), ("event", 20), ("lm", 1.0), ("lm", 9.0), ("gap", 40), ("series", 5),
              ("event", 24), ("lm", -1.5), ("gap", 30), ("event", 15), ("lm", 16.0), ("series", 4)],
}


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_analyze_counts_what_plmscore_counts(name, tmp_path):
    rec, lms, events = clean_night(7, LAYOUTS[name])
    path = tmp_path / f"{name}.npz"
    write_recording(path, rec)
    out = subprocess.run([sys.executable, "-m", "kickwatch", "analyze", str(path), "--json"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    want = plmscore_counts(lms, events)
    summary = got["summary"]
    assert {k: summary[k] for k in want} == want
    # and the parts behind them: every event found, every kick found and flagged as the rule says
    assert len(got["respiratory_events"]) == len(events)
    found = [m for m in got["movements"] if m["kind"] == "lm"]
    assert len(found) == len(lms)
    assert [m["respiratory"] for m in found] == [respiratory(on, off, events) for on, off in sorted(lms)]


def test_the_nights_test_each_variant():
    counts = {name: plmscore_counts(*clean_night(7, layout)[1:]) for name, layout in LAYOUTS.items()}
    assert counts["row"] == {"plm_count": 5, "series_count": 1, "plm_count_with_respiratory": 13}
    assert counts["mixed"]["plm_count"] < counts["mixed"]["plm_count_with_respiratory"]


def test_an_event_that_holds_a_kick_near_its_end_is_still_an_event():
    rec, lms, events = clean_night(3, [("gap", 60), ("event", 20), ("lm", -1.0), ("gap", 60)])
    res = analyze_signal(rec.signal, rec.fs)
    assert len(res.events) == 1
    (a, b), ((ta, _),) = res.events[0], events
    assert abs(a - ta) < 2.0 and b > ta + 10

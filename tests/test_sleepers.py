"""Two sleepers, a strip under each: the JSON contract, whose movement, who is in bed."""
from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
import subprocess
import sys

import numpy as np
import pytest

from appliance.config import ConfigError, load_config
from appliance.detection.analysis import analyze_couple
from appliance.detection.evaluation import overlapping, prf
from appliance.detection.scoring import Movement, after_other
from sensor.recording import Recording, write_recording
from sensor.simulator import simulate_couple
from tests.conftest import cached_night

KW = [sys.executable, "-m", "kickwatch"]
SUMMARY_KEYS = {"hours_in_bed", "lm_count", "plm_count", "series_count", "plmi", "lmi", "periodicity_index"}


@functools.lru_cache(maxsize=4)
def couple(hours: float, seed: int, coupling: float, corner: float, profile: str = "couple"):
    return simulate_couple(hours, seed, profile, coupling=coupling, corner_hz=corner)


def test_analyze_json_for_two_sleepers_keeps_the_contract(tmp_path):
    rec, _ = couple(1.5, 3, 0.35, 12.0)
    path = tmp_path / "two.npz"
    write_recording(path, rec)
    r = subprocess.run(KW + ["analyze", str(path), "--json", "--sleepers", "Sam,Alex"], capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    names = [s["name"] for s in out["sleepers"]]
    assert names == ["Sam", "Alex"] and [s["channel"] for s in out["sleepers"]] == [0, 1]
    sam, alex = out["sleepers"]
    # the top level is the first sleeper's, every key of the one-sleeper contract kept
    assert out["movements"] == sam["movements"] and out["summary"] == sam["summary"] and out["bed"] == sam["bed"]
    assert out["recording"]["channels"] == 2
    for s in out["sleepers"]:
        assert SUMMARY_KEYS <= set(s["summary"])
        assert isinstance(s["summary"]["after_other_count"], int)
        assert isinstance(s["summary"]["after_other_expected"], float)
        assert s["summary"]["after_other_count"] == sum(m["after_other"] for m in s["movements"])
        for m in s["movements"]:
            assert {"onset_s", "offset_s", "kind", "periodic", "series", "after_other"} <= set(m)
        for b in s["bed"]:
            assert set(b) == {"in_s", "out_s"}
    # each movement is in one list only: no movement of Sam's is also Alex's
    assert not any(a["onset_s"] == b["onset_s"] and a["offset_s"] == b["offset_s"]
                   for a in sam["movements"] for b in alex["movements"])


def test_each_movement_goes_to_the_sleeper_who_made_it():
    rec, truth = couple(2.0, 11, 0.5, 30.0)
    both = analyze_couple(rec.signal, rec.fs, ["Sam", "Alex"])
    for k in range(2):
        mine, theirs = truth.sleepers[k], truth.sleepers[1 - k]
        lms = [(m.onset_s, m.offset_s) for m in both.nights[k].movements if m.kind == "lm"]
        own = mine["lms"] + mine["large"]
        extra = [(a, b) for a, b in lms if not any(a < d and b > c for c, d in own)]
        assert overlapping(extra, theirs["lms"]) <= 0.05 * len(theirs["lms"]) + 1
        assert prf(lms, mine["lms"])["recall"] >= 0.8


def test_her_bed_is_her_own_she_goes_to_bed_later_and_gets_up_earlier():
    rec, truth = couple(2.0, 11, 0.5, 30.0)
    both = analyze_couple(rec.signal, rec.fs, ["Sam", "Alex"])
    for k in range(2):
        found, true = both.nights[k].bed, truth.sleepers[k]["bed"]
        assert len(found) == len(true)
        for (a, b), (c, d) in zip(found, true):
            assert abs(a - c) < 180 and abs(b - d) < 180


def test_an_empty_side_seen_through_the_mattress_is_empty():
    """One sleeper; the other strip carries only his force through the mattress (and its own noise)."""
    rec, truth = cached_night(1.0, 5, "piezo12")
    one = rec.signal[:, 0]
    rng = np.random.default_rng(0)
    bias = one.mean()
    other = bias + 0.4 * (one - bias) + rng.normal(0, 0.001, len(one))
    both = analyze_couple(np.column_stack([one, other]), rec.fs, ["Sam", "Alex"])
    assert both.nights[1].bed == [] and both.nights[1].movements == []
    assert abs(sum(b - a for a, b in both.nights[0].bed) - sum(b - a for a, b in truth.bed)) < 120
    assert prf([(m.onset_s, m.offset_s) for m in both.nights[0].movements if m.kind == "lm"], truth.lms)["f1"] > 0.9


def test_the_answer_is_the_same_in_one_second_blocks_as_at_once():
    rec, _ = couple(1.0, 4, 0.3, 8.0)
    whole = analyze_couple(rec.signal, rec.fs, ["Sam", "Alex"], block=len(rec.signal)).as_dict()
    blocks = analyze_couple(rec.signal, rec.fs, ["Sam", "Alex"], block=int(rec.fs)).as_dict()
    assert whole["sleepers"] == blocks["sleepers"]


def test_whose_movement_is_judged_by_the_filter_of_its_time_as_the_daemon_reads_it():
    # a firm bed (half the force across, 30 Hz corner): the filter that takes the other's share off
    # is refitted through the night; read at once, a later fit must not judge an earlier movement
    rec, _ = couple(2.0, 3, 0.5, 30.0)
    whole = analyze_couple(rec.signal, rec.fs, ["Sam", "Alex"], block=len(rec.signal)).as_dict()
    minutes = analyze_couple(rec.signal, rec.fs, ["Sam", "Alex"], block=int(60 * rec.fs)).as_dict()
    assert whole["sleepers"] == minutes["sleepers"]


def test_a_kick_that_drives_its_own_strip_to_the_rails_stays_its_sleepers():
    """Strong kicks clip the kicker's strip: the fitted filter no longer takes all of them off the
    other strip, and what is left there must not become the other's movement."""
    from sensor.simulator import World

    rec, truth = simulate_couple(2.0, 4, "couple", coupling=0.3, corner_hz=20.0, world=World(kick_strength=(20.0, 80.0)))
    x = rec.signal
    assert np.count_nonzero((x <= x.min(axis=0)) | (x >= x.max(axis=0))) > 10_000      # the night clips
    both = analyze_couple(x, rec.fs, ["Sam", "Alex"])
    his, hers = (truth.sleepers[k]["lms"] for k in (0, 1))
    alex = [(m.onset_s, m.offset_s) for m in both.nights[1].movements if m.kind == "lm"]
    taken = [lm for lm in his if overlapping(alex, [lm]) and not overlapping(hers, [lm])]
    assert len(taken) <= 1, taken                      # 5 of his 78 before the rails were looked at
    assert prf(alex, hers)["recall"] >= 0.9


def test_a_strip_that_only_copies_the_other_is_empty_even_over_its_noise_floor():
    """One body alone, heavily coupled: what the short filter leaves of it on the empty strip (share
    -3.0, a thousandth) stands 1.1 decades over that strip's noise floor; it is still a copy."""
    from appliance.detection.sleepers import bodies

    floors = np.array([-6.5, -6.6])
    assert bodies(np.array([-3.0, -0.6]), np.array([-5.4, -4.1]), floors) == "1"      # only strip 1's body
    # a sleeper lying lightly (share 1 %, well over the floor) beside a heavy one is still there
    assert bodies(np.array([-2.0, -0.6]), np.array([-4.4, -4.1]), floors) == "2"


def _bed_of(k: int, tracker: list, other_tracker: list, verdicts: list, moves: list) -> list:
    """Side k's bed changes as CoupleDetector settles them from its tracker's changes, the other side's
    tracker's, the own-rhythm verdicts and side k's own movements (the whole night known)."""
    from appliance.detection.sleepers import CoupleDetector

    det = CoupleDetector(250.0)
    det.sides[k].tracker_changes, det.sides[1 - k].tracker_changes = tracker, other_tracker
    det._verdicts = verdicts
    det.sides[k].moves = [Movement(*a) if isinstance(a, tuple) else Movement(a, a + 1.0, "lm") for a in moves]
    det._final = True
    det._follow_own(k, 30_000.0)
    return [(round(t), what) for t, what in det.sides[k].own]


def test_a_body_lying_down_on_the_other_side_does_not_take_this_one_out():
    """On load cells her weight coming onto the bed moves his strip's level: his tracker reads 'out'
    seconds after hers reads 'in'. The rhythm says "two or none": a body came, none went."""
    verdicts = [(0.0, "2"), (300.0, "0"), (2000.0, "2")]
    own = _bed_of(0, [(100.0, "in"), (1995.0, "out")], [(1990.0, "in")], verdicts, [200.0, 1500.0])
    assert own == [(100, "in")]


def test_the_one_body_on_the_bed_getting_up_leaves_it_empty_whatever_its_tracker_says():
    """He lay alone ("one body, on his strip"); then "two or none" while her tracker saw nobody come:
    none. He got up at his last movement, though his own tracker (its level upset earlier) says in."""
    verdicts = [(0.0, "2"), (300.0, "0"), (9000.0, "2")]
    own = _bed_of(0, [(100.0, "in")], [(50.0, "in"), (250.0, "out")], verdicts, [200.0, 8950.0])
    assert own == [(100, "in"), (8951, "out")]


def test_a_sleeper_who_goes_on_moving_on_his_own_strip_is_still_in_bed():
    """The rhythm may lose a lightly lying sleeper's heart ("one body, on the other strip"); his own
    movements, stronger on his strip than on hers, say he is there."""
    verdicts = [(0.0, "2"), (5000.0, "1")]
    moving = [100.0, 4990.0, 5100.0, 5130.0, 5160.0]
    assert _bed_of(0, [(90.0, "in")], [(80.0, "in")], verdicts, moving) == [(90, "in")]
    # and once his movements stop, the same verdict takes him out at his last one
    assert _bed_of(0, [(90.0, "in")], [(80.0, "in")], verdicts, [100.0, 4990.0]) == [(90, "in"), (4991, "out")]


def test_a_sleeper_back_in_bed_lay_down_with_the_strongest_movement_near_not_the_first():
    """Back from a trip out: a stray weak movement on his strip three minutes before he lay down
    is not when he came back."""
    verdicts = [(0.0, "2"), (5000.0, "1"), (6330.0, "2")]
    moves = [(4990.0, 4991.0, "lm", 1, 8.0), (6150.0, 6150.8, "lm", 1, 4.0), (6332.0, 6338.0, "large", 1, 60.0)]
    assert _bed_of(0, [(90.0, "in")], [(80.0, "in")], verdicts, moves) == [(90, "in"), (4991, "out"), (6332, "in")]


def test_after_other_counts_movements_within_ten_seconds_after_the_others_onset():
    theirs = [Movement(100.0, 102.0), Movement(500.0, 530.0, "large")]
    mine = [Movement(99.0, 100.5), Movement(100.0, 101.0), Movement(105.0, 106.0), Movement(110.0, 111.0),
            Movement(110.5, 111.0), Movement(505.0, 506.0), Movement(800.0, 801.0)]
    counts = after_other(mine, theirs, [(0.0, 1000.0)])
    # began after the onset and at most 10 s after it: not before, not at the same instant, not 10.5 s on
    assert [m.after_other for m in mine] == [False, False, True, True, False, True, False]
    assert counts["after_other_count"] == 3
    # chance: 7 movements x 20 s of 1000 s in bed within 10 s after an onset
    assert counts["after_other_expected"] == pytest.approx(7 * 20 / 1000, abs=0.05)


def test_two_names_need_two_strips(tmp_path):
    cfg = tmp_path / "k.toml"
    cfg.write_text('[source]\nchannels = [0]\nsleepers = ["Sam", "Alex"]\n')
    with pytest.raises(ConfigError, match="two channels"):
        load_config(cfg)
    cfg.write_text('[source]\nchannels = [0, 1]\nsleepers = ["Sam", "sam"]\n')
    with pytest.raises(ConfigError, match="different"):
        load_config(cfg)
    cfg.write_text('[source]\nchannels = [0, 1]\nsleepers = ["Sam", "Alex"]\n')
    assert load_config(cfg).source.sleepers == ["Sam", "Alex"]


def test_two_sleepers_on_a_one_channel_recording_is_one_clear_line(tmp_path):
    rec, _ = cached_night(0.25, 3, "piezo12")
    path = tmp_path / "one.npz"
    write_recording(path, rec)
    r = subprocess.run(KW + ["analyze", str(path), "--sleepers", "Sam,Alex"], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 64
    assert r.stderr.count("\n") == 1 and "two sleepers need a recording with two" in r.stderr


def test_the_printed_summary_names_each_sleeper_and_says_after_other_is_movement_not_waking(tmp_path):
    rec, _ = couple(1.5, 3, 0.35, 12.0)
    path = tmp_path / "two.npz"
    write_recording(path, rec)
    r = subprocess.run(KW + ["analyze", str(path), "--sleepers", "Sam,Alex"], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    assert ": Sam" in r.stdout and ": Alex" in r.stdout
    assert "within 10 s after one of Sam's" in r.stdout and "movement, not waking" in r.stdout


def test_a_recording_of_two_strips_with_one_name_is_one_sleepers_two_legs():
    rec, _ = couple(0.5, 3, 0.35, 12.0)
    assert Recording(rec.fs, rec.signal).channels == 2
    from appliance.detection.analysis import analyze_signal
    out = analyze_signal(rec.signal, rec.fs).as_dict()
    assert "sleepers" not in out and out["recording"]["channels"] == 2


def test_the_daemon_keeps_each_sleepers_night_as_analyze_counts_it(tmp_path):
    import sqlite3 as sq

    from appliance.config import Config
    from appliance.daemon import Daemon, apply_requests
    from appliance.nights import stored_night, stored_nights_of_both
    from appliance.requests import DELETE_NIGHT, leave_request
    from appliance.store import Store
    from sensor.replay import ReplaySource

    rec, _ = couple(1.5, 3, 0.35, 12.0)
    # Sam lies down at 73 s, Alex at 320 s: with noon between them, the evening's date of each bedtime
    # differs, and their one night must still be one date
    noon = dt.datetime.now().astimezone().replace(hour=12, minute=0, second=0, microsecond=0)
    rec = dataclasses.replace(rec, start=noon - dt.timedelta(seconds=200))
    cfg = Config()
    cfg.source.channels, cfg.source.sleepers = [0, 1], ["Sam", "Alex"]
    cfg.store.keep_raw_nights = 0           # an in-memory store has no folder to keep the raw signal beside
    store = Store(sq.connect(":memory:"))
    Daemon(cfg, ReplaySource(rec, speed="max"), store, source_name="test", finite=True).run()
    store.flush()
    both = analyze_couple(rec.signal, rec.fs, ["Sam", "Alex"]).as_dict()
    for k, who in enumerate(["Sam", "Alex"]):
        night = stored_night(store, None, who)
        assert night["night"]["sleeper"] == who and night["night"]["closed"]
        assert night["night"]["date"] == (noon - dt.timedelta(days=1)).date().isoformat()
        assert night["summary"]["lm_count"] == both["sleepers"][k]["summary"]["lm_count"]
        assert night["bed"] == both["sleepers"][k]["bed"]
        # each heart read from its strip less the other's share, in the daemon as in analyze
        assert [v["heart_bpm"] for v in night["vitals"]] == [v["heart_bpm"] for v in both["sleepers"][k]["vitals"]]
    read = stored_nights_of_both(store, ["Sam", "Alex"])
    assert [s["summary"]["after_other_count"] for s in read["sleepers"]] == \
        [s["summary"]["after_other_count"] for s in both["sleepers"]]
    # the household deletes the night: it goes for both
    req = tmp_path / "req"
    leave_request(str(req), DELETE_NIGHT, date=read["night"]["date"])
    assert apply_requests(store, str(req)) == 2
    store.flush()
    assert stored_night(store, None, "Sam") is None and stored_night(store, None, "Alex") is None


def test_night_reads_each_sleepers_stored_night_by_name(tmp_path):
    rec, _ = couple(1.5, 3, 0.35, 12.0)
    path = tmp_path / "two.npz"
    write_recording(path, rec)
    cfg = tmp_path / "k.toml"
    cfg.write_text('[source]\nchannels = [0, 1]\nsleepers = ["Sam", "Alex"]\n')
    db = str(tmp_path / "k.db")
    run = lambda *a: subprocess.run(KW + list(a), capture_output=True, text=True, timeout=300)
    r = run("run", "--config", str(cfg), "--source", str(path), "--speed", "max", "--db", db)
    assert r.returncode == 0, r.stderr
    alex = json.loads(run("night", "--db", db, "--sleeper", "alex", "--json").stdout)
    assert alex["night"]["sleeper"] == "Alex" and "sleepers" not in alex
    both = json.loads(run("night", "--db", db, "--json").stdout)
    assert [s["name"] for s in both["sleepers"]] == ["Sam", "Alex"]
    assert both["sleepers"][1]["summary"]["lm_count"] == alex["summary"]["lm_count"]
    text = run("night", "--db", db).stdout
    assert ": Sam" in text and ": Alex" in text and "chance alone" in text
    r = run("night", "--db", db, "--sleeper", "Bob")
    assert r.returncode == 64 and "its sleepers are Sam, Alex" in r.stderr


def test_two_sleepers_named_on_a_one_strip_source_is_one_clear_line(tmp_path):
    rec, _ = cached_night(0.1, 3, "piezo12")
    path = tmp_path / "one.npz"
    write_recording(path, rec)
    cfg = tmp_path / "k.toml"
    cfg.write_text('[source]\nchannels = [0, 1]\nsleepers = ["Sam", "Alex"]\n')
    r = subprocess.run(KW + ["run", "--config", str(cfg), "--source", str(path), "--speed", "max", "--db",
                             str(tmp_path / "k.db")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 64 and r.stderr.count("\n") == 1
    assert "gives 1 channel(s): two sleepers need a strip each" in r.stderr


def _turning_beside(kick_mine: float, kick_theirs: float, leak: float = 0.02):
    """A couple detector whose frames show the other turning over from 10 s to 50 s (their strip 50 times its
    rest), `leak` of it reaching this strip, and from 30.0 to 31.5 s this strip at `kick_mine` and theirs at
    `kick_theirs`, in the strips' units (rest 2 on both)."""
    from appliance.detection.sleepers import CoupleDetector

    det = CoupleDetector(250.0)
    n = 600                                             # 60 s of 0.1 s frames
    theirs = np.full(n, 2.0)
    theirs[100:500] = 100.0
    theirs[300:315] = kick_theirs
    mine = np.maximum(2.0, leak * theirs)
    mine[300:315] = kick_mine
    for side, sus in zip(det.sides, (mine, theirs)):
        side.frames_start, side.sus, side.ratio, side.held = 0, sus, sus / 2.0, np.zeros(n, int)
    return det, Movement(30.0, 31.5, "lm", peak=kick_mine / 2.0)


def test_a_kick_made_while_the_other_turns_over_is_this_sides_and_the_turns_leak_is_not():
    """Beside a kick of this side's, this strip held still while the other's went on moving: what leaks
    across is measured there (2%), and this strip's kick, a fifth of the other's turn, is this side's own.
    Before, with no filter sure yet to say what is left of the other's movement, it was dropped."""
    det, kick = _turning_beside(kick_mine=20.0, kick_theirs=100.0)
    assert det._own_part(kick, 0) == kick
    # the other's turn growing threefold, and this strip following it at the same 2%: theirs, not a kick
    det, surge = _turning_beside(kick_mine=6.0, kick_theirs=300.0)
    assert det._own_part(surge, 0) is None
    # and where this strip moved beside it too, nothing is measured there: the rule before holds
    det, kick = _turning_beside(kick_mine=20.0, kick_theirs=100.0)
    det.sides[0].ratio[280:300] = 5.0
    det.sides[0].ratio[316:340] = 5.0
    assert det._own_part(kick, 0) is None

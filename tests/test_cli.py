"""The command line, run as a user would: contracts, and one clear line for bad input."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from sensor.recording import write_recording
from tests.conftest import cached_night, night_on_disk

KW = [sys.executable, "-m", "kickwatch"]


def kw(*args, env=None, **kw_):
    e = dict(os.environ, **(env or {}))
    e.pop("KICKWATCH_DEBUG", None)
    return subprocess.run(KW + list(args), capture_output=True, text=True, env=e, timeout=300, **kw_)


@pytest.fixture(scope="module")
def night_file(tmp_path_factory):
    return night_on_disk(tmp_path_factory.mktemp("n") / "night.npz", 1.0, 21, "piezo12")


def test_analyze_as_a_shared_bed_says_so_and_leaves_out_the_partners_sway(tmp_path):
    rec, truth = cached_night(1.0, 11, "partner")
    path = tmp_path / "partner.npz"
    write_recording(path, rec)
    alone = json.loads(kw("analyze", str(path), "--json").stdout)
    r = kw("analyze", str(path), "--json", "--shared-bed")
    assert r.returncode == 0, r.stderr
    shared = json.loads(r.stdout)
    assert shared["recording"]["shared_bed"] is True and "shared_bed" not in alone["recording"]
    assert shared["summary"]["lm_count"] < alone["summary"]["lm_count"]
    assert shared["summary"]["lm_count"] >= len(truth.lms) - 1     # the sleeper's own kicks stay


def test_help_explains_each_command():
    out = kw("--help").stdout
    for cmd in ("analyze", "simulate", "run", "night", "config"):
        assert cmd in out
    assert "--speed" in kw("run", "--help").stdout


def test_simulate_help_names_every_profile_it_takes():
    from sensor.simulator import COUPLES, PROFILES

    listed = " ".join(kw("simulate", "--help").stdout.split())      # argparse wraps the help
    for name in list(PROFILES) + list(COUPLES):
        assert f" {name}," in listed or f" {name} " in listed or f" {name};" in listed, name


def test_analyze_json_keeps_the_contract(night_file):
    r = kw("analyze", str(night_file), "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert set(out["recording"]) >= {"fs", "channels", "duration_s"}
    assert out["recording"]["fs"] == 250.0 and out["recording"]["channels"] == 1
    assert out["movements"], "a simulated night has movements"
    for m in out["movements"]:
        assert set(m) >= {"onset_s", "offset_s", "kind", "periodic", "series"}
        assert m["kind"] in ("lm", "large")
        assert (m["series"] is None) == (not m["periodic"])
    for s in out["series"]:
        assert set(s) >= {"id", "onset_s", "offset_s", "count"}
    assert set(out["summary"]) >= {"hours_in_bed", "lm_count", "plm_count", "series_count", "plmi", "lmi",
                                   "periodicity_index"}


def test_run_then_night_gives_the_same_movements_as_analyze(night_file, tmp_path):
    db = tmp_path / "k.db"
    r = kw("run", "--source", str(night_file), "--speed", "max", "--db", str(db))
    assert r.returncode == 0, r.stderr
    assert "night(s) stored" in r.stdout
    night = json.loads(kw("night", "--db", str(db), "--json").stdout)
    analyzed = json.loads(kw("analyze", str(night_file), "--json").stdout)
    assert night["movements"] == analyzed["movements"]
    assert night["series"] == analyzed["series"]
    # heart and breathing from the first whole minute in bed, though the night opens once getting in is sure
    assert night["vitals"] == analyzed["vitals"]
    for key in ("lm_count", "plm_count", "series_count", "plmi", "lmi", "periodicity_index", "hours_in_bed"):
        assert night["summary"][key] == analyzed["summary"][key]
    date = night["night"]["date"]
    assert json.loads(kw("night", date, "--db", str(db), "--json").stdout)["movements"] == night["movements"]


def test_the_real_recordings_analyze_without_fuss(real_dir):
    r = kw("analyze", str(real_dir / "fsr_bed_b.npz"), "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["recording"]["fs"] == 175.0 and out["series"] == []


@pytest.mark.parametrize("setup,args,code,message", [
    (None, ["analyze", "{tmp}/missing.npz"], 65, "no such file"),
    (lambda t: (t / "x.npz").write_bytes(b"garbage"), ["analyze", "{tmp}/x.npz"], 65, "is not a .npz recording"),
    (lambda t: (t / "x.npz").write_bytes(bytes(range(256)) * 40), ["analyze", "{tmp}/x.npz"], 65,
     "is not a .npz recording"),
    (lambda t: np.savez(t / "x.npz", fs=250.0, signal=np.array([[1], "a"], dtype=object)),
     ["analyze", "{tmp}/x.npz"], 65, "holds Python objects, not numbers"),
    (lambda t: (t / "x.edf").write_bytes(b"\x00garbage" * 50), ["analyze", "{tmp}/x.edf"], 65,
     "is not an EDF recording"),
    (lambda t: (t / "x.edf").write_bytes(b"0       " + b"x" * 300), ["analyze", "{tmp}/x.edf"], 65,
     "is not a readable .edf recording"),
    (lambda t: (t / "x.csv").write_text("t,ch0\n0,1\n0.01,2,3\n"), ["analyze", "{tmp}/x.csv"], 65,
     "line 3 has 3 values, the header 2"),
    (lambda t: (t / "x.csv").write_text("t,ch0\n0,1\n0.01,oops\n"), ["analyze", "{tmp}/x.csv"], 65,
     "line 3: 'oops' is not a number"),
    (None, ["config", "--check", "{tmp}/missing.toml"], 78, "check the name after --check"),
    (lambda t: (t / "c.toml").write_text("[series]\nmin_count = 2.5\n"), ["config", "--check", "{tmp}/c.toml"], 78,
     "series.min_count must be a whole number"),
    (None, ["bogus"], 64, "invalid choice: 'bogus'"),
    (None, ["analyze"], 64, "the following arguments are required: recording"),
    (None, ["web", "--port", "eighty"], 64, "invalid int value"),
    (lambda t: (t / "x.wav").write_bytes(b"RIFF"), ["analyze", "{tmp}/x.wav"], 65, "unknown recording format"),
    (lambda t: np.savez(t / "x.npz", fs=0.0, signal=np.ones(9)), ["analyze", "{tmp}/x.npz"], 65, "positive"),
    (lambda t: (t / "c.toml").write_text("[source]\nrate_hz = 9000\n"),
     ["run", "--config", "{tmp}/c.toml", "--db", "{tmp}/k.db"], 78, "rate_hz must be between"),
    (lambda t: (t / "c.toml").write_text("[source\n"), ["analyze", "x.npz", "--config", "{tmp}/c.toml"], 78, "TOML"),
    (None, ["run", "--config", "{tmp}/none.toml"], 78, "does not exist"),
    (None, ["run", "--source", "ads1256", "--db", "{tmp}/k.db"], 69, "spidev"),
    (None, ["run", "--source", "mcp3208", "--db", "{tmp}/k.db"], 69, "sim or a recording"),
    (None, ["run", "--source", "nonsense", "--db", "{tmp}/k.db"], 64, "unknown source"),
    (None, ["night", "--db", "{tmp}/none.db"], 73, "no database"),
    (None, ["night", "yesterday", "--db", "{tmp}/none.db"], 64, "YYYY-MM-DD"),
    (None, ["simulate", "{tmp}/x.npz", "--profile", "nope"], 64, "unknown profile"),
])
def test_bad_input_gets_one_line_and_a_status(tmp_path, setup, args, code, message):
    if setup:
        setup(tmp_path)
    r = kw(*[a.format(tmp=tmp_path) for a in args], env={"GPIOZERO_PIN_FACTORY": "lgpio"})
    assert r.returncode == code, (r.returncode, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kickwatch: error:"), r.stderr
    assert message in lines[0]
    assert "Traceback" not in r.stderr


def test_an_empty_database_has_no_nights_yet(tmp_path):
    from appliance.store import Store
    Store(tmp_path / "k.db").close()
    r = kw("night", "--db", str(tmp_path / "k.db"))
    assert r.returncode == 1 and "no nights yet" in r.stderr


def test_sigterm_flushes_and_exits_cleanly(night_file, tmp_path):
    sock_path = str(tmp_path / "n.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(sock_path)
    listener.settimeout(60)
    db = tmp_path / "k.db"
    p = subprocess.Popen(KW + ["run", "--source", str(night_file), "--speed", "realtime", "--db", str(db)],
                         env=dict(os.environ, NOTIFY_SOCKET=sock_path), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        assert listener.recv(256).startswith(b"READY=1")
        time.sleep(1.5)
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=30)
    finally:
        p.kill()
        listener.close()
    assert p.returncode == 0, err
    import sqlite3
    con = sqlite3.connect(db)
    assert con.execute("SELECT count(*) FROM sessions").fetchone()[0] == 1
    assert con.execute("SELECT count(*) FROM state WHERE key = 'daemon'").fetchone()[0] == 1
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_simulate_writes_the_truth_beside_the_recording(tmp_path):
    r = kw("simulate", str(tmp_path / "s.npz"), "--hours", "0.2", "--seed", "3")
    assert r.returncode == 0, r.stderr
    truth = json.loads((tmp_path / "s.truth.json").read_text())
    assert truth["fs"] == 250.0 and truth["bed"] and "lms" in truth


def test_night_at_its_defaults_with_nothing_stored_says_what_to_do(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KICKWATCH")}
    r = subprocess.run(KW + ["night"], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    if os.path.exists("/var/lib/kickwatch/kickwatch.db"):
        pytest.skip("this machine has a kickwatch database at the default place")
    assert r.returncode == 73 and r.stderr.strip() == (
        "kickwatch: error: no database at /var/lib/kickwatch/kickwatch.db; run the daemon first, or pass --db")


def test_a_stray_error_is_a_bug_said_as_such_not_a_usage_error():
    from kickwatch.cli import _said
    message, code = _said(ValueError("operands could not be broadcast together"))
    assert code == 70 and message.startswith("internal error (a bug in kickwatch, not your input)")
    from sensor.errors import SourceSettingError
    assert _said(SourceSettingError("unknown source 'x'")) == ("unknown source 'x'", 64)


def test_rescore_counts_stored_nights_again_and_says_what_changed(night_file, tmp_path):
    db = tmp_path / "k.db"
    assert kw("run", "--source", str(night_file), "--speed", "max", "--db", str(db)).returncode == 0
    before = json.loads(kw("night", "--db", str(db), "--json").stdout)
    (tmp_path / "c.toml").write_text("[series]\nmin_count = 2\nimi_max_s = 300\n")
    # reading under other rules changes nothing: the night is read as it was recorded
    assert json.loads(kw("night", "--db", str(db), "--json", "--config", str(tmp_path / "c.toml")).stdout) == before
    r = kw("rescore", "--db", str(db), "--config", str(tmp_path / "c.toml"))
    assert r.returncode == 0, r.stderr
    after = json.loads(kw("night", "--db", str(db), "--json").stdout)
    assert after["summary"]["plm_count"] >= before["summary"]["plm_count"]
    assert after["night"]["scored_with"]["min_count"] == 2
    date = before["night"]["date"]
    if after["summary"]["plmi"] != before["summary"]["plmi"]:
        assert f"night of {date}: " in r.stdout and f"plmi {before['summary']['plmi']} -> " in r.stdout
    assert "1 night(s) counted again under IMI 10-300 s, at least 2 in a row" in r.stdout
    assert len(after["movements"]) == len(before["movements"])       # marks change, movements stay
    listed = json.loads(kw("night", date, "--db", str(db), "--json").stdout)["summary"]["plmi"]
    import sqlite3
    assert sqlite3.connect(db).execute("SELECT plmi FROM nights").fetchone()[0] == listed


def test_a_sample_rate_too_low_for_a_leg_movement_is_refused(tmp_path):
    t = np.arange(600.0)
    np.savetxt(tmp_path / "slow.csv", np.column_stack([t, np.sin(t)]), delimiter=",", header="t,ch0", comments="")
    r = kw("analyze", str(tmp_path / "slow.csv"), "--json")
    assert r.returncode == 65 and r.stdout == ""
    assert "1 samples per second, too few to see a leg movement" in r.stderr and "at least 100" in r.stderr


def test_a_short_stay_in_bed_has_no_per_hour_rate_and_says_why(real_dir):
    r = kw("analyze", str(real_dir / "fsr_bed_b.npz"), "--json")     # about ten minutes in bed
    s = json.loads(r.stdout)["summary"]
    assert s["plmi"] is None and s["lmi"] is None
    assert s["not_measured"].startswith("Only ") and "at least 60 minutes in bed" in s["not_measured"]
    text = kw("analyze", str(real_dir / "fsr_bed_b.npz")).stdout
    assert "per hour" not in text.split("PLMI")[0] and "PLMI            not measured: Only" in text


def test_a_whole_night_is_measured(night_file):
    s = json.loads(kw("analyze", str(night_file), "--json").stdout)["summary"]
    if s["hours_in_bed"] >= 1.0:
        assert s["plmi"] is not None and s["not_measured"] is None


def test_analyze_reads_the_households_config_like_every_other_command(night_file, tmp_path):
    (tmp_path / "k.toml").write_text("[detection]\nshared_bed = true\n")
    r = kw("analyze", str(night_file), "--json", env={"KICKWATCH_CONFIG": str(tmp_path / "k.toml")})
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["recording"]["shared_bed"] is True

"""kickwatch doctor and calibrate, against the fake ADCs and simulated bodies."""
from __future__ import annotations

import re

import numpy as np
import pytest

from appliance.config import Config, DetectionConfig
from appliance.doctor import Check, calibrate, doctor
from sensor.errors import SPIDeviceAbsent
from sensor.mcp3xxx import MCP3xxxSource
from sensor.recording import Recording
from sensor.replay import ReplaySource
from tests.fakes import FakeMCP3xxx
from tests.test_adcs import FakeClock
from tests.test_detector import add_burst, add_sway, heartbeat_rms, sleeper

FS = 100.0


def no_system(cfg):
    return [Check("clock", True, "test")]


def mcp_opener(signal):
    clock = FakeClock()
    fake = FakeMCP3xxx(bits=12, signal=signal)

    def opener():
        return MCP3xxxSource("mcp3208", channels=(0,), fs=FS, block_s=1.0, clock=clock, sleep=clock.sleep)
    return opener, fake


def cfg_for(kind="mcp3208"):
    cfg = Config()
    cfg.source.kind = kind
    return cfg


def by_name(checks):
    return {c.name: c for c in checks}


def test_healthy_sleeper(mock_factory):
    body = sleeper(20, fs=FS, seed=3) * 0.1 + 1.5
    opener, fake = mcp_opener(lambda ch, n: float(body[n % len(body)]))
    checks = by_name(doctor(cfg_for(), opener, seconds=15, system=no_system))
    assert checks["ADC"].ok and checks["signal ch0"].ok
    assert "heartbeat ~60/min" in checks["bed"].detail
    fake.close()


def test_flat_signal_says_unplugged(mock_factory):
    opener, fake = mcp_opener(lambda ch, n: 1.65)
    checks = by_name(doctor(cfg_for(), opener, seconds=3, system=no_system))
    assert not checks["signal ch0"].ok and "unplugged" in checks["signal ch0"].detail
    fake.close()


def test_signal_at_the_rail_says_check_the_bias(mock_factory):
    opener, fake = mcp_opener(lambda ch, n: 3.3 if n % 50 else 3.2)
    checks = by_name(doctor(cfg_for(), opener, seconds=3, system=no_system))
    assert not checks["signal ch0"].ok and "limit" in checks["signal ch0"].detail
    fake.close()


def test_clipping_now_and_then_says_lower_the_gain(mock_factory):
    opener, fake = mcp_opener(lambda ch, n: 3.3 if n % 20 == 0 else 1.6 + 0.01 * np.sin(n))
    checks = by_name(doctor(cfg_for(), opener, seconds=3, system=no_system))
    assert not checks["signal ch0"].ok and "lower the gain" in checks["signal ch0"].detail
    fake.close()


def test_absent_device_fails_with_the_fix(mock_factory):
    def opener():
        raise SPIDeviceAbsent("no SPI device /dev/spidev0.0: enable SPI with 'sudo raspi-config nonint do_spi 0'")
    checks = by_name(doctor(cfg_for(), opener, seconds=1, system=no_system))
    assert not checks["ADC"].ok and "raspi-config" in checks["ADC"].detail
    assert not checks["SPI"].ok        # this machine has no /dev/spidev0.0


def lift_session(fs=250.0, kicks=True, body=True):
    x = sleeper(60, fs=fs, seed=5) if body else np.random.default_rng(0).normal(1.65, 0.02, int(60 * fs))
    if kicks:
        for k in range(3):
            x = add_burst(x, 33 + 10 * k, 1.5, rms=8, fs=fs, seed=k)
    return lambda: ReplaySource(Recording(fs, x[:, None]), speed="max")


def test_calibrate_sees_heart_and_three_lifts():
    report = calibrate(lift_session(), say=lambda m: None, pause=lambda s: None)
    assert report["heart_bpm"] == 60 and report["movements_seen"] == 3
    assert "looks good" in report["advice"][0]


def test_calibrate_far_from_the_body_says_move_the_strip():
    report = calibrate(lift_session(kicks=False, body=False), say=lambda m: None, pause=lambda s: None)
    assert report["heart_bpm"] is None and report["movements_seen"] == 0
    assert any("move the strip" in a for a in report["advice"])


def shared_session(partner_through_mattress=True, fs=250.0):
    """The sleeper lifts a foot three times, then the partner does, on their side."""
    x = sleeper(90, fs=fs, seed=5)
    for k in range(3):
        x = add_burst(x, 33 + 10 * k, 1.5, rms=8, fs=fs, seed=k)
        if partner_through_mattress:
            x = add_sway(x, 63 + 10 * k, 2.0, rms=3 * heartbeat_rms(), fs=fs, seed=10 + k)
        else:      # the strip reaches under the partner's legs too
            x = add_burst(x, 63 + 10 * k, 1.5, rms=8, fs=fs, seed=10 + k)
    return lambda: ReplaySource(Recording(fs, x[:, None]), speed="max")


def shared() -> DetectionConfig:
    return DetectionConfig(shared_bed=True)


def test_calibrate_in_a_shared_bed_counts_the_sleepers_lifts_and_not_the_partners():
    report = calibrate(shared_session(), say=lambda m: None, pause=lambda s: None, cfg=shared())
    assert report["movements_seen"] == 3 and report["partner_lifts_counted"] == 0
    assert "none of your partner's counted" in report["advice"][0]


def test_calibrate_in_a_shared_bed_says_move_the_strip_when_the_partners_lifts_count():
    report = calibrate(shared_session(partner_through_mattress=False), say=lambda m: None, pause=lambda s: None,
                       cfg=shared())
    assert report["partner_lifts_counted"] == 3
    assert any("away from the middle" in a for a in report["advice"])


def test_doctor_at_its_defaults_on_the_fake_adc_finds_the_heartbeat(mock_factory):
    fs = Config().source.rate_hz          # the configured rate, 250 Hz, and the default 10 s
    body = sleeper(20, fs=fs, seed=3) * 0.1 + 1.5
    clock = FakeClock()
    fake = FakeMCP3xxx(bits=12, signal=lambda ch, n: float(body[n % len(body)]))
    opener = lambda: MCP3xxxSource("mcp3208", channels=(0,), fs=fs, block_s=1.0, clock=clock, sleep=clock.sleep)
    checks = by_name(doctor(cfg_for(), opener, system=no_system))
    assert checks["ADC"].ok and "2500 samples at 250 Hz" in checks["ADC"].detail
    assert "heartbeat ~60/min" in checks["bed"].detail
    fake.close()


def test_rhythms_need_seconds_not_frames():
    from appliance.doctor import rhythms
    for fs in (100.0, 175.0, 250.0, 500.0):
        x = sleeper(10, fs=fs, seed=3)
        bpm = rhythms(x, fs)["heart_bpm"]
        assert bpm is not None and abs(bpm - 60) <= 3, (fs, bpm)   # 10 s: the heart, at every rate (one frame's step)
        assert rhythms(x[: int(3 * fs)], fs)["heart_bpm"] is None    # 3 s: too short to say


def test_the_bed_check_sees_someone_on_every_real_recording(real_dir):
    from sensor.replay import ReplaySource
    for path in sorted(real_dir.glob("*.npz")):
        checks = by_name(doctor(cfg_for(str(path)), lambda: ReplaySource(str(path)), system=no_system))
        assert checks["ADC"].ok and checks["signal ch0"].ok, path.name
        # recorded in mV: about 2 V of load swing, not "2.27e+03 V"
        assert re.search(r"alive, [0-9.]+ V peak to peak", checks["signal ch0"].detail), checks["signal ch0"].detail
        assert "someone lies on the strip" in checks["bed"].detail, (path.name, checks["bed"].detail)


@pytest.mark.parametrize("command", [["doctor"], ["calibrate"], ["config"]])
def test_every_command_runs_at_its_defaults_on_a_machine_with_no_pi(command, tmp_path):
    import os
    import subprocess
    import sys
    env = {k: v for k, v in os.environ.items() if not k.startswith("KICKWATCH")}
    r = subprocess.run([sys.executable, "-m", "kickwatch", *command], capture_output=True, text=True, env=env,
                       cwd=tmp_path, timeout=300)
    assert r.returncode in (0, 1), r.stderr
    assert r.stderr == "", r.stderr          # nothing leaks: no traceback, no systemctl chatter
    last = r.stdout.strip().splitlines()[-1]
    assert {"doctor": "checks OK", "calibrate": "  - ", "config": "secret_file"}[command[0]] in r.stdout, last


def test_calibrate_counts_a_lift_only_as_the_night_would():
    """A lift held for 12 s is a large movement in the night, not a leg movement: calibrate says so too.
    (The next lift comes 5 s after it: one within 3 s would join it, as turning over joins its pieces.)"""
    x = sleeper(80, fs=250.0, seed=5)
    for start, length in ((33, 1.5), (48, 12.0), (65, 1.5)):
        x = add_burst(x, start, length, rms=8, fs=250.0, seed=int(start))
    src = lambda: ReplaySource(Recording(250.0, x[:, None]), speed="max")
    report = calibrate(src, say=lambda m: None, pause=lambda s: None, lift_every_s=15.0)
    assert report["movements_seen"] == 2
    assert any("Only 2 of 3" in a for a in report["advice"])


def two_strip_session(fs=250.0, coupling=0.3, swapped=False):
    """Both lie still, then Sam lifts a foot three times, then Alex does; each strip under its sleeper."""
    sam = sleeper(90, fs=fs, seed=5) - 1.65
    alex = np.roll(sleeper(90, fs=fs, seed=6) - 1.65, int(0.45 * fs))    # a heart of her own, beating apart
    for k in range(3):
        sam = add_burst(sam, 33 + 10 * k, 1.5, rms=8, fs=fs, seed=k)
        alex = add_burst(alex, 63 + 10 * k, 1.5, rms=8, fs=fs, seed=10 + k)
    strips = [sam + coupling * alex + 1.65, alex + coupling * sam + 1.65]
    if swapped:
        strips = strips[::-1]
    return lambda: ReplaySource(Recording(fs, np.column_stack(strips)), speed="max")


def test_calibrate_for_two_counts_each_ones_lifts_for_them_alone():
    from appliance.doctor import calibrate_two

    report = calibrate_two(two_strip_session(), ["Sam", "Alex"], say=lambda m: None, pause=lambda s: None)
    for sl in report["sleepers"]:
        assert sl["heart_bpm"] == 60 and sl["lifts_seen"] == 3 and sl["lifts_counted_as_other"] == 0, sl
    assert "looks good" in report["advice"][0]


def test_calibrate_for_two_says_the_strips_are_swapped_when_each_ones_lifts_count_for_the_other():
    from appliance.doctor import calibrate_two

    report = calibrate_two(two_strip_session(swapped=True), ["Sam", "Alex"], say=lambda m: None, pause=lambda s: None)
    assert all(sl["lifts_counted_as_other"] == 3 for sl in report["sleepers"])
    assert any("swapped (channel 0 must lie under Sam)" in a for a in report["advice"])

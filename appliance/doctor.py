"""`kickwatch doctor` and `kickwatch calibrate`: is everything right, and is the strip in the right place.

The checks read a few seconds from the configured source (or, while the daemon
runs and owns the ADC, its latest health in the store) and look at the signal the
way the detector will: present, not flat, not stuck at a rail, with a heartbeat
and breathing when someone lies on it. Each check is OK or says what to do.
"""
from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from appliance import sensor_status
from appliance.config import Config, DetectionConfig
from appliance.daemon import TIMESYNC_FLAG
from appliance.detection.analysis import analyze_couple, analyze_signal
from appliance.detection.clipping import ClipCounter
from appliance.detection.detector import ChannelDetector
from appliance.detection.settings import Rules
from appliance.detection.vitals import stretch_rates
from appliance.store import State
from sensor.errors import SensorError
from sensor.sources import HARDWARE


@dataclass
class Check:
    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'OK  ' if self.ok else 'FAIL'}  {self.name:18s} {self.detail}"


class Reader:
    """Reads a source a few seconds at a time, carrying over what a block brought beyond."""

    def __init__(self, source):
        self.source = source
        self._it = iter(source)
        self._left = np.empty((0, source.channels))

    def read(self, seconds: float) -> np.ndarray:
        want = int(seconds * self.source.fs)
        parts, n = [self._left], len(self._left)
        while n < want:
            try:
                block = next(self._it)
            except StopIteration:
                break
            parts.append(block.samples)
            n += block.n
        x = np.concatenate(parts)
        self._left = x[want:]
        return x[:want]


def signal_checks(x: np.ndarray, fs: float, rails: tuple[float, float] | None, units: str = "V") -> list[Check]:
    """Alive, not flat, not at a rail, and the noise level, for each channel."""
    out = []
    for c in range(x.shape[1]):
        ch = x[:, c]
        tag = f"signal ch{c}"
        if len(ch) < fs:
            out.append(Check(tag, False, "less than a second of samples came: check the ADC wiring"))
            continue
        span = float(np.ptp(ch))
        if span == 0:
            out.append(Check(tag, False, f"flat at {_amount(ch[0], units)}: the strip is unplugged or its cable is broken"))
            continue
        at_rail = (float(np.mean((ch <= rails[0]) | (ch >= rails[1]))) if rails is not None
                   else ClipCounter(1).count(ch[:, None]) / len(ch))
        if at_rail:
            if at_rail > 0.5:
                out.append(Check(tag, False, f"stuck at the ADC's limit {100 * at_rail:.0f}% of the time: "
                                             "check the bias (half the reference) and lower the gain"))
                continue
            if at_rail > 0.01:
                out.append(Check(tag, False, f"clipping {100 * at_rail:.1f}% of the time: lower the gain"))
                continue
        noise = float(np.median(np.abs(np.diff(ch))))
        out.append(Check(tag, True, f"alive, {_amount(span, units)} peak to peak, sample-to-sample noise {_amount(noise, units)}"))
    return out


TO_VOLTS = {"V": 1.0, "mV": 1e-3, "uV": 1e-6, "µV": 1e-6, "nV": 1e-9}


def _amount(v: float, units: str = "V") -> str:
    """`v` in the source's own units (a recording may be in mV, or in ADC counts), with a readable prefix."""
    if units not in TO_VOLTS:
        return f"{v:.4g} {units}"
    v = v * TO_VOLTS[units]
    for unit, scale in (("V", 1.0), ("mV", 1e-3), ("uV", 1e-6)):
        if abs(v) >= scale:
            return f"{v / scale:.3g} {unit}"
    return f"{v / 1e-9:.3g} nV"


def rhythms(x: np.ndarray, fs: float) -> dict:
    """Heartbeat and breathing in a still stretch: their rates by the same steps as the night's
    minutes (appliance.detection.vitals), None without a clear rhythm rather than a guess; and
    `present`, whether a body's rhythm is there at all (a coarser look that sees one sooner)."""
    coarse = _body_rhythm(x, fs)
    return {**stretch_rates(x, fs), "present": coarse["heart_bpm"] is not None or coarse["breaths_pm"] is not None}


HEART_MIN_S = 5.0       # a few beats at the slowest heart rate looked for (40/min)
BREATH_MIN_S = 25.0     # a few breaths at the slowest rate looked for, beside the trend window
BREATH_TREND_S = 10.0   # the slow drift taken out before looking for breaths


def _body_rhythm(x: np.ndarray, fs: float) -> dict:
    """Whether a body lies there: something beats or breathes in the detector's frames (a coarse
    look, 0.1 s steps, that says a rhythm is there but is too coarse for its rate). Needs
    HEART_MIN_S of signal for the heart and BREATH_MIN_S for breathing, whatever the rate."""
    det = ChannelDetector(fs)
    h = det.h
    n = len(x) // h
    frames = x[:n * h].reshape(n, h).mean(axis=1)
    frame_s = det.frame_s
    result = {"heart_bpm": None, "breaths_pm": None, "heart_r": 0.0, "breath_r": 0.0}
    if n * frame_s >= HEART_MIN_S:
        beat = np.abs(np.diff(frames))
        r, lag = _best_lag(beat - beat.mean(), frame_s, 0.45, 1.6)
        result["heart_r"] = r
        if r > 0.25:
            result["heart_bpm"] = round(60 / lag)
    trend_n = int(round(BREATH_TREND_S / frame_s)) | 1          # odd: centred on its frame
    if n * frame_s >= BREATH_MIN_S:
        half = trend_n // 2
        # "valid": one trend value per frame that has a whole window around it, the same length as the slice
        slow = frames[half:n - half] - np.convolve(frames, np.ones(trend_n) / trend_n, mode="valid")
        r, lag = _best_lag(slow, frame_s, 2.4, 10.0)
        result["breath_r"] = r
        if r > 0.3:
            result["breaths_pm"] = round(60 / lag)
    return result


def _best_lag(v: np.ndarray, step_s: float, lo_s: float, hi_s: float) -> tuple[float, float]:
    if len(v) < 3 or not np.any(v):
        return 0.0, 0.0
    denom = float(np.dot(v, v))
    best, best_lag = 0.0, 0.0
    for k in range(max(1, int(lo_s / step_s)), min(len(v) - 1, int(hi_s / step_s)) + 1):
        r = float(np.dot(v[:-k], v[k:])) / denom * len(v) / (len(v) - k)
        if r > best:
            best, best_lag = r, k * step_s
    return best, best_lag




def system_checks(cfg: Config, *, timesync=TIMESYNC_FLAG, run=subprocess.run) -> list[Check]:
    out = []
    out.append(Check("clock", os.path.exists(timesync),
                     "synchronised by NTP" if os.path.exists(timesync) else
                     "not synchronised yet: times may be off until the network is up (no RTC on a Pi)"))
    db = Path(cfg.store.database)
    where = db.parent if db.parent.exists() else Path("/")
    du = shutil.disk_usage(where)
    free_pc = 100 * du.free / du.total
    out.append(Check("disk", du.free > 200e6 and free_pc > 5,
                     f"{du.free / 1e9:.1f} GB free ({free_pc:.0f}%) on {where}" +
                     ("" if du.free > 200e6 and free_pc > 5 else ": free some space, nights need ~100 kB each")))
    if not systemd_running():
        out.append(Check("services", True, "not checked: this machine does not run systemd (on the Pi it does)"))
    else:
        for unit in ("kickwatch", "kickwatch-web"):
            r = run(["systemctl", "is-active", unit], capture_output=True, text=True)
            state = r.stdout.strip() or "unknown"
            out.append(Check(f"service {unit}", state == "active",
                             state if state == "active" else f"{state}: sudo systemctl start {unit}; "
                                                             f"journalctl -u {unit} says why"))
    return out


def spi_check(cfg: Config) -> Check:
    kind = cfg.source.kind
    if kind not in HARDWARE:
        return Check("SPI", True, f"not needed (source is {kind})")
    dev = Path(f"/dev/spidev{cfg.source.spi_bus}.{cfg.source.spi_device}")
    if dev.exists():
        return Check("SPI", True, f"{dev} present")
    return Check("SPI", False, f"{dev} missing: sudo raspi-config nonint do_spi 0, then reboot")


def systemd_running() -> bool:
    """systemd is PID 1 (sd_booted): only then can systemctl answer. In a container or chroot it cannot."""
    return bool(shutil.which("systemctl")) and os.path.isdir("/run/systemd/system")


def daemon_owns_adc(run=subprocess.run) -> bool:
    if not systemd_running():
        return False
    return run(["systemctl", "is-active", "--quiet", "kickwatch"], capture_output=True).returncode == 0


def doctor(cfg: Config, open_source, *, seconds: float = 10.0, daemon_running: bool = False,
           system=system_checks, store=None) -> list[Check]:
    """Every check, in the order a person would fix them."""
    checks = [spi_check(cfg)]
    if daemon_running and store is not None:
        checks += _from_store(store)
    else:
        try:
            src = open_source()
        except (SensorError, ValueError) as e:
            checks.append(Check("ADC", False, str(e)))
            src = None
        if src is not None:
            try:
                x = Reader(src).read(seconds)
                checks.append(Check("ADC", True, f"answering, {len(x)} samples at {src.fs:g} Hz"))
                sig = signal_checks(x, src.fs, src.rails, src.units)
                checks += sig
                if all(c.ok for c in sig):
                    rh = rhythms(x[:, 0], src.fs)
                    if rh["heart_bpm"]:
                        checks.append(Check("bed", True, f"someone lies on the strip: heartbeat ~{rh['heart_bpm']}/min"
                                                         + (f", breathing ~{rh['breaths_pm']}/min" if rh["breaths_pm"] else "")))
                    elif rh["present"]:
                        checks.append(Check("bed", True, f"someone lies on the strip, but no clear heart rate in these "
                                                         f"{seconds:g} s (lie still and run it again to read one)"))
                    else:
                        checks.append(Check("bed", True, "no heartbeat seen: the bed looks empty (or the strip is "
                                                         "too far from the body: run kickwatch calibrate)"))
            except SensorError as e:
                checks.append(Check("ADC", False, str(e)))
            finally:
                src.close()
    checks += system(cfg)
    if cfg.mqtt.host:
        checks.append(mqtt_check(cfg))
    return checks


def mqtt_check(cfg: Config) -> Check:
    """Home Assistant's broker: kickwatch logs in once, as the daemon does."""
    from appliance.mqtt import try_connect

    problem = try_connect(cfg.mqtt)
    if problem is None and cfg.mqtt.password_file:
        mode = Path(cfg.mqtt.password_file).stat().st_mode
        if mode & 0o004:
            problem = (f"{cfg.mqtt.password_file} can be read by every user of this machine: "
                       f"sudo chmod 0640 {cfg.mqtt.password_file}; sudo chown root:kickwatch {cfg.mqtt.password_file}")
    return Check("MQTT", problem is None, f"the broker at {cfg.mqtt.host}:{cfg.mqtt.port} takes kickwatch's login"
                 if problem is None else problem)


def _from_store(store) -> list[Check]:
    daemon = store.get_state(State.DAEMON) or {}
    health = store.latest_health() or {}
    age = time.time() - daemon.get("last_sample_utc", 0)
    out = [Check("ADC", age < 180, f"the daemon read a sample {age:.0f} s ago" if age < 180 else
                 f"no sample for {age / 60:.0f} min: journalctl -u kickwatch")]
    status = health.get("status", sensor_status.UNKNOWN)
    out.append(Check("signal", status == sensor_status.OK, sensor_status.words(status)))
    out.append(Check("bed", True, {"in": "someone is in bed", "out": "the bed is empty"}.get(daemon.get("in_bed"),
                                                                                          "not known yet")))
    return out


# -- calibrate -------------------------------------------------------------------------------
def calibrate(open_source, say=print, pause=time.sleep, still_s: float = 30.0, lifts: int = 3,
              lift_every_s: float = 10.0, cfg: DetectionConfig | None = None) -> dict:
    """Lie still, then lift a foot `lifts` times when told; report what the strip saw.

    In a shared bed the partner then lifts a foot too: the placement is right when
    the sleeper's lifts count and the partner's, felt only through the mattress, do not.
    """
    cfg = cfg or DetectionConfig()
    src = open_source()
    try:
        reader = Reader(src)
        say(f"Lie down on your back, legs where they are at night, and stay still for {still_s:.0f} seconds...")
        still = reader.read(still_s)[:, 0]
        rh = rhythms(still, src.fs)
        turns = [("Now lift your foot a few centimetres and put it down", len(still) / src.fs)]
        if cfg.shared_bed:
            turns.append(("Now you stay still, and your partner lifts a foot on their side",
                          turns[0][1] + lifts * lift_every_s))
        parts = [still]
        for words, _ in turns:
            for i in range(lifts):
                say(f"{words} ({i + 1} of {lifts}).")
                pause(0)
                parts.append(reader.read(lift_every_s)[:, 0])
    finally:
        src.close()
    x = np.concatenate(parts)
    starts = [t for _, t in turns] + [float("inf")]

    def counted(rules: DetectionConfig) -> list[list]:
        """The leg movements the night would count, by the turn they fell in (the same pipeline, the same rules)."""
        found = [m for m in analyze_signal(x, src.fs, Rules(detection=rules)).movements if m.kind == "lm"]
        return [[m for m in found if a - 0.5 <= m.onset_s < b - 0.5] for a, b in zip(starts, starts[1:])]

    counts = counted(cfg)
    moved = counted(dataclasses.replace(cfg, shared_bed=False)) if cfg.shared_bed else counts
    seen = len(counts[0])
    report = {"heart_bpm": rh["heart_bpm"], "breaths_pm": rh["breaths_pm"], "movements_seen": seen,
              "movements_asked": lifts, "advice": []}
    if rh["heart_bpm"] is None:
        report["advice"].append("No heartbeat seen: move the strip nearer the body (under the calves or thighs), "
                                "on a thin rigid board, or raise the gain.")
    if rh["breaths_pm"] is None:
        report["advice"].append("No breathing seen: normal under the legs with a piezo strip; a load strip should "
                                "see it, so check that it carries weight.")
    if seen < lifts <= len(moved[0]):
        report["advice"].append(f"Only {seen} of {lifts} foot lifts brought the quick force a shared bed asks for: "
                                "lay the strip on a thin rigid board, right under the calves.")
    elif seen < lifts:
        report["advice"].append(f"Only {seen} of {lifts} foot lifts were seen: move the strip under the legs of "
                                "the sleeper being watched, or raise the gain.")
    elif seen > lifts + 1:
        report["advice"].append(f"{seen} movements for {lifts} lifts: the signal is noisy; check the cable "
                                "(away from mains leads) and the strip's connector.")
    if cfg.shared_bed:
        report["partner_lifts_counted"] = len(counts[1])
        if counts[1]:
            report["advice"].append(f"{len(counts[1])} of your partner's {lifts} foot lifts counted as yours: move the "
                                    "strip away from the middle of the bed, under your own calves.")
    if not report["advice"]:
        report["advice"].append("Placement looks good: heartbeat and every foot lift were seen"
                                + (", and none of your partner's counted." if cfg.shared_bed else "."))
    return report


def calibrate_two(open_source, names: list[str], say=print, pause=time.sleep, still_s: float = 30.0, lifts: int = 3,
                  lift_every_s: float = 10.0, cfg: DetectionConfig | None = None) -> dict:
    """Two sleepers, a strip under each: both lie still, then each lifts a foot `lifts` times in turn.

    The placement is right when each strip sees a heartbeat and each sleeper's lifts
    are counted for that sleeper (they stand out most on their own strip) and none
    for the other, by the same two-sleeper detector the night uses.
    """
    cfg = cfg or DetectionConfig()
    src = open_source()
    try:
        if src.channels != 2:
            raise SensorError(f"two sleepers need two strips, and the source has {src.channels} channel(s): "
                              "set [source] channels = [0, 1]")
        reader = Reader(src)
        say(f"Both of you lie down, legs where they are at night, and stay still for {still_s:.0f} seconds...")
        parts = [reader.read(still_s)]
        for who in names:
            for i in range(lifts):
                say(f"Now {who} lifts a foot a few centimetres and puts it down; the other stays still "
                    f"({i + 1} of {lifts}).")
                pause(0)
                parts.append(reader.read(lift_every_s))
    finally:
        src.close()
    x = np.concatenate(parts)
    fs = src.fs
    starts = [still_s + k * lifts * lift_every_s for k in range(len(names))] + [float("inf")]
    nights = analyze_couple(x, fs, names, Rules(detection=cfg)).nights
    report = {"sleepers": [], "advice": []}
    for k, who in enumerate(names):
        rh = rhythms(x[:int(still_s * fs), k], fs)
        # each turn's leg movements, by whose they were counted
        turn = [[m for m in night.movements if m.kind == "lm" and starts[k] - 0.5 <= m.onset_s < starts[k + 1] - 0.5]
                for night in nights]
        own, other = len(turn[k]), len(turn[1 - k])
        report["sleepers"].append({"name": who, "heart_bpm": rh["heart_bpm"], "lifts_asked": lifts,
                                   "lifts_seen": own, "lifts_counted_as_other": other})
        if rh["heart_bpm"] is None:
            report["advice"].append(f"No heartbeat on {who}'s strip: move it under {who}'s calves, on a thin rigid "
                                    "board, or raise the gain.")
        if other:
            report["advice"].append(f"{other} of {who}'s {lifts} foot lifts counted as {names[1 - k]}'s: the strips "
                                    f"may be swapped (channel {k} must lie under {who}), or {who}'s strip is too near "
                                    "the middle.")
        if own < lifts and not other:
            report["advice"].append(f"Only {own} of {who}'s {lifts} foot lifts were seen: move the strip under "
                                    f"{who}'s calves, or raise the gain.")
    if not report["advice"]:
        report["advice"].append("Placement looks good: a heartbeat on each strip, and each one's foot lifts counted "
                                "for them and not for the other.")
    return report

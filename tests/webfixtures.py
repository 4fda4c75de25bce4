"""Helpers for the web tests and benchmarks: a database of nights built through the real
daemon path, a config whose files live in a test folder, waiting for a server."""
from __future__ import annotations

import datetime as dt
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from appliance.config import Config
from appliance.daemon import Daemon
from appliance.store import Store
from sensor.replay import ReplaySource
from tests.conftest import cached_night, free_port


def build_db(path, nights: int = 3, hours: float = 1.5, cfg: Config | None = None) -> Store:
    """`nights` simulated nights, one per evening, stored by the daemon."""
    cfg = cfg or Config()
    store = Store(path)
    today = dt.date.today()
    for k in range(nights):
        rec, _ = cached_night(hours, 40 + k % 3, ("severe", "piezo12", "loadcell")[k % 3])
        rec.start = dt.datetime.combine(today - dt.timedelta(days=nights - k), dt.time(22, 30)).astimezone()
        Daemon(cfg, ReplaySource(rec, speed="max"), store, source_name="test", finite=True).run()
    return store


def web_config(folder: Path) -> Config:
    """Defaults, with the dashboard's PIN, requests and cookie key in `folder`."""
    cfg = Config()
    cfg.web.pin_file = str(folder / "pin")
    cfg.web.requests_dir = str(folder / "requests")
    cfg.web.secret_file = str(folder / "secret")
    return cfg


@contextmanager
def dashboard(db: Path, cfgfile: Path):
    """`kickwatch web` as the service runs it, on a free loopback port over `db`; yields its address."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "kickwatch", "web", "--db", str(db), "--host", "127.0.0.1",
                             "--port", str(port), "--config", str(cfgfile)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        if not wait_for_http(base + "/api/status"):
            proc.kill()
            raise RuntimeError("the dashboard did not start: " + proc.stdout.read().decode())
        yield base
    finally:
        proc.terminate()
        proc.wait(10)


def wait_for_http(url: str, tries: int = 100) -> bool:
    """True once `url` answers (at most `tries` tenths of a second)."""
    for _ in range(tries):
        try:
            urllib.request.urlopen(url, timeout=1)
            return True
        except OSError:
            time.sleep(0.1)
    return False


def build_nights(path, plmi_scale: list[float], cfg: Config | None = None, sleepers=("",)) -> Store:
    """One night per evening up to yesterday, stored through the night book as the daemon stores
    them, from one simulated night analysed once: night k keeps its leg movements' share
    plmi_scale[k] (from 0 to 1), so the nights' PLMI differ as real nights do; for each of
    `sleepers` ('' for the one sleeper of a bed), the same nights."""
    import copy

    from appliance.detection.analysis import analyze_signal
    from appliance.detection.pipeline import Events
    from appliance.detection.vitals import minutes_of
    from appliance.nights import NightBook

    cfg = cfg or Config()
    rec, _ = cached_night(2.0, 42, "severe")
    res = analyze_signal(rec.signal, rec.fs)
    minutes = minutes_of(rec.signal, rec.fs, [0])
    store = Store(path)
    today = dt.date.today()
    n = len(plmi_scale)
    lms = [m for m in res.movements if m.kind == "lm"]
    changes = sorted([(a, "in") for a, _ in res.bed] + [(b, "out") for _, b in res.bed])
    for k, share in enumerate(plmi_scale):
        origin = dt.datetime.combine(today - dt.timedelta(days=n - k), dt.time(22, 30)).astimezone().timestamp()
        keep = set(id(m) for m in lms[:int(round(share * len(lms)))])
        moves = [m for m in res.movements if m.kind != "lm" or id(m) in keep]
        for who in sleepers:
            book = NightBook(store, cfg, origin, rec.fs, 1, who)
            book.handle(Events(movements=moves, bed_changes=changes), rec.signal.shape[0] / rec.fs)
            book.add_minutes(copy.deepcopy(minutes))
            book.close()
        store.flush()
    return store

"""A database of nights for the web tests, built through the real daemon path."""
from __future__ import annotations

import datetime as dt

from appliance.config import Config
from appliance.daemon import Daemon
from appliance.store import Store
from sensor.replay import ReplaySource
from tests.conftest import cached_night


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

"""The raw signal kept on disk: appended, rotated at noon, pruned, read back by time."""
from __future__ import annotations

import time

import numpy as np

from sensor.rawlog import RawLog, prune, read_span, sessions


def test_append_and_read_a_span_back(tmp_path):
    t0 = time.mktime((2026, 11, 23, 22, 0, 0, 0, 0, -1))
    log = RawLog(tmp_path, t0, 100.0, 1)
    x = np.arange(1000, dtype=float)[:, None]
    log.append(x[:500], t0)
    log.append(x[500:], t0 + 5.0)
    log.close()
    rec, start = read_span(tmp_path, t0 + 2.0, t0 + 4.0)
    assert start == t0 + 2.0 and rec.signal[0, 0] == 200 and rec.signal.shape[0] == 201


def test_a_new_file_each_noon_and_old_days_pruned(tmp_path):
    t0 = time.mktime((2026, 11, 20, 22, 0, 0, 0, 0, -1))
    log = RawLog(tmp_path, t0, 10.0, 2, keep=2)
    for day in range(4):
        log.append(np.zeros((10, 2)), t0 + day * 86400)
    log.close()
    kept = sessions(tmp_path)
    assert len(kept) == 2 and kept[-1]["start_utc"] == t0 + 3 * 86400
    assert prune(tmp_path, 1) and len(sessions(tmp_path)) == 1


def test_no_raw_for_a_time_not_kept(tmp_path):
    assert read_span(tmp_path, 0, 100) is None

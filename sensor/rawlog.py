"""The raw signal of recent nights, kept on disk for export and re-analysis.

One pair of files a day (a new pair at local noon, between nights, and at each
daemon start): STAMP.f32 (float32 samples, channels interleaved, appended block
by block) and STAMP.json (rate, channels, the UTC time of the first sample).
Appending never rewrites what is there, so a power cut loses at most the last
block; reading takes just the span asked for (memmap); `prune` keeps N days.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

from sensor.recording import Recording


class RawLog:
    def __init__(self, folder: str | os.PathLike, start_utc: float, fs: float, channels: int, units: str = "V",
                 keep: int = 7):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.fs, self.channels, self.units, self.keep = fs, channels, units, keep
        self._f = None
        self._open(start_utc)

    def _open(self, start_utc: float) -> None:
        if self._f:
            self._f.close()
        stem = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(start_utc))
        self.data = self.folder / f"{stem}.f32"
        meta = {"fs": self.fs, "channels": self.channels, "start_utc": start_utc, "units": self.units}
        (self.folder / f"{stem}.json").write_text(json.dumps(meta))
        self._f = open(self.data, "ab")
        self._rotate_at = _next_noon(start_utc)
        prune(self.folder, self.keep)

    def append(self, samples: np.ndarray, t_utc: float) -> None:
        """Append a block whose first sample was taken at `t_utc`."""
        if t_utc >= self._rotate_at:
            self._open(t_utc)
        self._f.write(np.ascontiguousarray(samples, dtype="<f4").tobytes())

    def flush(self) -> None:
        self._f.flush()

    def close(self) -> None:
        self._f.close()


def _next_noon(utc: float) -> float:
    lt = time.localtime(utc)
    noon = time.mktime((lt.tm_year, lt.tm_mon, lt.tm_mday, 12, 0, 0, 0, 0, -1))
    return noon if noon > utc else time.mktime((lt.tm_year, lt.tm_mon, lt.tm_mday + 1, 12, 0, 0, 0, 0, -1))


def sessions(folder: str | os.PathLike) -> list[dict]:
    out = []
    for meta in sorted(Path(folder).glob("*.json")):
        try:
            m = json.loads(meta.read_text())
        except (OSError, ValueError):
            continue
        data = meta.with_suffix(".f32")
        if data.exists():
            n = data.stat().st_size // (4 * m["channels"])
            out.append({**m, "path": data, "samples": n, "end_utc": m["start_utc"] + n / m["fs"]})
    return out


def read_span(folder: str | os.PathLike, start_utc: float, end_utc: float) -> tuple[Recording, float] | None:
    """The raw signal between two times, from the session that holds most of it, and its true start."""
    best = None
    for s in sessions(folder):
        overlap = min(end_utc, s["end_utc"]) - max(start_utc, s["start_utc"])
        if overlap > 0 and (best is None or overlap > best[0]):
            best = (overlap, s)
    if best is None:
        return None
    s = best[1]
    x = np.memmap(s["path"], dtype="<f4", mode="r").reshape(-1, s["channels"])
    i = max(0, int((start_utc - s["start_utc"]) * s["fs"]))
    j = min(len(x), int((end_utc - s["start_utc"]) * s["fs"]) + 1)
    return Recording(s["fs"], np.array(x[i:j], dtype=np.float64), units=s["units"]), s["start_utc"] + i / s["fs"]


def prune(folder: str | os.PathLike, keep: int) -> list[Path]:
    """Keep the newest `keep` files (a day each, at most); remove the rest."""
    gone = []
    for s in sessions(folder)[:-keep] if keep > 0 else sessions(folder):
        for p in (s["path"], s["path"].with_suffix(".json")):
            p.unlink(missing_ok=True)
            gone.append(p)
    return gone

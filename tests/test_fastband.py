"""The fast-force band: what a shared bed's detector asks of a movement."""
from __future__ import annotations

import numpy as np
import pytest

from appliance.detection.fastband import FastBand


def power(x: np.ndarray, fs: float, block: int | None = None) -> np.ndarray:
    band = FastBand(fs, int(round(fs / 10)))
    block = block or len(x)
    parts = [band.push(x[i:i + block]) for i in range(0, len(x), block)]
    return np.concatenate(parts + [band.flush()])


def tone(f: float, seconds: float, fs: float, amplitude: float = 1.0) -> np.ndarray:
    return amplitude * np.sin(2 * np.pi * f * np.arange(int(seconds * fs)) / fs)


@pytest.mark.parametrize("fs", [100.0, 175.0, 250.0, 500.0])
def test_fast_force_passes_and_slow_sway_does_not(fs):
    fast = np.median(power(tone(6.0, 20, fs), fs))
    slow = np.median(power(tone(1.5, 20, fs), fs))
    assert slow < fast / 20


@pytest.mark.parametrize("fs", [100.0, 175.0, 250.0, 500.0])
def test_mains_hum_falls_in_the_nulls(fs):
    heart = np.median(power(tone(6.0, 20, fs), fs))
    for mains in (50.0, 60.0):
        hum = np.median(power(tone(mains, 20, fs, amplitude=3.0), fs))    # hum three times the heart's size
        assert hum < heart / 10, mains


def test_each_frame_is_centred_on_its_own_samples():
    fs = 250.0
    x = np.zeros(int(20 * fs))
    x[int(10.0 * fs):int(11.0 * fs)] = tone(6.0, 1.0, fs)
    p = power(x, fs)
    loud = np.flatnonzero(p > 0.1 * p.max())
    assert 99 <= loud[0] <= 100 and 109 <= loud[-1] <= 111   # frames 100-109 hold 10.0-11.0 s
    assert len(p) >= len(x) // 25


@pytest.mark.parametrize("block", [1, 37, 250, 2503])
def test_the_same_samples_give_the_same_power_whatever_the_blocks(block):
    fs = 250.0
    rng = np.random.default_rng(3)
    x = rng.normal(0, 1, int(30 * fs)) + tone(6.0, 30, fs) + 1.65
    assert np.array_equal(power(x, fs, block), power(x, fs))

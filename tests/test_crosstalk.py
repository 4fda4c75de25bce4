"""Each strip less the other sleeper's share: measured in the bed, taken off sample for sample."""
from __future__ import annotations

import numpy as np
import pytest

from appliance.detection.crosstalk import Crosstalk

FS = 250.0


def lowpass(x: np.ndarray, corner: float) -> np.ndarray:
    """A mattress: two real poles at `corner` Hz."""
    f = np.fft.rfftfreq(len(x), 1 / FS)
    return np.fft.irfft(np.fft.rfft(x) / (1 + 1j * f / corner) ** 2, len(x))


def body(rng, seconds: float, kicks_at: list[float]) -> np.ndarray:
    """A still body (a small band-limited rustle) and 2 s kicks 20 times its size."""
    n = int(seconds * FS)
    x = lowpass(rng.standard_normal(n), 8.0)
    x /= x.std()
    for t in kicks_at:
        i = int(t * FS)
        x[i:i + int(2 * FS)] += 20 * lowpass(rng.standard_normal(int(2 * FS)), 6.0) / 0.3
    return x


@pytest.fixture(scope="module")
def bed():
    """Strip 0 under sleeper 0 and strip 1 under sleeper 1; each carries the other's force through the
    mattress (0.5 of sleeper 1's onto strip 0, 0.3 the other way, a 10 Hz corner); the two kick in turn."""
    rng = np.random.default_rng(5)
    minutes = 25
    own0 = body(rng, minutes * 60, [float(t) for t in range(40, minutes * 60 - 10, 40)])
    own1 = body(rng, minutes * 60, [float(t) for t in range(20, minutes * 60 - 10, 40)])
    strips = np.column_stack([own0 + 0.5 * lowpass(own1, 10.0), own1 + 0.3 * lowpass(own0, 10.0)]) + 1.65
    return strips, own0, own1


def power_in(x: np.ndarray, starts: range) -> float:
    return float(np.mean(np.concatenate([x[int(t * FS):int((t + 2) * FS)] for t in starts]) ** 2))


def test_the_other_sleepers_kicks_are_taken_off_and_ones_own_are_kept(bed):
    strips, own0, _ = bed
    out = Crosstalk(FS).feed(strips)
    theirs = range(620, 1480, 40)        # sleeper 1's kicks, once the fit has seen ten minutes of them
    mine = range(640, 1480, 40)          # sleeper 0's
    centred = lambda x: x - np.mean(x)
    crossed = centred(strips[:, 0]) - centred(own0)
    left = centred(out[:, 0]) - centred(own0)
    # of what sleeper 1's kicks bring to strip 0 through the mattress, under a twentieth of the power is left
    assert power_in(left, theirs) < power_in(crossed, theirs) / 20
    # sleeper 0's own kicks stay, at least 0.8 of their size (less only the share that came back via strip 1)
    assert power_in(centred(out[:, 0]), mine) > 0.8 ** 2 * power_in(own0, mine)


def test_nothing_is_taken_off_before_the_other_has_moved(bed):
    strips, _, _ = bed
    still = strips[:int(15 * FS)]           # the first kick is at 20 s
    out = Crosstalk(FS).feed(still)
    assert np.array_equal(out, still)


def test_any_chunking_gives_the_same_samples(bed):
    strips, _, _ = bed
    whole = Crosstalk(FS).feed(strips)
    rng = np.random.default_rng(1)
    cuts = np.sort(rng.integers(0, len(strips), 300))
    pieces = np.split(strips, cuts)
    ct = Crosstalk(FS)
    chunked = np.concatenate([ct.feed(p) for p in pieces])
    assert np.array_equal(whole, chunked)


def test_an_unplugged_strip_stays_flat_for_its_health_while_the_other_strip_is_taken_off_it():
    """The strip's health reads the ADC's own readings: a strip less the other's share is never flat."""
    from appliance.detection.sleepers import CoupleDetector
    from sensor.simulator import simulate_couple

    rec, _ = simulate_couple(1.0, 3, "couple", coupling=0.5, corner_hz=20.0)
    x = rec.signal.copy()
    cut = int(40 * 60 * rec.fs)
    x[cut:, 1] = x[cut, 1]                  # strip 1 unplugged for the last 20 minutes
    det = CoupleDetector(rec.fs)
    for i in range(0, len(x), 2500):
        det.feed(x[i:i + 2500])
    det.finish()
    assert np.any(det.crosstalk.g[1])       # strip 0's share was being taken off strip 1
    health = det.sides[1].det.health
    assert health.flat_now and health.flat_ticks >= 19 * 60
    assert det.sides[0].det.health.flat_ticks == 0


def test_a_fit_reads_the_latest_blocks_kept_in_the_order_they_came():
    from collections import deque

    from appliance.detection.crosstalk import KEEP_SECONDS, _KeptBlocks

    kept, expected = _KeptBlocks(taps=2), deque(maxlen=KEEP_SECONDS)
    for i in range(3 * KEEP_SECONDS + 7):      # across the move down of a full store, twice
        block = (np.full((2, 2), i), np.full(2, -i), float(i), i / 2, i / 3)
        kept.add(block)
        expected.append(block)
        if i % 997 == 0 or i > 3 * KEEP_SECONDS:
            grams, crosses, yy, rest, theirs = kept.latest()
            assert len(kept) == len(expected)
            assert yy.tolist() == [b[2] for b in expected]
            assert grams[:, 0, 1].tolist() == [b[0][0, 1] for b in expected]
            assert crosses[:, 1].tolist() == [b[1][1] for b in expected]
            assert theirs.tolist() == [b[4] for b in expected]


def test_the_share_at_breathing_pace_is_the_mattresses_and_a_clipped_kick_does_not_swell_it(bed):
    """The filter's gain at the slowest pace is the share of the other's breath to take off
    (appliance.detection.vitals.own_breaths). A kick the ADC clips is smaller on its own strip than
    it was and whole on the other: fitted on, it would make the share look larger."""
    strips, _, _ = bed
    for rail in (None, 25.0):      # the kicks peak near 60 on their own strip: at 25 their tops are cut off
        x = strips if rail is None else np.clip(strips, 1.65 - rail, 1.65 + rail)
        ct = Crosstalk(FS)
        ct.feed(x)
        assert ct.share_at(0, 1400.0) == pytest.approx(0.5, abs=0.02)
        assert ct.share_at(1, 1400.0) == pytest.approx(0.3, abs=0.02)
    assert Crosstalk(FS).share_at(0, 10.0) == 0.0      # nothing fitted yet: nothing taken off

"""Recordings: the formats of DESIGN.md, and every way a file can be wrong."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from sensor.errors import RecordingError
from sensor.recording import Recording, read_recording, write_recording


def _rec(channels=1, n=1000, fs=250.0, start=None):
    rng = np.random.default_rng(0)
    return Recording(fs, rng.normal(1.0, 0.1, (n, channels)), start, "V")


@pytest.mark.parametrize("suffix", [".npz", ".csv", ".edf"])
@pytest.mark.parametrize("channels", [1, 2])
def test_round_trip_keeps_rate_shape_and_values(tmp_path, suffix, channels):
    start = dt.datetime(2026, 11, 23, 22, 30, tzinfo=dt.timezone.utc)
    rec = _rec(channels, start=start)
    back = read_recording(write_recording(tmp_path / f"r{suffix}", rec))
    assert back.fs == pytest.approx(250.0)
    assert back.signal.shape == rec.signal.shape
    tol = 1e-4 if suffix == ".edf" else 1e-5   # EDF stores 16-bit samples
    assert np.allclose(back.signal, rec.signal, atol=tol * 10)
    if suffix != ".csv":
        assert back.start is not None and abs(back.start.timestamp() - start.timestamp()) < 1


def test_npz_one_dimensional_signal_is_one_channel(tmp_path):
    np.savez(tmp_path / "x.npz", fs=175.0, signal=np.ones(500, np.float32))
    assert read_recording(tmp_path / "x.npz").signal.shape == (500, 1)


def test_edf_keeps_annotations(tmp_path):
    rec = _rec()
    rec.annotations = [(1.0, 1.5, "LM"), (2.5, 0.0, "in bed")]
    back = read_recording(write_recording(tmp_path / "a.edf", rec))
    assert [(round(o, 2), t) for o, _, t in back.annotations] == [(1.0, "LM"), (2.5, "in bed")]


def test_write_is_atomic_no_temp_files_left(tmp_path):
    write_recording(tmp_path / "x.npz", _rec())
    assert [p.name for p in tmp_path.iterdir()] == ["x.npz"]


@pytest.mark.parametrize("make,message", [
    (lambda p: None, "no such file"),
    (lambda p: p.write_bytes(b"not a zip at all"), "is not a .npz recording"),
    (lambda p: np.savez(p, signal=np.ones(10)), "no 'fs'"),
    (lambda p: np.savez(p, fs=0.0, signal=np.ones(10)), "positive"),
    (lambda p: np.savez(p, fs=-5.0, signal=np.ones(10)), "positive"),
    (lambda p: np.savez(p, fs=250.0, signal=np.ones((2, 2, 2))), "shape"),
    (lambda p: np.savez(p, fs=250.0, signal=np.ones((3, 4000))), "channels"),
    (lambda p: np.savez(p, fs=250.0, signal=np.array([1.0])), "empty"),
    (lambda p: np.savez(p, fs=250.0, signal=np.array([1.0, np.nan, 2.0])), "NaN"),
    (lambda p: np.savez(p, fs=250.0, signal=np.array([1.0, np.inf, 2.0])), "NaN or infinite"),
    (lambda p: np.savez(p, fs=250.0, signal=np.array(["a", "b"])), "numbers"),
    (lambda p: np.savez(p, fs=250.0, signal=np.ones(10), start="yesterday"), "ISO 8601"),
])
def test_bad_npz_gives_one_clear_error(tmp_path, make, message):
    path = tmp_path / "bad.npz"
    make(path)
    with pytest.raises(RecordingError, match=message) as e:
        read_recording(path)
    assert "\n" not in str(e.value) and "bad.npz" in str(e.value)


def test_truncated_npz_is_reported(tmp_path):
    path = write_recording(tmp_path / "x.npz", _rec(n=5000))
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(RecordingError, match="(is not a .npz|damaged, cut short)"):
        read_recording(path)


@pytest.mark.parametrize("text,message", [
    ("time,a\n0,1\n0.01,2\n", "header"),
    ("t,a\n0,1\n0,2\n", "increase"),
    ("t,a\n0,1\n0.004,2\n0.1,3\n", "evenly"),
    ("t,a\n0,1\n0.004,x\n", "line 3: 'x' is not a number"),
    ("t,a\n", "no rows"),
])
def test_bad_csv_gives_one_clear_error(tmp_path, text, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(RecordingError, match=message):
        read_recording(path)


def test_unknown_format_says_which_are_known(tmp_path):
    path = tmp_path / "x.wav"
    path.write_bytes(b"RIFF")
    with pytest.raises(RecordingError, match=r"\.npz, \.csv"):
        read_recording(path)


def test_edf_that_lies_about_its_length_is_reported(tmp_path):
    path = write_recording(tmp_path / "x.edf", _rec(n=2500))
    data = path.read_bytes()
    path.write_bytes(data[:-1000])
    with pytest.raises(RecordingError):
        read_recording(path)

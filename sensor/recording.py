"""Reading and writing recordings: .npz, .csv and EDF/EDF+ (see DESIGN.md, Recordings).

A recording is a sample rate, a (n, channels) signal, and optionally its start time
and units. Every way a file can be wrong ends in one RecordingError whose message
names the file and what to do; nothing here prints a traceback at a user.
"""
from __future__ import annotations

import datetime as dt
import os
import tempfile
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sensor.errors import RecordingError

FORMATS = (".npz", ".csv", ".edf", ".bdf")


@dataclass
class Recording:
    """A whole recording in memory."""

    fs: float
    signal: np.ndarray  # (n, channels), float
    start: dt.datetime | None = None
    units: str | None = None
    annotations: list[tuple[float, float, str]] = field(default_factory=list)

    @property
    def channels(self) -> int:
        return int(self.signal.shape[1])

    @property
    def duration_s(self) -> float:
        return self.signal.shape[0] / self.fs


def validate(fs, signal, where: str) -> tuple[float, np.ndarray]:
    """Check a rate and a signal; return them as (float, 2-D float array)."""
    try:
        fs = float(np.asarray(fs).reshape(()))
    except (TypeError, ValueError):
        raise RecordingError(f"{where}: sample rate 'fs' must be one number, got {fs!r}") from None
    if not np.isfinite(fs) or fs <= 0:
        raise RecordingError(f"{where}: sample rate must be a positive number of Hz, got {fs}")
    if fs > 100_000:
        raise RecordingError(f"{where}: sample rate {fs:g} Hz is not a strip recording (at most 100 kHz)")
    signal = np.asarray(signal)
    if signal.dtype.kind not in "fiub":
        raise RecordingError(f"{where}: signal must be numbers, got dtype {signal.dtype}")
    if signal.ndim == 1:
        signal = signal[:, None]
    if signal.ndim != 2:
        raise RecordingError(f"{where}: signal must have shape (n,) or (n, channels), got {signal.shape}")
    if signal.shape[1] < 1 or signal.shape[1] > 8:
        raise RecordingError(f"{where}: signal must have 1 to 8 channels, got {signal.shape[1]} "
                             "(is it stored as (channels, n)? transpose it)")
    if signal.shape[0] < 2:
        raise RecordingError(f"{where}: recording is empty (it has {signal.shape[0]} samples)")
    signal = signal.astype(np.float64, copy=False)
    bad = ~np.isfinite(signal)
    if bad.any():
        i = int(np.argwhere(bad)[0][0])
        raise RecordingError(f"{where}: signal has NaN or infinite values (first at sample {i}, "
                             f"{i / fs:.2f} s); repair or trim the recording")
    return fs, signal


def read_recording(path: str | os.PathLike) -> Recording:
    """Read a recording by its file ending."""
    path = Path(path)
    if not path.exists():
        raise RecordingError(f"{path}: no such file")
    if path.is_dir():
        raise RecordingError(f"{path}: is a folder, not a recording")
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise RecordingError(f"{path}: unknown recording format {suffix or '(none)'}; "
                             f"use one of {', '.join(FORMATS)}")
    try:
        if suffix == ".npz":
            return _read_npz(path)
        if suffix == ".csv":
            return _read_csv(path)
        return _read_edf(path)
    except RecordingError:
        raise
    except OSError as e:
        raise RecordingError(f"{path}: cannot be read ({e.strerror or 'input/output error'}); "
                             "check its permissions and the disk") from None
    except (ValueError, KeyError, EOFError, zipfile.BadZipFile, UnicodeDecodeError):
        # the library's own words name its internals, not the file's fault
        raise RecordingError(f"{path}: is not a readable {suffix} recording: it is damaged, cut short, "
                             f"or another kind of file renamed {suffix}") from None


def _read_npz(path: Path) -> Recording:
    if not zipfile.is_zipfile(path):   # else numpy tries it as a pickle and says so
        raise RecordingError(f"{path}: is not a .npz recording (a .npz is a zip of arrays, and this is not one): "
                             "damaged, or another kind of file renamed .npz")
    with np.load(path, allow_pickle=False) as data:
        for key in ("fs", "signal"):
            if key not in data.files:
                raise RecordingError(f"{path}: .npz has no '{key}' array (it has: "
                                     f"{', '.join(data.files) or 'nothing'})")
        arrays = {}
        for key in ("fs", "signal"):
            try:
                arrays[key] = data[key]
            except ValueError:
                raise RecordingError(f"{path}: '{key}' holds Python objects, not numbers; "
                                     "save it as a numeric array") from None
        fs, signal = validate(arrays["fs"], arrays["signal"], str(path))
        start = _parse_start(str(data["start"]), path) if "start" in data.files else None
        units = str(data["units"]) if "units" in data.files else None
    return Recording(fs, signal, start, units)


def _parse_start(text: str, path: Path) -> dt.datetime:
    try:
        start = dt.datetime.fromisoformat(text)
    except ValueError:
        raise RecordingError(f"{path}: 'start' must be an ISO 8601 time, got {text!r}") from None
    if start.tzinfo is None:
        start = start.astimezone()  # a naive time is the local time of the house
    return start


def _read_csv(path: Path) -> Recording:
    with open(path, encoding="utf-8") as f:
        header = f.readline().strip()
    names = [h.strip() for h in header.split(",")]
    if not names or names[0] != "t" or len(names) < 2:
        raise RecordingError(f"{path}: .csv header must be 't' then one column per channel, got {header[:80]!r}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # an empty table is reported below, in our words
        try:
            table = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
        except ValueError:
            raise RecordingError(f"{path}: {_first_bad_csv_line(path, len(names))}") from None
    if table.size == 0:
        raise RecordingError(f"{path}: .csv has a header but no rows; it needs at least two finite times")
    if table.shape[1] != len(names):
        raise RecordingError(f"{path}: rows have {table.shape[1]} columns, header has {len(names)}")
    t = table[:, 0]
    if len(t) < 2 or not np.all(np.isfinite(t)):
        raise RecordingError(f"{path}: the 't' column needs at least two finite times")
    steps = np.diff(t)
    if np.any(steps <= 0):
        raise RecordingError(f"{path}: the 't' column must increase from row to row")
    step = float(np.median(steps))
    if np.max(np.abs(steps - step)) > 0.05 * step:
        raise RecordingError(f"{path}: samples are not evenly spaced in 't'; resample to a fixed rate")
    fs = round(1.0 / step, 6)
    fs, signal = validate(fs, table[:, 1:], str(path))
    return Recording(fs, signal)


def _first_bad_csv_line(path: Path, columns: int) -> str:
    """Where a .csv stops being a table of numbers, by the line number an editor shows."""
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if number == 1 or not line.strip():
                continue
            cells = line.rstrip("\r\n").split(",")
            if len(cells) != columns:
                return f"line {number} has {len(cells)} values, the header {columns}; every row needs one per column"
            for cell in cells:
                try:
                    float(cell)
                except ValueError:
                    return f"line {number}: {cell.strip()[:20]!r} is not a number"
    return "its rows are not a table of numbers"


EDF_MAGIC = b"0       "   # every EDF and EDF+ file begins with its version, '0', padded to 8 bytes


def _read_edf(path: Path) -> Recording:
    import edfio  # only EDF needs it; keeps other commands quick to start

    with open(path, "rb") as f:
        if f.read(8) != EDF_MAGIC:
            raise RecordingError(f"{path}: is not an EDF recording (an EDF file begins with its header, '0' "
                                 "and spaces): damaged, or another kind of file renamed .edf")

    with warnings.catch_warnings():
        warnings.simplefilter("error")    # edfio warns and patches a lying header; we refuse it
        try:
            edf = edfio.read_edf(path)
        except UserWarning as w:
            raise RecordingError(f"{path}: EDF header does not match the file ({w}); "
                                 "the file is truncated or damaged") from None
    signals = [s for s in edf.signals]
    if not signals:
        raise RecordingError(f"{path}: EDF has no signals")
    # kickwatch's own export adds a heart rate at one a second beside the strips: a derived signal, not a strip
    strips = [s for s in signals if s.physical_dimension != "bpm"] or signals
    rates = {s.sampling_frequency for s in strips}
    if len(rates) != 1:
        raise RecordingError(f"{path}: EDF signals have different rates {sorted(rates)}; kickwatch needs one rate")
    signals = strips
    n = min(len(s.data) for s in signals)
    fs, signal = validate(rates.pop(), np.column_stack([s.data[:n] for s in signals]), str(path))
    try:
        start = edf.startdatetime.astimezone()
    except (ValueError, AttributeError):
        start = None
    annotations = [(a.onset, a.duration or 0.0, a.text) for a in edf.annotations]
    return Recording(fs, signal, start, signals[0].physical_dimension or None, annotations)


def write_recording(path: str | os.PathLike, rec: Recording) -> Path:
    """Write a recording atomically (temp file, fsync, rename): a cut never leaves half a file."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise RecordingError(f"{path}: cannot write format {suffix or '(none)'}; use one of {', '.join(FORMATS)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as f:
            if suffix == ".npz":
                _write_npz(f, rec)
            elif suffix == ".csv":
                _write_csv(f, rec)
            else:
                f.write(edf_bytes(rec))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _write_npz(f, rec: Recording) -> None:
    arrays = {"fs": np.float64(rec.fs), "signal": rec.signal.astype(np.float32)}
    if rec.signal.shape[1] == 1:
        arrays["signal"] = arrays["signal"][:, 0]
    if rec.start is not None:
        arrays["start"] = np.array(rec.start.isoformat())
    if rec.units:
        arrays["units"] = np.array(rec.units)
    np.savez(f, **arrays)   # uncompressed: a night of noise barely compresses, and loads 10x faster


def _write_csv(f, rec: Recording) -> None:
    n, ch = rec.signal.shape
    header = "t," + ",".join(f"ch{i}" for i in range(ch))
    table = np.column_stack([np.arange(n) / rec.fs, rec.signal])
    np.savetxt(f, table, delimiter=",", header=header, comments="", fmt="%.6g")


def edf_bytes(rec: Recording, extra: tuple = ()) -> bytes:
    """The recording as EDF+ bytes, its annotations included; `extra` adds slower signals, each
    (label, unit, samples at one per second, physical range)."""
    import edfio

    unit = (rec.units or "V").split()[0][:8]
    # Data records must hold whole samples: 1 s works for integer rates.
    record_s = 1.0 if float(rec.fs).is_integer() else 1.0 / rec.fs * round(rec.fs)
    per_record = int(round(rec.fs * record_s))
    short = -rec.signal.shape[0] % per_record
    signal = np.pad(rec.signal, ((0, short), (0, 0)), mode="edge")   # the last record is filled out
    signals = []
    for c in range(rec.channels):
        x = signal[:, c]
        lo, hi = float(x.min()), float(x.max())
        if hi - lo < 1e-9:
            lo, hi = lo - 1.0, hi + 1.0
        signals.append(edfio.EdfSignal(x, sampling_frequency=rec.fs, label=f"strip {c}",
                                       transducer_type="bed strip", physical_dimension=unit,
                                       physical_range=(lo, hi)))
    records = signal.shape[0] // per_record
    for label, unit_, values, (lo, hi) in extra:
        per = int(round(record_s))
        x = np.zeros(records * per)
        x[:min(len(values), len(x))] = np.asarray(values, dtype=float)[:len(x)]
        signals.append(edfio.EdfSignal(np.clip(x, lo, hi), sampling_frequency=per / record_s, label=label,
                                       physical_dimension=unit_, physical_range=(lo, hi)))
    start = rec.start or dt.datetime(1985, 1, 1)
    start = start.replace(tzinfo=None)
    annotations = [edfio.EdfAnnotation(o, d or None, t) for o, d, t in rec.annotations]
    edf = edfio.Edf(signals, recording=edfio.Recording(startdate=start.date()), starttime=start.time().replace(microsecond=0),
                    data_record_duration=record_s, annotations=annotations or None)
    return edf.to_bytes()

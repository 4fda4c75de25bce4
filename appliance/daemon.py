"""The daemon loop: source -> detector -> nights -> store.

It tells systemd it is ready once the source and the store are open, and pings the
watchdog only from the loop that has just taken a block of samples (proof of
progress, not of being alive). Blocks are gathered to 10 s of signal before
detection takes them (`_Gathered`): it works in such chunks anyway. Writes are
committed at most every `flush_interval_s`; SIGTERM ends the loop, flushes and
exits cleanly.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import signal
import sqlite3
import sys
import time
from dataclasses import dataclass

import numpy as np

from appliance import sensor_status
from appliance.config import Config, raw_dir_of
from appliance.diary import Entry, entry_problem
from appliance.homeassistant import last_night, tonight
from appliance.nights import NightBook
from appliance.detection.occupancy import QuietState
from appliance.detection.pipeline import StreamDetector
from appliance.detection.sleepers import CoupleDetector
from appliance.detection.vitals import BedVitals
from appliance.sdnotify import Notifier
from appliance.requests import DELETE_NIGHT, DIARY, take_requests
from appliance.store import State, Store
from sensor.block import Block
from sensor.errors import SensorError, SourceSettingError

HEALTH_EVERY_S = 60.0       # a health row, and the live values for Home Assistant, once a minute of signal
PROVISIONAL_AFTER_S = 300.0
NOISY_SHARE = 0.9           # active more than this share of the last minute: say so
CLOCK_JUMP_S = 5.0          # a wall clock this far from the sample count has jumped
GATHER_S = 10.0             # blocks are gathered to this much signal before detection takes them


class _Gathered:
    """Blocks gathered into one stretch before detection takes them. Detection works in 10-s
    chunks anyway, so nothing comes out later; but each call costs much the same whatever its
    length (two strips' unmixing most of all), and fed the source's 1-s blocks one by one, the
    two-strip daemon spent more on the calls than on the signal. Same movements in any gathering."""

    def __init__(self, fs: float):
        self.fs = fs
        self.size = int(GATHER_S * fs)
        self.blocks: list[Block] = []
        self.n = 0

    def add(self, block: Block) -> bool:
        """Take a block; True when enough is gathered."""
        self.blocks.append(block)
        self.n += block.n
        return self.n >= self.size

    def take(self) -> tuple[np.ndarray, int]:
        """The samples gathered (and how many of them filled a gap), emptied."""
        samples = np.concatenate([b.samples for b in self.blocks]) if len(self.blocks) > 1 else self.blocks[0].samples
        gaps = sum(b.gap_samples for b in self.blocks)
        self.blocks, self.n = [], 0
        return samples, gaps

    def end_s(self, detected_s: float) -> float:
        """Stream time at the end of what is gathered, detected or not."""
        return detected_s + self.n / self.fs


@dataclass
class RunReport:
    samples: int
    stream_s: float
    movements: int
    nights: list
    stopped_by_signal: bool
    wall_s: float


class Daemon:
    def __init__(self, cfg: Config, source, store: Store, *, source_name: str = "", finite: bool = False,
                 notifier: Notifier | None = None, wall=time.time, monotonic=time.monotonic,
                 keep_empty_ref: bool = False, reopen=None, sleep=time.sleep, publisher=None):
        self.cfg, self.source, self.store = cfg, source, store
        self.source_name = source_name
        self.finite = finite
        self.notifier = notifier or Notifier()
        self._wall, self._mono = wall, monotonic
        self.keep_empty_ref = keep_empty_ref
        self.reopen = reopen
        self._sleep = sleep
        self.publisher = publisher      # appliance.mqtt.Publisher, when the household has a broker
        self._stop = False
        self.stopped_by_signal = False
        self.write_error: str | None = None

    def stop(self, *_args) -> None:
        """Signal handler: finish the current block, flush, and leave."""
        self._stop = True
        self.stopped_by_signal = True
        self.source.stop()

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)

    def run(self) -> RunReport:
        t_start = self._mono()
        src = self.source
        names = self.cfg.source.sleepers if len(self.cfg.source.sleepers) == 2 else [""]
        provisional = None if self.finite else PROVISIONAL_AFTER_S
        if len(names) == 2:
            if src.channels != 2:
                raise SourceSettingError(
                    f"[source] sleepers names two sleepers, but {self.source_name or 'the source'} gives "
                    f"{src.channels} channel(s): two sleepers need a strip each (a recording of two channels, "
                    "or sim_profile = \"couple\" for the simulator), or name one sleeper")
            # two sleepers, a strip under each: each one's own night (appliance.detection.sleepers)
            det = CoupleDetector(src.fs, self.cfg.detection, rails=src.rails, provisional_after_s=provisional)
        else:
            ref = self.store.get_state(State.EMPTY_REF) if self.keep_empty_ref else None
            det = StreamDetector(src.fs, src.channels, self.cfg.detection, QuietState(**ref) if ref else None,
                                 rails=src.rails, provisional_after_s=provisional)
        books: list[NightBook] = []
        # each sleeper's heart and breathing: both strips of one sleeper, or each sleeper's own
        couple = isinstance(det, CoupleDetector)
        vitals = (BedVitals(src.fs, [[0], [1]], share=det.crosstalk.share_at) if couple
                  else BedVitals(src.fs, [list(range(src.channels))]))
        book = None
        movements = 0
        nights: set[int] = set()
        last_flush = self._mono()
        next_health = HEALTH_EVERY_S
        raw = None

        def take(ev) -> None:
            nonlocal movements
            for b, e in zip(books, ev if isinstance(ev, list) else [ev]):
                b.handle(e, det.end_s)
                movements += len(e.movements)
                if b.night:
                    nights.add(b.night.id)

        def detect(samples: np.ndarray, gap_samples: int) -> None:
            if couple:   # each strip less the other's share: their heart off this one's strip too
                own = det.separate(samples)
                ev = det.feed(samples, gap_samples, own=own)
            else:
                own = None
                ev = det.feed(samples, gap_samples)
            if not self.finite:
                self._follow_clock(books, det)
            take(ev)
            for b, minutes in zip(books, vitals.feed(samples, own)):
                b.add_minutes(minutes)
            self._publish_closed(books)

        gathered = _Gathered(src.fs)
        self.notifier.ready(f"reading {self.source_name}")
        try:
            for block in self._blocks():
                if book is None:
                    origin = self._origin_utc(block)
                    self.store.new_session(origin, self.source_name, src.fs, src.channels, clock_synced())
                    books = [NightBook(self.store, self.cfg, origin, src.fs, src.channels, who) for who in names]
                    if len(books) == 2:
                        books[0].partner, books[1].partner = books[1], books[0]
                    book = books[0]
                    raw = self._open_raw(origin, src)
                    self._publish_last_nights(books)
                if raw is not None:
                    try:
                        raw.append(block.samples, book.origin_utc + gathered.end_s(det.end_s))
                    except OSError as e:
                        self._say(f"raw signal no longer kept: {e}")
                        raw = None
                if gathered.add(block) or self._stop:
                    detect(*gathered.take())
                    if det.end_s >= next_health:
                        self._publish_live(books, self._queue_health(det, book))
                        next_health += HEALTH_EVERY_S
                if self._mono() - last_flush >= self.cfg.store.flush_interval_s:
                    if raw is not None:
                        raw.flush()
                    self._flush(det, books)
                    last_flush = self._mono()
                self.notifier.watchdog()
                if self._stop:
                    break
            if book is not None:
                if gathered.n:
                    detect(*gathered.take())
                take(det.finish())
                for b, minutes in zip(books, vitals.finish()):
                    b.add_minutes(minutes)
                if self.finite and not self._stop:
                    for b in books:
                        b.close()      # the recording is over, and so is its night
                self._publish_live(books, self._queue_health(det, book))
                self._publish_closed(books)
                self._flush(det, books, stopping=True)
        finally:
            if raw is not None:
                raw.close()
            self.notifier.stopping()
        return RunReport(det.samples_seen, det.end_s, movements, sorted(nights), self.stopped_by_signal,
                         self._mono() - t_start)

    def _follow_clock(self, books: list[NightBook], det) -> None:
        """Re-anchor times when the wall clock jumps (NTP after a boot with no RTC)."""
        delta = self._wall() - (books[0].origin_utc + det.end_s)
        if abs(delta) > CLOCK_JUMP_S:
            for book in books:
                book.shift(delta)
            self.store.set_state(State.CLOCK_JUMP, {"at": self._wall(), "by_s": delta, "synced": clock_synced()})
            self._say(f"the clock moved by {delta:+.0f} s; times re-anchored to it")

    def _blocks(self):
        """The source's blocks; when the sensor fails, say so, keep trying, and fill the gap when it is back.

        A fault does not end the process (systemd would restart it into a crash
        loop): the daemon waits, reopens the source with growing pauses, and the
        missing stretch becomes a flat, unscored gap so times stay right.
        """
        src = self.source
        hold = np.zeros((1, src.channels))
        while True:
            try:
                for block in src:
                    hold = block.samples[-1:]
                    yield block
                    if self._stop:
                        return
                return
            except SensorError as e:
                if self.reopen is None:
                    raise
                started = self._mono()
                self._sensor_fault(str(e))
                src = self._wait_for_sensor()
                if src is None:
                    return
                self.source = src
                gap = int((self._mono() - started) * src.fs)   # held at the last value: flat, so unscored
                for i in range(0, gap, int(src.fs)):
                    n = min(int(src.fs), gap - i)
                    yield Block(np.repeat(hold, n, axis=0), started + i / src.fs, src.fs, gap_samples=n)
                self._sensor_fault(None)

    def _wait_for_sensor(self):
        pause = 5.0
        while not self._stop:
            waited = 0.0
            while waited < pause and not self._stop:
                self._sleep(1.0)
                waited += 1.0
                self.notifier.watchdog()   # the process is sound; it is the sensor that is gone
            try:
                return self.reopen()
            except SensorError as e:
                self._sensor_fault(str(e), quiet=True)
                pause = min(pause * 2, 60.0)
        return None

    def _sensor_fault(self, text: str | None, quiet: bool = False) -> None:
        if text is None:
            self._say("sensor back; reading again")
        elif not quiet:
            self._say(f"sensor fault: {text}; trying again")
        self.store.set_state(State.SENSOR_FAULT, None if text is None else {"at": self._wall(), "error": text})
        if text is not None:
            self.store.add_health(self._wall(), sensor_status.FAULT)
        if self.publisher is not None:
            self.publisher.publish(self.publisher.bed.states(
                {"sensor_status": sensor_status.OK if text is None else sensor_status.FAULT}))
        try:
            self.store.flush()
        except (sqlite3.OperationalError, OSError):
            pass

    def _open_raw(self, origin: float, src):
        """The raw signal is kept for export when a folder and a number of nights are set."""
        st = self.cfg.store
        if st.keep_raw_nights <= 0:
            return None
        from sensor.rawlog import RawLog
        try:
            return RawLog(raw_dir_of(self.cfg, str(self.store.path)), origin, src.fs, src.channels,
                          keep=st.keep_raw_nights)
        except OSError as e:
            self.notifier.status(f"raw signal not kept: {e}")
            return None

    def _origin_utc(self, block) -> float:
        """Wall-clock time of the stream's first sample: the recording's own start when it has one."""
        start = self.source.start
        if start is not None:
            return start.timestamp()
        return self._wall() - (self._mono() - block.t0) if not self.finite else self._wall()

    def _publish_last_nights(self, books: list[NightBook]) -> None:
        """At start, each sleeper's last closed night as stored: Home Assistant has it before the next."""
        if self.publisher is None:
            return
        for who, b in zip(self.publisher.bed.sleepers, books):
            row = next((r for r in self.store.nights(limit=3, sleeper=b.sleeper) if r["closed"]), None)
            if row and row.get("summary_json"):
                self.publisher.publish(self.publisher.bed.states(last_night(json.loads(row["summary_json"])), who))

    def _publish_closed(self, books: list[NightBook]) -> None:
        """A night's figures as soon as it closes."""
        for k, b in enumerate(books):
            while b.closed:
                summary = b.closed.pop(0)
                if self.publisher is not None:
                    bed = self.publisher.bed
                    self.publisher.publish(bed.states(last_night(summary), bed.sleepers[k]))

    def _publish_live(self, books: list[NightBook], status: str) -> None:
        """Once a minute of signal: each sleeper's night so far, and the strip's health."""
        if self.publisher is None:
            return
        bed = self.publisher.bed
        messages = bed.states({"sensor_status": status})
        for who, b in zip(bed.sleepers, books):
            messages += bed.states(tonight(b.tonight()), who)
        self.publisher.publish(messages)

    def _queue_health(self, det, book: NightBook) -> str:
        """Queue a health row for the store; return its status word (sensor_status)."""
        h = det.health
        if h.flat_now:
            status = sensor_status.FLAT
        elif h.samples and h.clipped_samples > 0.01 * h.samples:
            status = sensor_status.CLIPPED
        elif h.busy_recent > NOISY_SHARE:
            status = sensor_status.NOISY    # a whole minute of activity: wild noise, or someone who cannot lie still
        else:
            status = sensor_status.OK
        self.store.add_health(book.origin_utc + det.end_s, status, h.samples, h.gap_samples, h.clipped_samples,
                              h.flat_ticks * det.tick_s, h.last_rest, h.last_level, _in_bed(det) == "in")
        return status

    def _flush(self, det, books: list[NightBook], stopping: bool = False) -> None:
        apply_requests(self.store, self.cfg.web.requests_dir, books)
        for book in books:
            book.write()
        if books:
            self.store.set_state(State.DAEMON, {"pid": os.getpid(), "source": self.source_name,
                                            "last_sample_utc": books[0].origin_utc + det.end_s,
                                            "flushed_utc": self._wall(), "in_bed": _in_bed(det),
                                            "stopped": stopping})
        if self.publisher is not None:
            self.store.set_state(State.MQTT, self.publisher.status())
        if self.keep_empty_ref and isinstance(det, StreamDetector) and det.bed.empty_ref is not None:
            self.store.set_state(State.EMPTY_REF, det.bed.empty_ref.as_dict())
        try:
            self.store.flush()
            if self.write_error:
                self._say("writing to the database again")
                self.write_error = None
        except (sqlite3.OperationalError, OSError) as e:
            # disk full or the card failing: keep detecting, keep the queue, try again next time
            if self.write_error is None:
                self._say(f"cannot write the database ({e}); detection goes on and the writes wait")
            self.write_error = str(e)

    def _say(self, text: str) -> None:
        print(f"kickwatch: {text}", file=sys.stderr, flush=True)
        self.notifier.status(text)


def _in_bed(det) -> str | None:
    """'in' when someone is in bed as the detector last saw it (either sleeper, with two)."""
    beds = [det.bed] if isinstance(det, StreamDetector) else [s.det.bed for s in det.sides]
    states = [b.state for b in beds]
    return "in" if "in" in states else ("out" if "out" in states else None)


def apply_requests(store: Store, requests_dir: str, books: list[NightBook] | None = None, wall=time.time) -> int:
    """Carry out changes the dashboard asked for (it cannot write the store itself).

    Deleting a night deletes it for everyone who slept in the bed that night. A diary
    entry replaces that sleeper's entry for that night.
    """
    done = 0
    for req in take_requests(requests_dir):
        if req.get("action") == DELETE_NIGHT and isinstance(req.get("date"), str):
            for who in store.sleepers():
                row = store.night(req["date"], who)
                if row is None:
                    continue
                for book in books or []:
                    if book.night is not None and book.night.id == row["id"]:
                        book.night = None
                store.delete_night(row["id"])
                done += 1
        elif req.get("action") == DIARY:
            entry = diary_entry(req)
            if entry is not None:
                store.save_diary(entry.as_row(), wall())
                done += 1
    return done


def diary_entry(req: dict) -> Entry | None:
    """A diary request as an entry; None when it is not one (the web checked it; this is the daemon's
    own guard against a file it did not expect)."""
    date, who, ticked, note = req.get("date"), req.get("sleeper", ""), req.get("ticked", []), req.get("note", "")
    if not (isinstance(date, str) and isinstance(who, str) and isinstance(ticked, list) and isinstance(note, str)):
        return None
    try:
        dt.date.fromisoformat(date)
    except ValueError:
        return None
    if entry_problem([str(t) for t in ticked], note):
        return None
    return Entry(date, who, set(ticked), note)


TIMESYNC_FLAG = "/run/systemd/timesync/synchronized"


def clock_synced(path: str = TIMESYNC_FLAG) -> bool:
    """systemd-timesyncd touches this file once the clock has been set by NTP."""
    return os.path.exists(path)

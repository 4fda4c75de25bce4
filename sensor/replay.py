"""Replay of a recording file as a source, in real time or as fast as possible."""
from __future__ import annotations

import time
from typing import Iterator

from sensor.block import Block
from sensor.errors import SourceSettingError
from sensor.pacing import Pacer
from sensor.recording import Recording, read_recording


class ReplaySource:
    """Yields a recording in blocks of `block_s` seconds.

    With speed 'max' the blocks come as fast as they are taken; with 'realtime'
    each block waits for its deadline, as the live strip would deliver it.
    """

    def __init__(self, recording: Recording | str, block_s: float = 1.0, speed: str = "max",
                 clock=time.monotonic, sleep=time.sleep, follow_clock: bool = False, wall=time.time):
        self.recording = recording if isinstance(recording, Recording) else read_recording(recording)
        if speed not in ("max", "realtime"):
            raise SourceSettingError(f"speed must be 'max' or 'realtime', got {speed!r}")
        self.fs = self.recording.fs
        self.channels = self.recording.channels
        self.start = self.recording.start
        self.block_n = max(1, int(round(block_s * self.fs)))
        self.speed = speed
        self._clock, self._sleep, self._wall = clock, sleep, wall
        self.rails = None
        self.units = (self.recording.units or "V").split()[0]   # "mV (ADS1220 output ...)" -> "mV"
        # like a live strip: start where the wall clock is in the recording (it must have a start)
        self.follow_clock = follow_clock and self.recording.start is not None
        self._stopped = False

    def __iter__(self) -> Iterator[Block]:
        signal = self.recording.signal
        pacer = Pacer(self.block_n / self.fs, self._clock, self._sleep) if self.speed == "realtime" else None
        t_start = self._clock()
        first = 0
        if self.follow_clock:
            first = int((self._wall() - self.recording.start.timestamp()) * self.fs)
            first = max(0, first - first % self.block_n)
            self.start = None          # a live source: the daemon takes the wall clock
        for i in range(first, signal.shape[0], self.block_n):
            if self._stopped:
                return
            if pacer:
                pacer.wait()
            yield Block(signal[i:i + self.block_n], t_start + (i - first) / self.fs, self.fs)

    def stop(self) -> None:
        self._stopped = True

    def close(self) -> None:
        pass

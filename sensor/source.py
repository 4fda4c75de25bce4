"""What every source of samples is: the ADCs, a replayed recording, the simulator, a test's fake.

The daemon, doctor and calibrate use a source only through this, so none of them
needs to ask a source what it has.
"""
from __future__ import annotations

import datetime as dt
from typing import Iterator, Protocol, runtime_checkable

from sensor.block import Block


@runtime_checkable
class Source(Protocol):
    fs: float                                # samples per second per channel
    channels: int
    start: dt.datetime | None                # wall-clock time of the first sample, when the source knows it
    rails: tuple[float, float] | None        # the ADC's lowest and highest reading, when known in advance
    units: str                               # what a sample is in: "V" from an ADC, a recording's own

    def __iter__(self) -> Iterator[Block]:
        """Blocks of samples, in order, with monotonic timestamps; ends when the source does."""

    def stop(self) -> None:
        """End the iteration after the current block (a signal handler calls it)."""

    def close(self) -> None:
        """Give back the hardware (SPI, pins); safe to call twice."""

"""MCP3008 (10 bit) and MCP3208 (12 bit) through gpiozero, on hardware SPI only.

gpiozero packs the MCP3xxx command (start bit, single/differential, channel) and
reads the answer; here we pace the readings and turn them into blocks. If gpiozero
cannot open hardware SPI it warns and bit-bangs the bus instead: too slow and too
jittery for 250 samples a second on two channels, so that warning is an error here.
"""
from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Iterator

import numpy as np

from sensor.block import Block
from sensor.errors import ADCNotAnswering, SoftwareSPIRefused, SourceSettingError, SPIDeviceAbsent, TransferFailed
from sensor.pacing import Pacer

CHIPS = {"mcp3008": 10, "mcp3208": 12}
DEV = Path("/dev")
SPI_HELP = "enable SPI with 'sudo raspi-config nonint do_spi 0' and reboot, then check the wiring (hardware/wiring.md)"


def open_mcp3xxx(chip: str, channels, vref: float, port: int = 0, device: int = 0, pin_factory=None):
    """The gpiozero ADC objects, one per channel, or a clear error."""
    import gpiozero
    from gpiozero.exc import BadPinFactory, PinFactoryFallback, SPISoftwareFallback

    cls = {"mcp3008": gpiozero.MCP3008, "mcp3208": gpiozero.MCP3208}[chip]
    adcs = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", SPISoftwareFallback)
            warnings.simplefilter("ignore", PinFactoryFallback)   # the final failure says it all
            for ch in channels:
                adcs.append(cls(channel=ch, port=port, device=device, max_voltage=vref, pin_factory=pin_factory))
    except SPISoftwareFallback as e:
        _close_all(adcs)
        if not (DEV / f"spidev{port}.{device}").exists():   # the device node, not the warning's wording
            raise SPIDeviceAbsent(f"no SPI device /dev/spidev{port}.{device}: {SPI_HELP}") from None
        raise SoftwareSPIRefused(f"hardware SPI unavailable ({e}); kickwatch will not bit-bang: {SPI_HELP}") from None
    except (BadPinFactory, ImportError):
        _close_all(adcs)
        raise SPIDeviceAbsent("no GPIO access here (not a Raspberry Pi, or lgpio missing): "
                              "use --source sim or a recording, or install python3-lgpio") from None
    except (OSError, gpiozero.GPIOZeroError) as e:
        _close_all(adcs)
        raise SPIDeviceAbsent(f"cannot open {chip} on SPI {port}.{device}: {e}; {SPI_HELP}") from None
    return adcs


def _close_all(adcs) -> None:
    for a in adcs:
        a.close()


class MCP3xxxSource:
    """Paced readings of one or two MCP3x08 channels, in volts, as blocks."""

    def __init__(self, chip: str = "mcp3208", channels=(0,), fs: float = 250.0, vref: float = 3.3,
                 port: int = 0, device: int = 0, pin_factory=None, block_s: float = 1.0,
                 clock=time.monotonic, sleep=time.sleep, adcs=None):
        if chip not in CHIPS:
            raise SourceSettingError(f"unknown chip {chip!r}; use one of {', '.join(CHIPS)}")
        self.chip, self.fs, self.vref = chip, float(fs), vref
        self.channels = len(channels)
        self.adcs = adcs if adcs is not None else open_mcp3xxx(chip, channels, vref, port, device, pin_factory)
        self.block_n = max(1, int(round(block_s * self.fs)))
        self.scale = vref / (2 ** CHIPS[chip] - 1)
        self.rails = (0.0, vref)
        self.start = None
        self.units = "V"
        self._clock, self._sleep = clock, sleep
        self._stopped = False
        self.failed_transfers = 0
        self._check_answers()

    def _check_answers(self) -> None:
        """A chip that is absent reads as all zeros or all ones on every channel."""
        try:
            raw = [a.raw_value for a in self.adcs for _ in range(3)]
        except OSError as e:
            raise ADCNotAnswering(f"{self.chip} does not answer: {e}; check power and chip select") from None
        top = 2 ** CHIPS[self.chip] - 1
        if all(r == top for r in raw):
            raise ADCNotAnswering(f"{self.chip} reads full scale on every channel: MISO stuck high "
                                  "(chip missing or unpowered?); check the wiring")

    def read_once(self) -> list[float]:
        try:
            return [a.raw_value * self.scale for a in self.adcs]
        except OSError as e:
            raise TransferFailed(str(e)) from None

    def __iter__(self) -> Iterator[Block]:
        pacer = Pacer(1.0 / self.fs, self._clock, self._sleep)
        last = [self.vref / 2] * self.channels
        while not self._stopped:
            buf = np.empty((self.block_n, self.channels))
            gaps = 0
            t_first = None
            i = 0
            while i < self.block_n:
                missed = pacer.wait()
                for _ in range(min(missed, self.block_n - i)):   # missed deadlines: hold and count
                    buf[i] = last
                    i += 1
                    gaps += 1
                if i >= self.block_n:
                    break
                if t_first is None:
                    t_first = self._clock()
                try:
                    last = self.read_once()
                except TransferFailed:
                    self.failed_transfers += 1
                    gaps += 1
                buf[i] = last
                i += 1
            t_end = self._clock()
            achieved = self.block_n / (t_end - t_first) if t_first and t_end > t_first else None
            yield Block(buf, t_first or t_end, self.fs, gap_samples=gaps, achieved_fs=achieved, rails=self.rails)

    def stop(self) -> None:
        self._stopped = True

    def close(self) -> None:
        self._stopped = True
        _close_all(self.adcs)

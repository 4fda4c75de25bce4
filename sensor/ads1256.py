"""ADS1256: the 24-bit ADC of the load-cell variant, through spidev, DRDY through gpiozero.

Why the ADS1256 (and not the ADS1220): it has the self-calibration command and
read-data-continuous mode the daemon uses, eight inputs for two strips, a PGA up
to 64 for a bridge's millivolts, and it is the chip on the common Pi HAT
(Waveshare High-Precision AD/DA), whose chip select is a GPIO (22) and data-ready
GPIO 17. The ADS1220 has no self-calibration command and 175/330 SPS steps.

Commands (datasheet SBAS288, Table 24 "Command Definitions"):

    WAKEUP  0x00   exit standby          RDATA    0x01   read one result
    RDATAC  0x03   read continuously     SDATAC   0x0F   stop continuous
    RREG    0x1r   read regs r.. (2nd byte: count-1)
    WREG    0x5r   write regs r.. (2nd byte: count-1, then data)
    SELFCAL 0xF0   offset+gain self-cal  SYNC     0xFC   restart conversion
    STANDBY 0xFD                         RESET    0xFE

Registers: STATUS 0x00 (ID in bits 7:4 = 3, ORDER, ACAL, BUFEN, /DRDY), MUX 0x01
(PSEL<<4 | NSEL, 0x8 = AINCOM), ADCON 0x02 (PGA in bits 2:0), DRATE 0x03.

SPI mode 1, MSB first, SCLK at most fCLKIN/4 (1.92 MHz with the 7.68 MHz crystal).
After RDATA/RREG the host waits t6 = 50 fCLKIN periods (6.5 us) before clocking data
out. Results are 24-bit two's complement: +-0x7FFFFF is +-2 VREF / PGA.

    Read data continuous:   DRDY ~~\\____/~~~~~~\\____
                            CS   ~~~\\___/~~~~~~~\\___
                            DIN     [no command]
                            DOUT    [D23..D16][D15..D8][D7..D0]
    Two channels: on DRDY, WREG MUX (next input), SYNC, WAKEUP, RDATA; the result
    read is the conversion of the input set before (datasheet Figure 19).
"""
from __future__ import annotations

import time
from typing import Iterator

import numpy as np

from sensor.block import Block
from sensor.errors import ADCNotAnswering, SourceSettingError, SPIDeviceAbsent, TransferFailed

WAKEUP, RDATA, RDATAC, SDATAC = 0x00, 0x01, 0x03, 0x0F
RREG, WREG = 0x10, 0x50
SELFCAL, SYNC, STANDBY, RESET = 0xF0, 0xFC, 0xFD, 0xFE
REG_STATUS, REG_MUX, REG_ADCON, REG_DRATE = 0x00, 0x01, 0x02, 0x03
AINCOM = 0x8
CHIP_ID = 3
T6_S = 50 / 7.68e6
# samples per second -> DRATE code (datasheet Table 13)
DRATES = {30000: 0xF0, 15000: 0xE0, 7500: 0xD0, 3750: 0xC0, 2000: 0xB0, 1000: 0xA1, 500: 0x92,
          100: 0x82, 60: 0x72, 50: 0x63, 30: 0x53, 25: 0x43, 15: 0x33, 10: 0x23, 5: 0x13}
PGAS = {1: 0, 2: 1, 4: 2, 8: 3, 16: 4, 32: 5, 64: 6}
SPI_HELP = "enable SPI with 'sudo raspi-config nonint do_spi 0' and reboot, then check the HAT is seated"


def open_spidev(bus: int, device: int, max_speed_hz: int = 1_000_000):
    """The real spidev handle, with the chip select left to our GPIO."""
    try:
        import spidev
    except ImportError:
        raise SPIDeviceAbsent("python module spidev is missing: sudo apt install python3-spidev "
                              "(install.sh does this)") from None
    spi = spidev.SpiDev()
    try:
        spi.open(bus, device)
    except FileNotFoundError:
        raise SPIDeviceAbsent(f"no SPI device /dev/spidev{bus}.{device}: {SPI_HELP}") from None
    except PermissionError:
        raise SPIDeviceAbsent(f"no permission for /dev/spidev{bus}.{device}: add the user to group 'spi'") from None
    spi.max_speed_hz = max_speed_hz
    spi.mode = 0b01
    spi.no_cs = True
    return spi


class ADS1256:
    """The chip's command set over an spidev-like object (`xfer2`), CS and DRDY as gpiozero devices."""

    def __init__(self, spi, cs, drdy, vref: float = 2.5, timeout_s: float = 0.5):
        self.spi, self.cs, self.drdy = spi, cs, drdy
        self.vref = vref
        self.timeout_s = timeout_s
        self.pga = 1

    def _xfer(self, out: list[int], read: int = 0) -> list[int]:
        """One transaction under CS: command bytes, t6, then `read` bytes clocked out."""
        self.cs.on()   # active low: on() pulls CS low
        try:
            if out:
                self.spi.xfer2(list(out))
            if read:
                time.sleep(T6_S)
                return self.spi.xfer2([0xFF] * read)
            return []
        except OSError as e:
            raise TransferFailed(f"SPI transfer failed: {e}") from None
        finally:
            self.cs.off()

    def wait_ready(self) -> None:
        if not self.drdy.wait_for_active(timeout=self.timeout_s):
            raise ADCNotAnswering(f"ADS1256 data-ready did not fall within {self.timeout_s} s: "
                                  "check DRDY (GPIO 17), power and the crystal")

    def command(self, cmd: int) -> None:
        self._xfer([cmd])

    def write_regs(self, reg: int, values: list[int]) -> None:
        self._xfer([WREG | reg, len(values) - 1, *values])

    def read_regs(self, reg: int, n: int) -> list[int]:
        return self._xfer([RREG | reg, n - 1], read=n)

    def configure(self, rate: int, pga: int, channel: int) -> None:
        """Reset, check the chip ID, set input, gain and rate, then self-calibrate."""
        if rate not in DRATES:
            raise SourceSettingError(f"ADS1256 rate must be one of {sorted(DRATES)}, got {rate}")
        if pga not in PGAS:
            raise SourceSettingError(f"ADS1256 PGA must be one of {sorted(PGAS)}, got {pga}")
        self.command(RESET)
        self.wait_ready()
        status = self.read_regs(REG_STATUS, 1)[0]
        if status >> 4 != CHIP_ID:
            raise ADCNotAnswering(f"ADS1256 answered STATUS 0x{status:02X} (chip ID {status >> 4}, expected {CHIP_ID}): "
                                  "check MISO/MOSI and chip select (GPIO 22)")
        self.pga = pga
        # STATUS: MSB first, auto-cal off, input buffer on; MUX; ADCON: clock out off, no sensor detect; DRATE
        self.write_regs(REG_STATUS, [0x02, self.mux(channel), PGAS[pga], DRATES[rate]])
        if self.read_regs(REG_MUX, 3) != [self.mux(channel), PGAS[pga], DRATES[rate]]:
            raise ADCNotAnswering("ADS1256 did not keep the registers written to it: check the SPI wiring")
        self.command(SELFCAL)
        self.wait_ready()

    @staticmethod
    def mux(channel: int) -> int:
        return (channel << 4) | AINCOM

    def to_volts(self, b: list[int]) -> float:
        code = (b[0] << 16) | (b[1] << 8) | b[2]
        if code & 0x800000:
            code -= 1 << 24
        return code / 0x7FFFFF * 2 * self.vref / self.pga

    def start_continuous(self) -> None:
        self.wait_ready()
        self._xfer([RDATAC])

    def read_continuous(self) -> float:
        self.wait_ready()
        return self.to_volts(self._xfer([], read=3))

    def read_next_channel(self, next_channel: int) -> float:
        """Cycle the mux: returns the conversion of the input set before this call."""
        self.wait_ready()
        self._xfer([WREG | REG_MUX, 0, self.mux(next_channel)])
        self._xfer([SYNC])
        self._xfer([WAKEUP])
        return self.to_volts(self._xfer([RDATA], read=3))

    def stop_continuous(self) -> None:
        try:
            self.wait_ready()
            self._xfer([SDATAC])
        except (ADCNotAnswering, TransferFailed):
            pass


class ADS1256Source:
    """Blocks from an ADS1256, timed by its data-ready pin (hardware timing, no pacing loop)."""

    def __init__(self, chip: ADS1256, channels=(0,), fs: float = 100.0, pga: int = 64, block_s: float = 1.0,
                 clock=time.monotonic):
        self.chip, self.fs = chip, float(fs)
        self.inputs = list(channels)
        self.channels = len(self.inputs)
        rate = int(self.fs) * self.channels
        if rate not in DRATES:
            raise SourceSettingError(f"ADS1256 runs at {sorted(DRATES)} samples/s in all; "
                             f"{self.fs:g} Hz x {self.channels} channel(s) is not one of them (use 100 or 500 Hz)")
        chip.configure(rate, pga, self.inputs[0])
        fullscale = 2 * chip.vref / pga
        self.rails = (-fullscale, fullscale * (1 - 2 ** -23))
        self.block_n = max(1, int(round(block_s * self.fs)))
        self.start = None
        self.units = "V"
        self._clock = clock
        self._stopped = False
        self.failed_transfers = 0

    def _samples(self) -> Iterator[list[float]]:
        if self.channels == 1:
            self.chip.start_continuous()
            try:
                while True:
                    yield [self.chip.read_continuous()]
            finally:
                self.chip.stop_continuous()
        else:
            order = self.inputs   # configure() left the mux on order[0]
            while True:
                yield [self.chip.read_next_channel(order[(k + 1) % len(order)]) for k in range(len(order))]

    def __iter__(self) -> Iterator[Block]:
        gen = self._samples()
        last = [0.0] * self.channels
        try:
            while not self._stopped:
                buf = np.empty((self.block_n, self.channels))
                gaps = 0
                t0 = self._clock()
                for i in range(self.block_n):
                    try:
                        last = next(gen)
                    except TransferFailed:
                        self.failed_transfers += 1
                        gaps += 1
                        gen = self._samples()
                    buf[i] = last
                t1 = self._clock()
                yield Block(buf, t0, self.fs, gap_samples=gaps,
                            achieved_fs=self.block_n / (t1 - t0) if t1 > t0 else None, rails=self.rails)
        finally:
            gen.close()

    def stop(self) -> None:
        self._stopped = True

    def close(self) -> None:
        self._stopped = True

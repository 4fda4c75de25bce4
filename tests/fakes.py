"""Fake ADCs that speak the real chips' protocols, for tests.

FakeMCP3xxx hangs on gpiozero's mock SPI pins (clock 11, MOSI 10, MISO 9, CE0 8)
and decodes the bits gpiozero's MCP3xxx driver clocks out: start bit, single or
differential, channel bits; then answers with a null bit and the sample, MSB
first, as the MCP3008/MCP3208 datasheets draw it.

FakeADS1256 is an spidev-like object (xfer2) that watches the chip-select mock pin
and drives the data-ready mock pin; it decodes the command bytes of the ADS1256
datasheet (RESET, RREG, WREG, SELFCAL, RDATAC, SDATAC, SYNC, WAKEUP, RDATA) and
answers with 24-bit two's complement results. Conversions complete as soon as the
host has read the last one, so tests run at full speed.

BlockSource stands in for any source at the daemon's level, with a fake clock.
"""
from __future__ import annotations

import math

from gpiozero.pins.mock import MockSPIDevice

from sensor import ads1256 as A
from sensor.block import Block


class BlockSource:
    """A recording handed out one second at a time, with a monotonic clock that advances per block,
    so the daemon's flush interval and watchdog behave as they do in real time."""

    def __init__(self, rec, clock):
        self.rec, self.clock = rec, clock
        self.fs, self.channels, self.start, self.rails = rec.fs, rec.channels, rec.start, None
        self.units = "V"

    def __iter__(self):
        n = int(self.fs)
        for i in range(0, len(self.rec.signal), n):
            self.clock[0] += 1.0
            yield Block(self.rec.signal[i:i + n], self.clock[0], self.fs)

    def stop(self) -> None:
        pass

    def close(self) -> None:
        pass


class FakeMCP3xxx(MockSPIDevice):
    """MCP3008 (bits=10) or MCP3208 (bits=12) on the mock SPI bus."""

    def __init__(self, bits: int = 12, signal=None, vref: float = 3.3, fail_every: int = 0):
        super().__init__(clock_pin=11, mosi_pin=10, miso_pin=9, select_pin=8)
        self.bits = bits
        self.vref = vref
        self.signal = signal or (lambda channel, n: 1.0 + 0.1 * channel)
        self.conversions = 0
        self.requests: list[tuple[bool, int]] = []
        self.channel_bits = 3
        self.phase = "wait-start"

    def on_start(self):
        super().on_start()
        self.phase = "wait-start"

    def on_bit(self):
        bit = self.rx_buf[-1]
        if self.phase == "wait-start":
            if bit:                      # leading zeros, then the start bit
                self.phase, self.rx_buf = "mode", []
        elif self.phase == "mode":
            self.single = bool(bit)
            self.phase, self.rx_buf = "channel", []
        elif self.phase == "channel":
            if len(self.rx_buf) == self.channel_bits:
                channel = self.rx_word()
                self.requests.append((self.single, channel))
                volts = self.signal(channel, self.conversions)
                self.conversions += 1
                code = max(0, min(2 ** self.bits - 1, int(round(volts / self.vref * (2 ** self.bits - 1)))))
                # one clock to sample, the null bit, then the result MSB first
                self.tx_word(code, self.bits + 2)
                self.phase = "answer"
        elif self.phase == "answer" and not self.tx_buf:
            self.phase, self.rx_buf = "wait-start", []


class FakeADS1256:
    """An ADS1256 behind an spidev-like interface."""

    DEFAULT_REGS = [0x30, 0x01, 0x20, 0xF0, 0xE0, 0, 0, 0, 0, 0, 0]

    def __init__(self, cs_pin, drdy_pin, signal=None, vref: float = 2.5, chip_id: int = 3, dead: bool = False):
        self.cs_pin, self.drdy_pin = cs_pin, drdy_pin
        self.signal = signal or (lambda channel, n: 0.01)
        self.vref = vref
        self.dead = dead
        self.chip_id = chip_id
        self._reset_regs()
        self.continuous = False
        self.conversions = 0
        self.commands: list[int] = []
        self.selfcal_done = False
        self._out: list[int] = []
        self._latched = [0, 0, 0]
        self._converting_mux = self.regs[1]
        self.mode = 0b01
        self.max_speed_hz = 0
        self.no_cs = True
        if not dead:
            self._convert()

    # spidev interface
    def open(self, bus, device):
        pass

    def close(self):
        pass

    def xfer2(self, data, *args):
        if self.dead:
            return [0xFF] * len(data)
        assert self.cs_pin.state == 0, "ADS1256 spoken to without chip select low"
        out = []
        self._parse(list(data), out)
        return out

    # the chip
    def _reset_regs(self):
        self.regs = list(self.DEFAULT_REGS)
        self.regs[0] = (self.chip_id << 4) | (self.regs[0] & 0x0F)

    def _convert(self):
        """Finish a conversion of the input the mux held when it started; DRDY falls."""
        psel = self._converting_mux >> 4
        volts = self.signal(psel, self.conversions)
        self.conversions += 1
        pga = 1 << (self.regs[2] & 0x07)
        code = int(round(volts / (2 * self.vref / pga) * 0x7FFFFF))
        code = max(-0x800000, min(0x7FFFFF, code)) & 0xFFFFFF
        self._latched = [code >> 16, (code >> 8) & 0xFF, code & 0xFF]
        self._converting_mux = self.regs[1]
        self.drdy_pin.drive_low()

    def _parse(self, data, out):
        i = 0
        while i < len(data):
            b = data[i]
            if self._out:                       # clocking out an answer
                out.append(self._out.pop(0))
                i += 1
                if not self._out and self._reading_data:
                    self.drdy_pin.drive_high()
                    self._convert()
                continue
            if self.continuous and b not in (A.SDATAC, A.RESET) and self.drdy_pin.state == 0:
                self._reading_data = True
                self._out = list(self._latched)
                continue                        # this byte clocks out the first data byte
            out.append(0)
            self.commands.append(b)
            i += 1
            self._reading_data = False
            if b == A.RESET:
                self._reset_regs()
                self.continuous = False
                self._convert()
            elif b == A.SELFCAL:
                self.drdy_pin.drive_high()
                self.selfcal_done = True
                self._convert()
            elif b == A.RDATAC:
                self.continuous = True
            elif b == A.SDATAC:
                self.continuous = False
            elif b in (A.SYNC, A.WAKEUP):
                self._converting_mux = self.regs[1]
            elif b == A.RDATA:
                self._reading_data = True
                self._out = list(self._latched)
            elif b & 0xF0 in (A.RREG, A.WREG):
                reg, count = b & 0x0F, data[i] + 1
                i += 1
                out.append(0)
                if b & 0xF0 == A.WREG:
                    for k in range(count):
                        self.regs[reg + k] = data[i + k]
                        out.append(0)
                    i += count
                    if reg <= A.REG_DRATE < reg + count or reg <= A.REG_MUX < reg + count:
                        self._converting_mux = self.regs[1]   # these writes restart the conversion
                else:
                    self._out = self.regs[reg:reg + count]

    _reading_data = False


def sine(freq: float = 1.0, offset: float = 1.65, amplitude: float = 0.5, fs: float = 100.0):
    """A signal function for the fakes: volts for (channel, sample number)."""
    return lambda channel, n: offset + amplitude * math.sin(2 * math.pi * freq * n / fs) * (1 + channel)

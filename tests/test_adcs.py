"""The ADC sources, against fakes that speak each chip's SPI protocol."""
from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from gpiozero import DigitalInputDevice, DigitalOutputDevice
from gpiozero.exc import SPISoftwareFallback
from gpiozero.pins.mock import MockFactory

from sensor import ads1256 as A
from sensor.errors import ADCNotAnswering, SoftwareSPIRefused, SPIDeviceAbsent, TransferFailed
from sensor.mcp3xxx import MCP3xxxSource, open_mcp3xxx
from tests.fakes import FakeADS1256, FakeMCP3xxx


class FakeClock:
    """Monotonic time that advances only when slept on: pacing without waiting."""

    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t

    def sleep(self, s):
        self.t += s


@pytest.mark.parametrize("chip,bits", [("mcp3008", 10), ("mcp3208", 12)])
def test_mcp_reads_the_voltage_the_chip_was_given(mock_factory, chip, bits):
    fake = FakeMCP3xxx(bits=bits, signal=lambda ch, n: 1.0 + 0.5 * ch)
    clock = FakeClock()
    src = MCP3xxxSource(chip, channels=(0, 2), fs=100, block_s=0.1, clock=clock, sleep=clock.sleep)
    block = next(iter(src))
    lsb = 3.3 / (2 ** bits - 1)
    assert block.samples.shape == (10, 2)
    assert np.allclose(block.samples[:, 0], 1.0, atol=lsb)
    assert np.allclose(block.samples[:, 1], 2.0, atol=lsb)
    assert (True, 0) in fake.requests and (True, 2) in fake.requests   # single-ended, channels decoded
    assert block.gap_samples == 0
    src.close()
    fake.close()


def mcp_with_read_hook(hook, **fake_kwargs):
    """An MCP3208 source at 100 Hz whose every read first calls hook(n, clock), n counting from 1."""
    fake = FakeMCP3xxx(bits=12, **fake_kwargs)
    clock = FakeClock()
    src = MCP3xxxSource("mcp3208", channels=(0,), fs=100, block_s=0.5, clock=clock, sleep=clock.sleep)
    real_read, calls = src.read_once, itertools.count(1)

    def read():
        hook(next(calls), clock)
        return real_read()

    src.read_once = read
    return fake, src


def test_mcp_missed_deadlines_are_recorded_as_a_gap_not_hidden(mock_factory):
    def stall(n, clock):
        if n == 10:
            clock.t += 0.115          # stalled past ten more deadlines

    fake, src = mcp_with_read_hook(stall)
    block = next(iter(src))
    assert block.samples.shape == (50, 1)
    assert block.gap_samples == 10
    src.close()
    fake.close()


def test_mcp_software_spi_fallback_is_an_error_not_a_warning(mock_factory, monkeypatch):
    def spi_with_fallback(self, **kwargs):
        warnings.warn(SPISoftwareFallback("failed to initialize hardware SPI, falling back to software "
                                          "(error was: [Errno 2] No such file or directory)"))
        raise AssertionError("should not get here: the warning must be an error")

    monkeypatch.setattr(MockFactory, "spi", spi_with_fallback)
    with pytest.raises(SPIDeviceAbsent, match="raspi-config"):
        open_mcp3xxx("mcp3208", [0], 3.3)


def test_mcp_other_fallback_reasons_are_refused_too(mock_factory, monkeypatch, tmp_path):
    import sensor.mcp3xxx
    (tmp_path / "spidev0.0").touch()                  # the device is there, hardware SPI still fails
    monkeypatch.setattr(sensor.mcp3xxx, "DEV", tmp_path)

    def spi_with_fallback(self, **kwargs):
        warnings.warn(SPISoftwareFallback("failed to initialize hardware SPI (error was: busy)"))
        raise AssertionError("unreachable")

    monkeypatch.setattr(MockFactory, "spi", spi_with_fallback)
    with pytest.raises(SoftwareSPIRefused, match="will not bit-bang"):
        open_mcp3xxx("mcp3008", [0], 3.3)


def test_mcp_with_no_chip_on_the_bus_says_so(mock_factory):
    dead = FakeMCP3xxx(bits=12, signal=lambda ch, n: 99.0)   # MISO pinned high: reads full scale
    with pytest.raises(ADCNotAnswering, match="full scale"):
        MCP3xxxSource("mcp3208", channels=(0,), fs=100)
    dead.close()


def _ads(mock_factory, **kw):
    cs = DigitalOutputDevice(22, active_high=False, initial_value=False)
    drdy = DigitalInputDevice(17, pull_up=True)
    fake = FakeADS1256(mock_factory.pin(22), mock_factory.pin(17), **kw)
    return fake, A.ADS1256(fake, cs, drdy, vref=2.5, timeout_s=0.05)


def test_ads1256_configure_speaks_the_datasheet_commands(mock_factory):
    fake, chip = _ads(mock_factory)
    chip.configure(100, 64, 0)
    assert fake.commands[0] == A.RESET
    assert A.WREG | A.REG_STATUS in fake.commands and A.SELFCAL in fake.commands
    assert fake.regs[A.REG_MUX] == 0x08          # AIN0 against AINCOM
    assert fake.regs[A.REG_ADCON] & 0x07 == 6     # PGA 64
    assert fake.regs[A.REG_DRATE] == 0x82        # 100 SPS
    assert fake.selfcal_done


def test_ads1256_continuous_read_gives_volts_with_24_bit_resolution(mock_factory):
    fake, chip = _ads(mock_factory, signal=lambda ch, n: 0.0123 + 1e-6 * n)
    src = A.ADS1256Source(chip, channels=(0,), fs=100, pga=64, block_s=0.2)
    block = next(iter(src))
    assert block.samples.shape == (20, 1)
    lsb = 2 * 2.5 / 64 / 0x7FFFFF
    expected = 0.0123 + 1e-6 * np.arange(block.n)
    assert np.max(np.abs(block.samples[:, 0] - expected[:block.n] - (block.samples[0, 0] - expected[0]))) < 3 * lsb
    assert abs(block.samples[0, 0] - 0.0123) < 1e-5
    assert A.RDATAC in fake.commands


def test_ads1256_negative_inputs_decode_as_twos_complement(mock_factory):
    fake, chip = _ads(mock_factory, signal=lambda ch, n: -0.02)
    src = A.ADS1256Source(chip, channels=(0,), fs=100, pga=64, block_s=0.05)
    block = next(iter(src))
    assert np.allclose(block.samples, -0.02, atol=1e-6)


def test_ads1256_two_channels_cycle_the_mux(mock_factory):
    fake, chip = _ads(mock_factory, signal=lambda ch, n: 0.001 * (ch + 1))
    src = A.ADS1256Source(chip, channels=(0, 3), fs=50, pga=64, block_s=0.2)
    block = next(iter(src))
    assert block.samples.shape == (10, 2)
    assert np.allclose(block.samples[:, 0], 0.001, atol=1e-6)
    assert np.allclose(block.samples[:, 1], 0.004, atol=1e-6)
    assert A.RDATA in fake.commands and A.SYNC in fake.commands


def test_ads1256_wrong_chip_id_is_named(mock_factory):
    fake, chip = _ads(mock_factory, chip_id=7)
    with pytest.raises(ADCNotAnswering, match="chip ID"):
        chip.configure(100, 64, 0)


def test_ads1256_silent_chip_times_out_with_advice(mock_factory):
    fake, chip = _ads(mock_factory, dead=True)
    with pytest.raises(ADCNotAnswering, match="DRDY"):
        chip.configure(100, 64, 0)


def test_ads1256_rate_must_be_one_the_chip_has(mock_factory):
    fake, chip = _ads(mock_factory)
    with pytest.raises(ValueError, match="100 or 500"):
        A.ADS1256Source(chip, channels=(0,), fs=250)


def test_absent_spidev_is_a_clear_error(monkeypatch):
    import sys
    import types

    class NoDevice:
        def open(self, bus, dev):
            raise FileNotFoundError(2, "No such file or directory")

    monkeypatch.setitem(sys.modules, "spidev", types.SimpleNamespace(SpiDev=NoDevice))
    with pytest.raises(SPIDeviceAbsent, match=r"/dev/spidev0\.0.*raspi-config"):
        A.open_spidev(0, 0)


def test_mcp_failed_transfers_are_held_and_counted_as_gaps(mock_factory):
    def flaky(n, clock):
        if n % 10 == 0:
            raise TransferFailed("SPI transfer failed: [Errno 5] Input/output error")

    fake, src = mcp_with_read_hook(flaky, signal=lambda ch, n: 1.0)
    block = next(iter(src))
    assert block.gap_samples == 5 and src.failed_transfers == 5
    assert np.allclose(block.samples, 1.0, atol=0.001)      # held at the last good value, time kept
    src.close()
    fake.close()

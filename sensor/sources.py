"""Opening a source by name: the config names the backend, tests pass their own objects."""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Protocol

from sensor.errors import SourceSettingError
from sensor.recording import FORMATS
from sensor.replay import ReplaySource
from sensor.source import Source
from sensor.simulator import COUPLES, PROFILES, simulate_night

HARDWARE = ("mcp3008", "mcp3208", "ads1256")


def describe_kind(kind: str) -> str:
    if kind in HARDWARE:
        return kind
    if kind == "sim":
        return "simulator"
    return f"recording {kind}"


class SourceSettings(Protocol):
    """The [source] settings a source is built from (appliance.config.SourceConfig has them all)."""

    kind: str
    channels: list
    rate_hz: float
    spi_bus: int
    spi_device: int
    vref: float
    ads1256_vref: float
    cs_pin: int
    drdy_pin: int
    pga: int
    speed: str
    sim_profile: str
    sim_hours: float
    sim_seed: int
    sim_start: str
    follow_clock: bool


def open_source(settings: SourceSettings, *, kind: str | None = None, speed: str | None = None,
                sim_hours: float | None = None, pin_factory=None) -> Source:
    """The source the settings name (or `kind`): mcp3008, mcp3208, ads1256, sim, or the path of a recording.

    `speed` and `sim_hours` stand in for the settings' own (a check reads a short stretch
    as fast as it comes); `pin_factory` is gpiozero's, for tests.
    """
    kind = kind or settings.kind
    speed = speed or settings.speed
    sim_hours = sim_hours or settings.sim_hours
    channels, fs, spi_bus, spi_device = settings.channels, settings.rate_hz, settings.spi_bus, settings.spi_device
    sim_profile, sim_seed, sim_start = settings.sim_profile, settings.sim_seed, settings.sim_start
    if kind in ("mcp3008", "mcp3208"):
        from sensor.mcp3xxx import MCP3xxxSource
        return MCP3xxxSource(kind, channels, fs, settings.vref, spi_bus, spi_device, pin_factory=pin_factory)
    if kind == "ads1256":
        from gpiozero import DigitalInputDevice, DigitalOutputDevice

        from sensor.ads1256 import ADS1256, ADS1256Source, open_spidev
        spi = open_spidev(spi_bus, spi_device)
        cs = DigitalOutputDevice(settings.cs_pin, active_high=False, initial_value=False, pin_factory=pin_factory)
        drdy = DigitalInputDevice(settings.drdy_pin, pull_up=True, pin_factory=pin_factory)
        return ADS1256Source(ADS1256(spi, cs, drdy, vref=settings.ads1256_vref), channels, fs, settings.pga)
    if kind == "sim":
        if sim_profile not in PROFILES | COUPLES:
            raise SourceSettingError(f"unknown simulator profile {sim_profile!r}; "
                                     f"choose from {', '.join(PROFILES | COUPLES)}")
        if sim_start:
            try:
                start = dt.datetime.fromisoformat(sim_start).astimezone()
            except ValueError:
                raise SourceSettingError(f"source.sim_start must be an ISO time like 2026-11-23T22:30, got {sim_start!r}")
        else:
            start = dt.datetime.now().astimezone()
        rec, _ = simulate_night(sim_hours, sim_seed, sim_profile, start=start)
        if sim_start:
            return ReplaySource(rec, speed="realtime", follow_clock=True)
        return ReplaySource(rec, speed=speed)
    if Path(kind).suffix.lower() in FORMATS or Path(kind).exists():
        if settings.follow_clock:
            return ReplaySource(kind, speed="realtime", follow_clock=True)
        return ReplaySource(kind, speed=speed)
    raise SourceSettingError(f"unknown source {kind!r}: use mcp3008, mcp3208, ads1256, sim, or a recording's path "
                     f"({', '.join(FORMATS)})")


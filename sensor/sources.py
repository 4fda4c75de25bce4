"""Opening a source by name: the config names the backend, tests pass their own objects."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from sensor.errors import SourceSettingError
from sensor.recording import FORMATS
from sensor.replay import ReplaySource
from sensor.simulator import PROFILES, simulate_night

HARDWARE = ("mcp3008", "mcp3208", "ads1256")


def describe_kind(kind: str) -> str:
    if kind in HARDWARE:
        return kind
    if kind == "sim":
        return "simulator"
    return f"recording {kind}"


def open_source(kind: str, *, channels=(0,), fs: float = 250.0, vref: float = 3.3, spi_bus: int = 0,
                spi_device: int = 0, drdy_pin: int = 17, cs_pin: int = 22, pga: int = 64, speed: str = "realtime",
                sim_profile: str = "piezo12", sim_hours: float = 8.0, sim_seed: int = 1, sim_start: str = "",
                follow_clock: bool = False, pin_factory=None):
    """A source for `kind`: mcp3008, mcp3208, ads1256, sim, or the path of a recording."""
    if kind in ("mcp3008", "mcp3208"):
        from sensor.mcp3xxx import MCP3xxxSource
        return MCP3xxxSource(kind, channels, fs, vref, spi_bus, spi_device, pin_factory=pin_factory)
    if kind == "ads1256":
        from gpiozero import DigitalInputDevice, DigitalOutputDevice

        from sensor.ads1256 import ADS1256, ADS1256Source, open_spidev
        spi = open_spidev(spi_bus, spi_device)
        cs = DigitalOutputDevice(cs_pin, active_high=False, initial_value=False, pin_factory=pin_factory)
        drdy = DigitalInputDevice(drdy_pin, pull_up=True, pin_factory=pin_factory)
        return ADS1256Source(ADS1256(spi, cs, drdy, vref=2.5), channels, fs, pga)
    if kind == "sim":
        if sim_profile not in PROFILES:
            raise SourceSettingError(f"unknown simulator profile {sim_profile!r}; choose from {', '.join(PROFILES)}")
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
        if follow_clock:
            return ReplaySource(kind, speed="realtime", follow_clock=True)
        return ReplaySource(kind, speed=speed)
    raise SourceSettingError(f"unknown source {kind!r}: use mcp3008, mcp3208, ads1256, sim, or a recording's path "
                     f"({', '.join(FORMATS)})")


"""Shared fixtures: a mock pin factory, simulated nights, the real recordings."""
from __future__ import annotations

import functools
from pathlib import Path

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory

from sensor.simulator import simulate_night

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "data" / "real"
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture
def mock_factory():
    """gpiozero's mock pins; set before any fake SPI device is built."""
    previous = Device.pin_factory
    Device.pin_factory = MockFactory()
    yield Device.pin_factory
    Device.pin_factory.reset()
    Device.pin_factory = previous


@functools.lru_cache(maxsize=8)
def cached_night(hours: float, seed: int, profile: str):
    return simulate_night(hours, seed, profile)


@pytest.fixture(scope="session")
def real_dir() -> Path:
    if not REAL.exists():
        pytest.skip(f"the real recordings are not at {REAL} (they come with ../shared)")
    return REAL

"""Shared fixtures: a mock pin factory, simulated nights, the real recordings."""
from __future__ import annotations

import functools
import os
import shutil
import socket
from pathlib import Path

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory

from sensor.simulator import simulate_night

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "data" / "real"
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def free_port() -> int:
    """A loopback port nothing listens on (for a server a test starts, or one it wants absent)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


def night_on_disk(path: Path, hours: float, seed: int, profile: str) -> Path:
    """A simulated night written as a recording file, as a household's would be replayed."""
    from sensor.recording import write_recording

    rec, _ = cached_night(hours, seed, profile)
    write_recording(path, rec)
    return path


@pytest.fixture(scope="session")
def real_dir() -> Path:
    if not REAL.exists():
        pytest.skip(f"the real recordings are not at {REAL} (they come with ../shared)")
    return REAL


@pytest.fixture(scope="module")
def browser():
    """Debian's headless Chromium, driven by Playwright (its own browser download cannot work here)."""
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail("Debian's chromium is not installed: run scripts/system-deps.sh test (make test does)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        yield b
        b.close()

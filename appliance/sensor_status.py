"""The sensor's named statuses and what each means to a person, said once.

The daemon records one of these names with every health row; the status page,
`/api/status` and `kickwatch doctor` turn the same name into the same words.
"""
from __future__ import annotations

OK, FLAT, CLIPPED, NOISY, FAULT, UNKNOWN = "ok", "flat", "clipped", "noisy", "fault", "unknown"

WORDS = {
    OK: "signal present",
    FLAT: "flat line: is the strip plugged in?",
    CLIPPED: "clipping at the ADC's limits: lower the gain",
    NOISY: "a minute of constant activity: wild noise on the strip's cable, or someone very restless",
    FAULT: "the ADC does not answer: the recorder keeps trying",
    UNKNOWN: "no health report from the recorder yet",
}


def words(status: str) -> str:
    return WORDS.get(status, status)

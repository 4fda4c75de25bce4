"""One figure over many nights: its median and spread, said the same way everywhere.

The middle half (25th to 75th percentile) is the spread a person can read: "half
the nights lay between". One night is a weak sample, so the diary's comparisons,
a night beside the usual, and the doctor's report all use it.
"""
from __future__ import annotations

import statistics


def spread(values: list[float]) -> dict | None:
    """Median, the middle half, lowest and highest, and how many (None for no values)."""
    if not values:
        return None
    q = statistics.quantiles(values, n=4, method="inclusive") if len(values) > 1 else [values[0]] * 3
    return {"median": q[1], "low": q[0], "high": q[2], "min": min(values), "max": max(values), "n": len(values)}

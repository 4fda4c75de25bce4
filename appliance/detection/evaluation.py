"""Scoring detections against a simulator's ground truth (benchmark and tests)."""
from __future__ import annotations


def match_count(detected: list[tuple[float, float]], truth: list[tuple[float, float]]) -> int:
    """One-to-one matches: a detection matches a true event it overlaps (greedy in time order)."""
    detected = sorted(detected)
    used = [False] * len(detected)
    tp = 0
    j0 = 0
    for a, b in sorted(truth):
        while j0 < len(detected) and detected[j0][1] <= a - 60:
            j0 += 1
        for j in range(j0, len(detected)):
            c, d = detected[j]
            if c >= b:
                break
            if not used[j] and c < b and d > a:
                used[j] = True
                tp += 1
                break
    return tp


def prf(detected, truth) -> dict:
    return _scores(match_count(detected, truth), len(detected), len(truth))


def pooled(scores: list[dict]) -> dict:
    """prf over the movements of several nights together: a quiet night has only a few."""
    return _scores(*(sum(s[k] for s in scores) for k in ("tp", "detected", "true")))


def _scores(tp: int, detected: int, true: int) -> dict:
    p = tp / detected if detected else (1.0 if not true else 0.0)
    r = tp / true if true else 1.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return {"tp": tp, "detected": detected, "true": true, "precision": p, "recall": r, "f1": f1}


def overlapping(detected, events) -> int:
    """How many of `events` some detection overlaps."""
    return sum(1 for a, b in events if any(c < b and d > a for c, d in detected))

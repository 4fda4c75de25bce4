"""The evening diary, and the nights compared by it.

Each evening a sleeper ticks what applies tonight: caffeine after noon, alcohol,
exercise in the evening, a new medicine or dose, and a free note. Periodic leg
movements change with these (antidepressants, antihistamines and anti-nausea drugs
are known to worsen them; iron and the drugs prescribed for them are meant to
help), but one night is a weak sample: the PLMI of one person varies a lot from
night to night. So a factor is compared only with enough nights on both sides, and
the difference is weighed against that variation itself: a permutation test
shuffles the same nights between "with" and "without" and counts how often chance
alone gives a difference of medians at least as large. The page says it in a
sentence, never as a bare p-value.
"""
from __future__ import annotations

import itertools
import random
import statistics
from math import comb
from dataclasses import dataclass, field

from appliance.spread import spread

FACTORS = (("caffeine", "caffeine after noon"), ("alcohol", "alcohol"), ("exercise", "exercise in the evening"),
           ("medicine", "a new medicine or dose"))
FACTOR_KEYS = tuple(k for k, _ in FACTORS)
NOTE_MAX = 300
MIN_NIGHTS = 5            # nights with and without a factor before they are compared (with fewer, no
                          # split of them is rare enough by chance for the medians to show a difference)
SHUFFLES = 10000          # random splits when there are more than this many ways to split the nights
UNUSUAL = 0.05            # chance alone giving a difference this large this rarely: "more than variation"


@dataclass
class Entry:
    date: str
    sleeper: str = ""
    ticked: set = field(default_factory=set)
    note: str = ""

    def as_row(self) -> dict:
        return {"date": self.date, "sleeper": self.sleeper, **{k: int(k in self.ticked) for k in FACTOR_KEYS},
                "note": self.note}

    @classmethod
    def from_row(cls, row: dict) -> "Entry":
        return cls(row["date"], row.get("sleeper") or "", {k for k in FACTOR_KEYS if row.get(k)}, row.get("note") or "")


def entry_problem(ticked: list[str], note: str) -> str | None:
    """What is wrong with a diary entry as sent, in words (None: nothing)."""
    unknown = [t for t in ticked if t not in FACTOR_KEYS]
    if unknown:
        return f"unknown diary item {unknown[0]!r}; the items are {', '.join(FACTOR_KEYS)}"
    if len(note) > NOTE_MAX:
        return f"the note is {len(note)} characters; keep it under {NOTE_MAX}"
    return None


@dataclass
class Comparison:
    factor: str
    label: str
    with_plmi: list[float]
    without_plmi: list[float]
    chance: float | None = None          # share of shuffles with a difference at least as large

    @property
    def enough(self) -> bool:
        return len(self.with_plmi) >= MIN_NIGHTS and len(self.without_plmi) >= MIN_NIGHTS

    def sentence(self) -> str:
        w, wo = spread(self.with_plmi), spread(self.without_plmi)
        if not self.enough:
            return (f"Not enough nights yet: {len(self.with_plmi)} with {self.label} and {len(self.without_plmi)} "
                    f"without; {MIN_NIGHTS} of each are needed before they are compared.")
        way = "higher" if w["median"] > wo["median"] else "lower" if w["median"] < wo["median"] else "the same"
        said = (f"On the {w['n']} nights with {self.label} the PLMI was {way}: median {w['median']:.1f}/h "
                f"(the middle half of them {w['low']:.1f}–{w['high']:.1f}), against {wo['median']:.1f}/h "
                f"({wo['low']:.1f}–{wo['high']:.1f}) on the {wo['n']} nights without.")
        if self.chance is not None and self.chance <= UNUSUAL:
            return (said + f" Shuffling the same nights at random gives a difference this large "
                    f"{_how_often(self.chance)}: more than night-to-night variation alone would usually give.")
        return (said + f" Shuffling the same nights at random gives a difference this large {_how_often(self.chance)}: "
                f"no more than night-to-night variation alone gives, so these nights do not show that {self.label} "
                "changes it.")


def _how_often(chance: float | None) -> str:
    """A share of shuffles in words: 'about 7 times in 100', 'less than once in 100'."""
    times = round(100 * (chance or 0.0))
    if times < 1:
        return "less than once in 100"
    return "about once in 100" if times == 1 else f"about {times} times in 100"


def compare(nights: list[dict], entries: dict[str, Entry]) -> list[Comparison]:
    """Each factor's nights (those with a diary entry and a PLMI) with it and without it."""
    out = []
    for key, label in FACTORS:
        with_, without = [], []
        for n in nights:
            e = entries.get(n["date"])
            if e is None or n.get("plmi") is None:
                continue
            (with_ if key in e.ticked else without).append(float(n["plmi"]))
        c = Comparison(key, label, with_, without)
        if c.enough:
            c.chance = shuffled_chance(with_, without)
        out.append(c)
    return out


def shuffled_chance(a: list[float], b: list[float], seed: int = 0) -> float:
    """Permutation test on the difference of medians: the share of splits of the pooled nights into
    groups of these sizes whose difference is at least the observed one (every split when there are
    at most SHUFFLES, else SHUFFLES random ones, the same each time)."""
    pooled = a + b
    observed = abs(statistics.median(a) - statistics.median(b))
    n, k = len(pooled), len(a)

    def diff(idx) -> float:
        chosen = set(idx)
        return abs(statistics.median([pooled[i] for i in idx])
                   - statistics.median([pooled[i] for i in range(n) if i not in chosen]))

    if comb(n, k) <= SHUFFLES:
        splits = list(itertools.combinations(range(n), k))
    else:
        rng = random.Random(seed)
        splits = [rng.sample(range(n), k) for _ in range(SHUFFLES)]
    hits = sum(1 for s in splits if diff(s) >= observed - 1e-9)
    return hits / len(splits)

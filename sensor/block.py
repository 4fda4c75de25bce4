"""The unit every source yields: a block of samples with its time and rate."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Block:
    """Samples of one stretch of time.

    `samples` has shape (n, channels), floats in the source's units. `t0` is the
    monotonic time (seconds) of the first sample; `fs` the nominal sample rate the
    samples are laid out at. A sample that could not be taken (missed deadline,
    failed transfer) is filled by holding the last value, and its count is in
    `gap_samples`, so time stays right and the gap is recorded rather than hidden.
    """

    samples: np.ndarray
    t0: float
    fs: float
    gap_samples: int = 0
    achieved_fs: float | None = None
    rails: tuple[float, float] | None = None
    extra: dict = field(default_factory=dict)

    @property
    def n(self) -> int:
        return int(self.samples.shape[0])

    @property
    def channels(self) -> int:
        return int(self.samples.shape[1])

    @property
    def duration(self) -> float:
        return self.n / self.fs

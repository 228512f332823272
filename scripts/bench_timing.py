"""The timer every benchmark script shares: the compared variants run interleaved, round after round, so a
machine that slows down midway (other jobs, thermal or cloud throttling) slows all of them alike; each
reports the minimum (the least disturbed run) and the median over its repeats."""

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Timing:
    min_s: float
    median_s: float

    def __str__(self) -> str:
        return f"{self.min_s:.4g} / {self.median_s:.4g}"


def time_interleaved(
    variants: dict[str, Callable[[], object]],
    repeats: int,
    *,
    warmup: int = 1,
    sync: Callable[[], object] = lambda: None,
) -> dict[str, Timing]:
    """Seconds per call of each variant: `warmup` untimed calls each, then `repeats` rounds that call every
    variant once in turn. `sync` drains an accelerator before and after each timed call."""
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    for fn in variants.values():
        for _ in range(warmup):
            fn()
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeats):
        for name, fn in variants.items():
            sync()
            start = time.perf_counter()
            fn()
            sync()
            samples[name].append(time.perf_counter() - start)
    return {name: Timing(min(s), statistics.median(s)) for name, s in samples.items()}

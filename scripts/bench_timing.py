"""The timer every benchmark script shares: the compared variants run interleaved, round after round, so a
machine that slows down midway (other jobs, thermal or cloud throttling) slows all of them alike; each
reports the minimum (the least disturbed run) and the median over its repeats.

And the record every benchmark leaves for `scripts/bench_all.py` (`--ratios FILE`): each headline ratio against
the baseline measured in the same run, one JSON line per ratio."""

import json
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path


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


@dataclass(frozen=True)
class Ratio:
    """One headline figure of a benchmark: `variant` against `baseline`, measured in the same run."""

    benchmark: str  # the script's subject, e.g. "plan latency"
    variant: str  # what is measured, e.g. "DPM-Solver++, 10 steps"
    baseline: str  # what it is compared with, e.g. "DDIM, 100 steps"
    ratio: float  # the variant against the baseline, read as "{ratio}× {meaning}"
    meaning: str  # e.g. "faster", "more plans/s", "the baseline's p99 lateness (lower is better)"
    detail: str  # both measurements with units, e.g. "0.31 / 0.33 s vs 3.1 / 3.2 s (min / median)"


def save_ratios(path: Path | None, ratios: list[Ratio]) -> None:
    """Appends `ratios` to `path` as JSON lines (nothing when `path` is None: the script runs on its own)."""
    if path is None:
        return
    with Path(path).open("a") as file:
        file.writelines(json.dumps(asdict(r)) + "\n" for r in ratios)

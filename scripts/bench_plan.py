"""Plan latency of the cpu preset (random weights, guidance on) per sampler and number of steps, against
DDIM with 100 steps (AVDC's sampler), interleaved.

Usage: .venv/bin/python scripts/bench_plan.py [--steps 5 10 20 50 100 --repeats 3]
"""

import argparse
import sys

import numpy as np
import torch
from bench_timing import time_interleaved

from foundation.errors import InputError, exit_status
from video_planner.model.config import preset
from video_planner.model.planner import VideoPlanner

SAMPLERS = ("dpmsolver++", "ddim")
BASELINE = ("ddim", 100)


def bench_plan(steps_list: list[int], repeats: int) -> str:
    if min(steps_list) < 1 or repeats < 1:
        raise InputError(f"--steps and --repeats must be >= 1, got {steps_list} and {repeats}")
    torch.manual_seed(0)
    planner = VideoPlanner(preset("cpu")).eval()
    image = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)  # (H, W, 3)
    variants = {
        (sampler, steps): lambda sampler=sampler, steps=steps: planner.plan(
            image, "open the door", steps=steps, sampler=sampler
        )
        for sampler in SAMPLERS
        for steps in sorted(set(steps_list) | {BASELINE[1]})
    }
    timings = time_interleaved(variants, repeats)
    reference = timings[BASELINE].median_s
    lines = [
        f"plan latency, cpu preset, guidance {planner.config.guidance_scale}, {repeats} interleaved repeats",
        "| sampler | steps | s / plan min | s / plan median | vs DDIM-100 (medians) |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {sampler} | {steps} | {t.min_s:.3f} | {t.median_s:.3f} | {reference / t.median_s:.1f}x faster |"
        for (sampler, steps), t in timings.items()
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, nargs="+", default=[5, 10, 20, 50, 100])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    return exit_status(lambda: print(bench_plan(args.steps, args.repeats)))


if __name__ == "__main__":
    sys.exit(main())

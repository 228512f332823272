"""Plan latency of the cpu preset (random weights, guidance on) per sampler and number of steps, against
DDIM with 100 steps (AVDC's sampler), interleaved. With `--samples`, also what a replanning costs when the agent
draws several plans in one batch (`vp eval --plan-samples N`) at 10 and 20 DPM-Solver++ steps, against one plan
of 20 steps (the agent's default), interleaved. With `--config`, also one plan of another planner config (random
weights, `--config-steps` DPM-Solver++ steps) against the cpu preset's plan, interleaved: whether a larger model
keeps within the cpu preset's plan budget. With `--guidance`, also one 20-step plan at each classifier-free
guidance scale against the cpu preset's own (2), interleaved: scale 1 skips the unconditional branch.

Usage: .venv/bin/python scripts/bench_plan.py [--steps 5 10 20 50 100 --repeats 3] [--samples 2 3 4] [--quick]
       [--config FILE --config-steps N] [--guidance 1 4] [--ratios FILE]
"""

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from bench_timing import Ratio, Timing, save_ratios, time_interleaved

from foundation.errors import InputError, exit_status
from video_planner.model.config import PlannerConfig, preset
from video_planner.model.planner import VideoPlanner

SAMPLERS = ("dpmsolver++", "ddim")
BASELINE = ("ddim", 100)
HEADLINE = (("dpmsolver++", 10), ("dpmsolver++", 20))  # the ratios saved: the cpu preset's 20 steps, and 10


def variant_keys(steps_list: list[int], quick: bool) -> list[tuple[str, int]]:
    """(sampler, steps) of every variant: each sampler at each step count and the baseline's, or in quick mode
    only the headline variants and the baseline (the rest would take several times as long)."""
    if min(steps_list) < 1:
        raise InputError(f"--steps must be >= 1, got {steps_list}")
    if quick:
        return [*HEADLINE, BASELINE]
    return [(sampler, steps) for sampler in SAMPLERS for steps in sorted(set(steps_list) | {BASELINE[1]})]


def headline_ratios(timings: dict[tuple[str, int], Timing]) -> list[Ratio]:
    """DPM-Solver++ at 10 and 20 steps (where measured) against DDIM-100, by medians as the table's last column."""
    base = timings[BASELINE]
    return [
        Ratio(
            benchmark="plan latency",
            variant=f"DPM-Solver++, {steps} steps",
            baseline=f"DDIM, {BASELINE[1]} steps",
            ratio=base.median_s / timings[sampler, steps].median_s,
            meaning="faster (medians)",
            detail=f"{timings[sampler, steps]} s vs {base} s (min / median)",
        )
        for sampler, steps in HEADLINE
        if (sampler, steps) in timings
    ]


def cpu_planner() -> tuple[VideoPlanner, np.ndarray]:
    """The cpu preset with random weights (timing does not depend on them) and a camera image. # (H, W, 3)"""
    torch.manual_seed(0)
    return VideoPlanner(preset("cpu")).eval(), np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)


def bench_samples(samples_list: list[int], repeats: int) -> str:
    """Seconds per replanning that draws N plans in one batch, at 10 and 20 steps, against one 20-step plan."""
    if min(samples_list) < 1:
        raise InputError(f"--samples must be >= 1, got {samples_list}")
    planner, image = cpu_planner()
    variants = {
        (samples, steps): lambda samples=samples, steps=steps: planner.plan_samples(
            image, "open the door", samples, steps=steps
        )
        for samples in sorted(set(samples_list) | {1})
        for steps in (10, 20)
    }
    timings = time_interleaved(variants, repeats)
    return timing_table(
        f"one replanning drawing N plans in one batch (DPM-Solver++), {repeats} interleaved repeats",
        ("plans", "steps"),
        timings,
        ("vs one 20-step plan (medians)", times_the(timings[1, 20])),
    )


def bench_config(path: Path, steps: int, repeats: int) -> str:
    """One plan of the planner config at `path` (random weights) at `steps` DPM-Solver++ steps against one plan of
    the cpu preset at its own steps, interleaved, with each denoiser's parameter count."""
    if steps < 1:
        raise InputError(f"--config-steps must be >= 1, got {steps}")
    planner, image = cpu_planner()
    torch.manual_seed(0)
    candidate = VideoPlanner(PlannerConfig.load(path)).eval()
    size = candidate.config.image_size
    candidate_image = np.random.default_rng(0).integers(0, 256, (size, size, 3), dtype=np.uint8)  # (H, W, 3)

    def parameters(model: VideoPlanner) -> str:
        return f"{sum(p.numel() for p in model.denoiser.parameters()) / 1e6:.1f} M"

    variants = {
        ("cpu preset", parameters(planner), planner.config.sampling_steps): lambda: planner.plan(
            image, "open the door"
        ),
        (path.name, parameters(candidate), steps): lambda: candidate.plan(
            candidate_image, "open the door", steps=steps
        ),
    }
    timings = time_interleaved(variants, repeats)
    return timing_table(
        f"one plan (DPM-Solver++, guidance on) against the cpu preset's, {repeats} interleaved repeats",
        ("planner", "denoiser parameters", "steps"),
        timings,
        ("vs the cpu preset (medians)", times_the(next(iter(timings.values())))),
    )


def bench_guidance(scales: list[float], repeats: int) -> str:
    """One plan of the cpu preset at each guidance scale against one at the preset's scale, interleaved."""
    if min(scales) < 1:
        raise InputError(f"--guidance scales must be >= 1 (1 turns guidance off), got {scales}")
    planner, image = cpu_planner()
    default = planner.config.guidance_scale
    variants = {
        (scale, planner.config.sampling_steps): lambda scale=scale: planner.plan(image, "open the door", guidance=scale)
        for scale in sorted(set(scales) | {default})
    }
    timings = time_interleaved(variants, repeats)
    return timing_table(
        f"one plan of the cpu preset (DPM-Solver++) per guidance scale, {repeats} interleaved repeats",
        ("guidance", "steps"),
        timings,
        (f"vs guidance {default} (medians)", times_the(timings[default, planner.config.sampling_steps])),
    )


def times_the(reference: Timing):
    """A table cell of a Timing: its median over `reference`'s, e.g. "0.87x the time"."""
    return lambda t: f"{t.median_s / reference.median_s:.2f}x the time"


def timing_table(title: str, key_names: tuple[str, ...], timings: dict[tuple, Timing], compared) -> str:
    """A markdown table of `timings` by key, min and median seconds, and `compared`: (header, cell of a Timing)."""
    header, cell = compared
    lines = [
        title,
        "| " + " | ".join(key_names) + f" | s min | s median | {header} |",
        "|---" * (len(key_names) + 3) + "|",
    ]
    lines += [
        "| " + " | ".join(str(part) for part in key) + f" | {t.min_s:.3f} | {t.median_s:.3f} | {cell(t)} |"
        for key, t in timings.items()
    ]
    return "\n".join(lines)


def bench_plan(keys: list[tuple[str, int]], repeats: int) -> tuple[str, list[Ratio]]:
    """The latency table of the (sampler, steps) variants `keys`, and its headline ratios."""
    if repeats < 1:
        raise InputError(f"--repeats must be >= 1, got {repeats}")
    planner, image = cpu_planner()
    variants = {
        (sampler, steps): lambda sampler=sampler, steps=steps: planner.plan(
            image, "open the door", steps=steps, sampler=sampler
        )
        for sampler, steps in keys
    }
    timings = time_interleaved(variants, repeats)
    reference = timings[BASELINE].median_s
    table = timing_table(
        f"plan latency, cpu preset, guidance {planner.config.guidance_scale}, {repeats} interleaved repeats",
        ("sampler", "steps"),
        timings,
        ("vs DDIM-100 (medians)", lambda t: f"{reference / t.median_s:.1f}x faster"),
    )
    return table, headline_ratios(timings)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, nargs="+", default=[5, 10, 20, 50, 100])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--samples", type=int, nargs="+", help="also time replannings that draw N plans in one batch")
    parser.add_argument(
        "--quick", action="store_true", help="1 repeat of DPM-Solver++ at 10 and 20 steps and DDIM-100 only"
    )
    parser.add_argument("--config", type=Path, help="also time a plan of this planner config.json (random weights)")
    parser.add_argument("--config-steps", type=int, default=20, help="--config's DPM-Solver++ steps (default: 20)")
    parser.add_argument(
        "--guidance", type=float, nargs="+", help="also time one plan at each guidance scale against the preset's"
    )
    parser.add_argument(
        "--ratios", type=Path, help="append the headline ratios as JSON lines (scripts/bench_all.py reads them)"
    )
    args = parser.parse_args()
    if args.quick:
        args.repeats = 1

    def run() -> None:
        report, ratios = bench_plan(variant_keys(args.steps, args.quick), args.repeats)
        print(report)
        save_ratios(args.ratios, ratios)
        if args.samples:
            print(bench_samples(args.samples, args.repeats))
        if args.config:
            print(bench_config(args.config, args.config_steps, args.repeats))
        if args.guidance:
            print(bench_guidance(args.guidance, args.repeats))

    return exit_status(run)


if __name__ == "__main__":
    sys.exit(main())

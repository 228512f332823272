"""Closed-loop episodes per minute: `vp eval`'s sequential loop against `--workers 2` (environments in Ray worker
processes, their plans gathered into shared `plan_batch` calls), on the same scenes.

The planner is the cpu preset with random weights (its cost, not its plans, matters here), the IDM the default
config. Each variant evaluates the same `--seeds` scenes of one task and camera into a fresh directory; the
variants run interleaved, round after round (min / median wall). The parallel variant's time includes starting
its worker processes, as a user's run does. Both must give every scene the same number of plans and steps.

Usage: .venv/bin/python scripts/bench_rollouts.py [--seeds 6 --steps 96 --repeats 2 --sampling-steps 10] [--quick]
       [--ratios FILE]
"""

import argparse
import dataclasses
import json
import sys
import tempfile
from pathlib import Path

import torch
from bench_timing import Ratio, Timing, save_ratios, time_interleaved

from foundation.errors import InputError, exit_status
from inverse_dynamics.config import InverseDynamicsConfig
from inverse_dynamics.model import InverseDynamics
from video_planner.control.closed_loop_eval import evaluate_control
from video_planner.control.settings import ControlEvalSettings
from video_planner.model.config import preset
from video_planner.model.planner import VideoPlanner


def workers_ratio(timings: dict[str, Timing], seeds: int) -> Ratio:
    """Episodes per minute of `--workers 2` against the sequential loop, by the least disturbed walls as the
    table's last column."""
    parallel, sequential = timings["--workers 2"], timings["sequential"]
    return Ratio(
        benchmark="closed-loop episodes/min",
        variant="vp eval --workers 2",
        baseline="vp eval, sequential",
        ratio=sequential.min_s / parallel.min_s,
        meaning="more episodes/min (min walls)",
        detail=f"{parallel} s vs {sequential} s wall for {seeds} episodes (min / median)",
    )


def bench_rollouts(seeds: int, steps: int, repeats: int, sampling_steps: int) -> tuple[str, list[Ratio]]:
    """The table of both loops' walls and episode rates, and the ratio of `--workers 2` to the sequential one."""
    if min(seeds, steps, repeats, sampling_steps) < 1:
        raise InputError("--seeds, --steps, --repeats and --sampling-steps must be >= 1")
    torch.manual_seed(0)
    planner = VideoPlanner(dataclasses.replace(preset("cpu"), sampling_steps=sampling_steps)).eval()
    idm = InverseDynamics(InverseDynamicsConfig()).eval()
    runs = {"sequential": 1, "--workers 2": 2}
    scenes: dict[str, list] = {}
    with tempfile.TemporaryDirectory() as root:
        count = iter(range(10**6))

        def variant(name: str, workers: int):
            def run() -> None:
                settings = ControlEvalSettings(
                    tasks=("door-open",), cameras=("corner",), seeds=seeds, max_episode_steps=steps, workers=workers
                )
                output = Path(root) / f"{name}-{next(count)}"
                evaluate_control(planner, idm, settings, output, show_progress=False)
                episodes = json.loads((output / "results.json").read_text())["episodes"]
                scenes[name] = [(e["seed"], e["plans"], e["steps"]) for e in episodes]

            return run

        timings = time_interleaved({name: variant(name, w) for name, w in runs.items()}, repeats, warmup=1)
    if scenes["sequential"] != scenes["--workers 2"]:
        raise RuntimeError(f"the variants ran different episodes: {scenes}")
    base = timings["sequential"]
    lines = [
        f"closed-loop episodes, door-open corner, {seeds} scenes x {steps} steps, cpu-preset planner "
        f"({sampling_steps} sampling steps, random weights), {torch.get_num_threads()} torch threads, "
        f"{repeats} interleaved rounds",
        "",
        "| variant | wall s (min / median) | episodes/min (min wall) | vs sequential |",
        "|---|---|---|---|",
    ]
    for name, timing in timings.items():
        rate = 60 * seeds / timing.min_s
        lines.append(f"| {name} | {timing} | {rate:.1f} | {base.min_s / timing.min_s:.2f}x |")
    return "\n".join(lines), [workers_ratio(timings, seeds)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=6, help="scenes per variant run")
    parser.add_argument("--steps", type=int, default=96, help="steps per episode")
    parser.add_argument("--repeats", type=int, default=2, help="interleaved rounds")
    parser.add_argument("--sampling-steps", type=int, default=10, help="denoising steps per plan")
    parser.add_argument(
        "--quick", action="store_true", help="2 scenes of 24 steps (one plan each), 4 sampling steps, 1 round"
    )
    parser.add_argument(
        "--ratios", type=Path, help="append the headline ratios as JSON lines (scripts/bench_all.py reads them)"
    )
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.steps, args.repeats, args.sampling_steps = 2, 24, 1, 4

    def run() -> None:
        report, ratios = bench_rollouts(args.seeds, args.steps, args.repeats, args.sampling_steps)
        print(report)
        save_ratios(args.ratios, ratios)

    return exit_status(run)


if __name__ == "__main__":
    sys.exit(main())

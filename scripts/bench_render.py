"""MetaWorld rendering: gymnasium's `render()` against our `FastRenderer` on the same scene, and what rendering
twice as large and area-resizing (`vp eval --render-scale 2`, the way training frames are made) costs per step.

Each measurement runs in a process of its own, and the two renderers' processes alternate round after round:
OpenGL state leaks between renderers of one process (with a FastRenderer open, gymnasium's render() of the
same scene runs 3-4x faster than alone), so timing them side by side in one process would flatter the
baseline, while alternating processes still lets a machine's slow spells hit both alike.

Usage: MUJOCO_GL=egl .venv/bin/python scripts/bench_render.py [--task door-open --camera corner --image-size 64]
       [--repeats 5 --calls 20] [--quick] [--ratios FILE]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")

import numpy as np  # noqa: E402
from bench_timing import Ratio, Timing, save_ratios  # noqa: E402

from foundation.errors import InputError, exit_status  # noqa: E402
from robot_io.metaworld_env import MetaWorldEnv  # noqa: E402
from robot_io.metaworld_tasks import env_id, resolve_task  # noqa: E402

RENDERERS = ("gymnasium render()", "FastRenderer", "FastRenderer, render scale 2")


def _mean_ms(fn, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls * 1e3


def _ms(timing: Timing) -> str:
    return f"{1e3 * timing.min_s:.2f} / {1e3 * timing.median_s:.2f}"


def measure_once(renderer: str, task: str, camera: str, image_size: int, calls: int) -> dict:
    """Mean ms per frame and per step over `calls` consecutive calls of one renderer (after one warm-up)."""
    action = np.zeros(4, dtype=np.float32)
    if renderer == RENDERERS[0]:
        import gymnasium as gym
        import metaworld  # noqa: F401 - registers the Meta-World/ env ids

        env = gym.make(
            "Meta-World/MT1",
            env_name=env_id(task),
            seed=0,
            render_mode="rgb_array",
            camera_name=camera,
            width=image_size,
            height=image_size,
        )
        env.reset()
        env.render()
        result = {"frame": _mean_ms(env.render, calls), "step": _mean_ms(lambda: env.step(action), calls)}
        env.close()
        return result
    scale = 2 if renderer == RENDERERS[2] else 1
    with MetaWorldEnv(task, camera, image_size, seed=0, render_scale=scale) as env:
        env.reset()
        env.render()
        return {"frame": _mean_ms(env.render, calls), "step": _mean_ms(lambda: env.step(action, render=False), calls)}


def speed_ups(t: dict[tuple[str, str], Timing], image_size: int) -> list[Ratio]:
    """FastRenderer against gymnasium per frame and per rendered step (a step, then its frame), and a rendered
    step at render scale 2 against one at 1, by medians as the report's last line."""
    gym, ours, scaled = RENDERERS
    per_frame = Ratio(
        benchmark="MetaWorld rendering",
        variant=f"{ours}, {image_size}px frame",
        baseline=f"{gym}, {image_size}px frame",
        ratio=t[gym, "frame"].median_s / t[ours, "frame"].median_s,
        meaning="faster (medians)",
        detail=f"{_ms(t[ours, 'frame'])} ms vs {_ms(t[gym, 'frame'])} ms (min / median)",
    )

    def rendered_step(variant: str, baseline: str, *, as_speed_up: bool) -> Ratio:
        """A step and its frame of `variant` against `baseline`'s: as a speed-up (the baseline's time over the
        variant's), or as the variant's time over the baseline's."""
        (v_frame, v_step), (b_frame, b_step) = (
            (t[name, "frame"].median_s * 1e3, t[name, "step"].median_s * 1e3) for name in (variant, baseline)
        )
        ratio = (b_frame + b_step) / (v_frame + v_step)
        return Ratio(
            benchmark="MetaWorld rendering",
            variant=f"{variant}, {image_size}px rendered step",
            baseline=f"{baseline}, {image_size}px rendered step",
            ratio=ratio if as_speed_up else 1 / ratio,
            meaning="faster (medians)" if as_speed_up else "the time (medians)",
            detail=f"{v_frame:.2f} + {v_step:.2f} ms vs {b_frame:.2f} + {b_step:.2f} ms (frame + step, medians)",
        )

    per_step = rendered_step(ours, gym, as_speed_up=True)
    supersampled = rendered_step(scaled, ours, as_speed_up=False)
    return [per_frame, per_step, supersampled]


def bench_render(task: str, camera: str, image_size: int, repeats: int, calls: int) -> tuple[str, list[Ratio]]:
    """The table of every renderer's times per frame and per step, and the ratios between them."""
    if repeats < 1 or calls < 1:
        raise InputError(f"--repeats and --calls must be >= 1, got {repeats} and {calls}")
    task = resolve_task(task)
    samples = {name: {"frame": [], "step": []} for name in RENDERERS}
    for _ in range(repeats):
        for name in RENDERERS:
            command = [sys.executable, __file__, "--measure", name, "--task", task, "--camera", camera]
            command += ["--image-size", str(image_size), "--calls", str(calls)]
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode != 0:
                raise InputError(f"measuring {name} failed: {(done.stderr.strip().splitlines() or ['?'])[-1]}")
            for key, value in json.loads(done.stdout.strip().splitlines()[-1]).items():
                samples[name][key].append(value / 1e3)  # seconds, as Timing holds them
    t = {(n, k): Timing(min(v), statistics.median(v)) for n, kinds in samples.items() for k, v in kinds.items()}
    per_frame, per_step, supersampled = ratios = speed_ups(t, image_size)
    report = "\n".join(
        [
            f"render {task} / {camera} at {image_size}px: {repeats} alternating processes of {calls} calls each",
            "| renderer | ms per frame min / median | ms per step (no frame) min / median |",
            "|---|---|---|",
            *(f"| {name} | {_ms(t[name, 'frame'])} | {_ms(t[name, 'step'])} |" for name in RENDERERS),
            f"speed-up (medians): {per_frame.ratio:.1f}x per frame, {per_step.ratio:.1f}x per rendered step",
            f"render scale 2 (medians): {supersampled.ratio:.2f}x the time of a rendered step at scale 1",
        ]
    )
    return report, ratios


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="door-open")
    parser.add_argument("--camera", default="corner")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5, help="rounds of one process per renderer")
    parser.add_argument("--calls", type=int, default=20, help="consecutive calls timed in each process")
    parser.add_argument("--quick", action="store_true", help="1 round of processes, 5 calls each")
    parser.add_argument(
        "--ratios", type=Path, help="append the headline ratios as JSON lines (scripts/bench_all.py reads them)"
    )
    parser.add_argument("--measure", choices=RENDERERS, help=argparse.SUPPRESS)  # a child process's one job
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure_once(args.measure, args.task, args.camera, args.image_size, args.calls)))
        return 0
    if args.quick:
        args.repeats, args.calls = 1, 5

    def run() -> None:
        report, ratios = bench_render(args.task, args.camera, args.image_size, args.repeats, args.calls)
        print(report)
        save_ratios(args.ratios, ratios)

    return exit_status(run)


if __name__ == "__main__":
    sys.exit(main())

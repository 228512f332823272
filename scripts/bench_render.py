"""MetaWorld rendering: gymnasium's `render()` against our `FastRenderer` on the same scene, interleaved.

Usage: MUJOCO_GL=egl .venv/bin/python scripts/bench_render.py [--task door-open --camera corner --image-size 64]
"""

import argparse
import os
import sys

os.environ.setdefault("MUJOCO_GL", "egl")

import numpy as np  # noqa: E402
from bench_timing import time_interleaved  # noqa: E402

from foundation.errors import exit_status  # noqa: E402
from robot_io.metaworld_env import MetaWorldEnv  # noqa: E402
from robot_io.metaworld_tasks import env_id  # noqa: E402


def bench_render(task: str, camera: str, image_size: int, repeats: int) -> str:
    """Milliseconds per frame and per step of both renderers, min / median over `repeats` interleaved calls."""
    import gymnasium as gym
    import metaworld  # noqa: F401 - registers the Meta-World/ env ids

    baseline = gym.make(
        "Meta-World/MT1",
        env_name=env_id(task),
        seed=0,
        render_mode="rgb_array",
        camera_name=camera,
        width=image_size,
        height=image_size,
    )
    baseline.reset()
    action = np.zeros(4, dtype=np.float32)
    with MetaWorldEnv(task, camera, image_size, seed=0) as env:
        env.reset()
        t = time_interleaved(
            {
                "gymnasium render()": baseline.render,
                "FastRenderer": env.render,
                "gymnasium step": lambda: baseline.step(action),
                "our step, no frame": lambda: env.step(action, render=False),
            },
            repeats,
        )
    baseline.close()
    ms = {name: (1e3 * timing.min_s, 1e3 * timing.median_s) for name, timing in t.items()}
    gym_frame, ours_frame = ms["gymnasium render()"][1], ms["FastRenderer"][1]
    gym_total, ours_total = gym_frame + ms["gymnasium step"][1], ours_frame + ms["our step, no frame"][1]
    return "\n".join(
        [
            f"render {task} / {camera} at {image_size}x{image_size}, {repeats} interleaved calls each",
            "| call | ms min | ms median |",
            "|---|---|---|",
            *(f"| {name} | {low:.2f} | {median:.2f} |" for name, (low, median) in ms.items()),
            f"speed-up (medians): {gym_frame / ours_frame:.1f}x per frame, {gym_total / ours_total:.1f}x per "
            "rendered step",
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="door-open")
    parser.add_argument("--camera", default="corner")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    return exit_status(lambda: print(bench_render(args.task, args.camera, args.image_size, args.repeats)))


if __name__ == "__main__":
    sys.exit(main())

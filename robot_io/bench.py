"""Benchmarks of the data path: MetaWorld render speed and expert-demo collection throughput."""

import shutil
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from robot_io.collect import collect
from robot_io.metaworld_env import MetaWorldEnv
from robot_io.metaworld_tasks import env_id
from robot_io.recipe import CollectionRecipe


def _ms_per_call(fn, repeats: int) -> float:
    fn()  # warm-up: first render allocates GL buffers
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats * 1e3


def bench_render(task: str = "door-open", camera: str = "corner", image_size: int = 64, repeats: int = 50) -> str:
    """Per-frame render time of gymnasium's `render()` and of FastRenderer on the same scene, same run."""
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
    gym_render_ms = _ms_per_call(baseline.render, repeats)
    gym_step_ms = _ms_per_call(lambda: baseline.step(action), repeats)
    baseline.close()
    with MetaWorldEnv(task, camera, image_size, seed=0) as env:
        env.reset()
        ours_ms = _ms_per_call(env.render, repeats)
        step_ms = _ms_per_call(lambda: env.step(action, render=False), repeats)
    return "\n".join(
        [
            f"render {task} / {camera} at {image_size}x{image_size}, {repeats} frames each",
            "| renderer | ms per frame | ms per step + frame |",
            "|---|---|---|",
            f"| gymnasium render() | {gym_render_ms:.1f} | {gym_render_ms + gym_step_ms:.1f} |",
            f"| robot_io FastRenderer | {ours_ms:.1f} | {ours_ms + step_ms:.1f} |",
            f"speed-up: {gym_render_ms / ours_ms:.1f}x per frame, "
            f"{(gym_render_ms + gym_step_ms) / (ours_ms + step_ms):.1f}x per rendered step "
            f"(physics alone: {step_ms:.2f} ms/step)",
        ]
    )


def bench_collect(recipe_path: str | Path, episodes_per_camera: int | None = None) -> str:
    """Collects a recipe (optionally fewer demos per camera) into a temporary directory; episodes/min."""
    recipe = CollectionRecipe.from_toml(recipe_path)
    if episodes_per_camera is not None:
        recipe = replace(recipe, episodes_per_camera=episodes_per_camera)
    out = Path(tempfile.mkdtemp(prefix="vp-bench-collect-")) / recipe.name
    try:
        start = time.perf_counter()
        progress = collect(recipe, out, show_progress=False)
        minutes = (time.perf_counter() - start) / 60
    finally:
        shutil.rmtree(out.parent, ignore_errors=True)
    kept = sum(p.recorded for p in progress.values())
    attempts = sum(p.attempts for p in progress.values())
    return (
        f"collect {recipe.name}: {kept} episodes kept of {attempts} expert attempts in {minutes:.2f} min "
        f"= {kept / minutes:.1f} episodes/min"
    )

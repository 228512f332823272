"""Expert-demo collection throughput (episodes per minute) for a recipe, written to a temporary directory.

Usage: MUJOCO_GL=egl .venv/bin/python scripts/bench_collect.py [--recipe datasets/metaworld_avdc11.toml]
       [--episodes-per-camera 1]
"""

import argparse
import os
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")

from foundation.errors import exit_status  # noqa: E402
from robot_io.collect import collect  # noqa: E402
from robot_io.recipe import CollectionRecipe  # noqa: E402


def bench_collect(recipe_path: Path, episodes_per_camera: int | None) -> str:
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", type=Path, default=Path("datasets/metaworld_avdc11.toml"))
    parser.add_argument("--episodes-per-camera", type=int, help="override the recipe's demos per camera")
    args = parser.parse_args()
    return exit_status(lambda: print(bench_collect(args.recipe, args.episodes_per_camera)))


if __name__ == "__main__":
    sys.exit(main())

"""Expert-demo collection throughput (episodes per minute) for a recipe, written to a temporary directory.
Nothing runs beside it as a baseline, so it appends no ratio to `--ratios` (which scripts/bench_all.py passes to
every benchmark).

Usage: MUJOCO_GL=egl .venv/bin/python scripts/bench_collect.py [--recipe datasets/metaworld_avdc11.toml]
       [--episodes-per-camera 1] [--quick] [--ratios FILE]
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

from bench_timing import save_ratios  # noqa: E402

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
    parser.add_argument(
        "--quick", action="store_true", help="collect datasets/tiny.toml instead (2 tasks x 2 cameras x 1 demo, 64 px)"
    )
    parser.add_argument(
        "--ratios", type=Path, help="the file scripts/bench_all.py reads ratios from; this benchmark appends none"
    )
    args = parser.parse_args()
    if args.quick:
        args.recipe = Path("datasets/tiny.toml")

    def run() -> None:
        print(bench_collect(args.recipe, args.episodes_per_camera))
        save_ratios(args.ratios, [])  # no baseline measured beside it

    return exit_status(run)


if __name__ == "__main__":
    sys.exit(main())

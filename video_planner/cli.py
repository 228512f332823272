"""The `vp` command: one subcommand per job.

    vp collect --recipe datasets/metaworld_avdc11.toml [--output outputs/datasets/metaworld_avdc11]
    vp summary outputs/datasets/metaworld_avdc11
    vp bench render [--image-size 64]
    vp bench collect [--recipe datasets/metaworld_avdc11.toml --episodes-per-camera 1]

Bad input (unknown task or camera, missing dataset, typo'd recipe key) exits with status 2 and one
line on stderr that names the problem.
"""

import argparse
import logging
import os
import sys
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")

from robot_io.errors import InputError  # noqa: E402


def _collect(args: argparse.Namespace) -> None:
    from robot_io.collect import collect
    from robot_io.dataset_summary import summarize
    from robot_io.recipe import CollectionRecipe

    recipe = CollectionRecipe.from_toml(args.recipe)
    output = args.output or Path("outputs/datasets") / recipe.name
    progress = collect(recipe, output)
    if not any(group.recorded for group in progress.values()):
        raise InputError(f"the experts failed every attempt of {recipe.name}; no dataset written to {output}")
    print(summarize(output))


def _summary(args: argparse.Namespace) -> None:
    from robot_io.dataset_summary import summarize

    print(summarize(args.dataset))


def _bench(args: argparse.Namespace) -> None:
    from robot_io.bench import bench_collect, bench_render

    if args.what == "render":
        print(bench_render(args.task, args.camera, args.image_size, args.repeats))
    else:
        print(bench_collect(args.recipe, args.episodes_per_camera))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vp", description="video-planner: plan robot actions by imagining video.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("collect", help="record scripted-expert demos as a LeRobotDataset (resumable)")
    p.add_argument("--recipe", required=True, type=Path, help="recipe TOML, e.g. datasets/metaworld_avdc11.toml")
    p.add_argument("--output", type=Path, help="dataset directory (default: outputs/datasets/<recipe name>)")
    p.set_defaults(run=_collect)

    p = sub.add_parser("summary", help="print what a dataset holds per task and how the experts fared")
    p.add_argument("dataset", type=Path)
    p.set_defaults(run=_summary)

    p = sub.add_parser("bench", help="benchmarks: render speed, collection throughput")
    bench = p.add_subparsers(dest="what", required=True)
    r = bench.add_parser("render", help="gymnasium render() vs FastRenderer, same run")
    r.add_argument("--task", default="door-open")
    r.add_argument("--camera", default="corner")
    r.add_argument("--image-size", type=int, default=64)
    r.add_argument("--repeats", type=int, default=50)
    c = bench.add_parser("collect", help="episodes per minute for a recipe")
    c.add_argument("--recipe", type=Path, default=Path("datasets/metaworld_avdc11.toml"))
    c.add_argument("--episodes-per-camera", type=int, help="override the recipe's demos per camera")
    p.set_defaults(run=_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        args.run(args)
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

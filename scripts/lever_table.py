"""Renders the table of levers: what each change did to closed-loop success, scene by scene, and what it cost.

    python scripts/lever_table.py \
        --lever "render scale 2" docs/results/avdc11_levers/selection_render_scale_{1,2}.json \
        --lever "128 px frames" docs/results/avdc11_levers/shipping_5000_steps{,_128px}.json

A lever is two `vp eval` result files that played exactly the same scenes: the run without the change, then the
run with it. Its row gives the scenes (how many, and whose range: selection or evaluation), both means, their
paired difference (`closed_loop_eval.paired_difference`), and each run's planning seconds per replanning, the
change's price at plan time. A pair on different scenes is refused: its difference would mix the scenes'
difficulty into the lever's effect.
"""

import argparse
import sys
from pathlib import Path

from foundation.config_io import read_json
from foundation.errors import InputError, exit_status
from robot_io.scene_seeds import FIRST_SEEDS
from video_planner.control.closed_loop_eval import paired_difference, rate_text


def scene_range(result: dict) -> str:
    """Whose scenes a run played: the role whose seed range starts at its first seed (`robot_io/scene_seeds.py`)."""
    first_seed = result.get("run", {}).get("settings", {}).get("first_seed")
    roles = {seed: role for role, seed in FIRST_SEEDS.items()}
    return roles.get(first_seed, f"from seed {first_seed}")


def mean_text(result: dict) -> str:
    summary = result["summary"]
    return rate_text(summary["mean_success"], summary.get("mean_stderr"))


def seconds_per_replanning(result: dict) -> str:
    """Planning seconds over plans drawn, over the run's episodes; '–' for a file without them."""
    episodes = result.get("episodes", [])
    plans = sum(e.get("plans", 0) for e in episodes)
    if not plans or any("plan" not in e.get("seconds", {}) for e in episodes):
        return "–"
    return f"{sum(e['seconds']['plan'] for e in episodes) / plans:.2f}"


def lever_table(levers: list[tuple[str, Path, Path]], results: dict[Path, dict]) -> str:
    """The markdown table of `levers` (name, result file without the change, result file with it)."""
    lines = [
        "| lever | scenes | without | with | paired difference | scenes won / lost | plan s per replanning |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, without_path, with_path in levers:
        without, with_lever = results[without_path], results[with_path]
        difference = paired_difference(without, with_lever)
        if difference is None:
            raise InputError(
                f"lever {name!r}: {without_path} and {with_path} did not play the same scenes (or lack their "
                "episodes); give two runs of the same --tasks, --cameras, --seeds and --first-seed"
            )
        lines.append(
            f"| {name} | {difference.scenes} {scene_range(without)} | {mean_text(without)} | {mean_text(with_lever)} "
            f"| {difference.points:+.1f} ± {difference.stderr:.1f} points | {difference.won} / {difference.lost} "
            f"| {seconds_per_replanning(without)} → {seconds_per_replanning(with_lever)} |"
        )
    lines.append("")
    lines += [f"- {name}: `{without}` → `{with_lever}`" for name, without, with_lever in levers]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--lever",
        nargs=3,
        action="append",
        required=True,
        metavar=("NAME", "WITHOUT", "WITH"),
        help="a lever's name, the result file without it and the one with it (repeat for more levers)",
    )
    args = parser.parse_args()

    def render() -> None:
        levers = [(name, Path(without), Path(with_lever)) for name, without, with_lever in args.lever]
        paths = {path for _, without, with_lever in levers for path in (without, with_lever)}
        results = {path: read_json(path, {"summary": dict, "episodes": list}) for path in paths}
        print(lever_table(levers, results))

    return exit_status(render)


if __name__ == "__main__":
    sys.exit(main())

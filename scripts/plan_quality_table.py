"""Renders a plan-quality table from `vp eval-planner` result files: a row per task, a column per (file, method,
metric), the mean over tasks last, and under the table each file's command.

    python scripts/plan_quality_table.py \
        "docs/results/avdc11/planner_quality_objects.json:autoencoder round trip:object_psnr" \
        "docs/results/avdc11/autoencoder_8_channels.json:autoencoder round trip:object_psnr" \
        --names "4 latent channels" "8 latent channels"

Methods are the result file's (`planner`, `repeat first frame`, `autoencoder round trip`, ...), metrics `psnr`,
`ssim` or `object_psnr`. Every task of a file scores the same number of clips, so the mean over tasks is the
mean over clips.
"""

import argparse
import sys
from pathlib import Path

import numpy as np

from foundation.config_io import read_json
from foundation.errors import InputError, exit_status

METRICS = ("psnr", "ssim", "object_psnr")


def column(spec: str) -> tuple[Path, str, str]:
    """FILE:METHOD:METRIC, refused in one line when malformed."""
    parts = spec.rsplit(":", 2)
    if len(parts) != 3 or parts[2] not in METRICS:
        raise InputError(f"column {spec!r} is not FILE:METHOD:METRIC with METRIC one of {', '.join(METRICS)}")
    return Path(parts[0]), parts[1], parts[2]


def column_values(result: dict, method: str, metric: str, path: Path) -> dict[str, float]:
    """The metric of `method` per task, refused in one line when the file lacks it."""
    if method not in result["methods"]:
        raise InputError(f"{path} has no method {method!r}; it has {', '.join(result['methods'])}")
    if any(metric not in scores[method] for scores in result["tasks"].values()):
        raise InputError(f"{path} does not score {metric} on every task; rerun vp eval-planner on demos with states")
    return {task: scores[method][metric] for task, scores in result["tasks"].items()}


def quality_table(columns: list[tuple[Path, str, str]], results: dict[Path, dict], names: list[str]) -> str:
    values = [column_values(results[path], method, metric, path) for path, method, metric in columns]
    tasks = list(dict.fromkeys(task for v in values for task in v))
    decimals = [3 if metric == "ssim" else 2 for _, _, metric in columns]
    lines = ["| task | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for task in tasks:
        cells = ["–" if task not in v else f"{v[task]:.{d}f}" for v, d in zip(values, decimals, strict=True)]
        lines.append(f"| {task} | " + " | ".join(cells) + " |")
    means = [f"**{np.mean(list(v.values())):.{d}f}**" for v, d in zip(values, decimals, strict=True)]
    lines += ["| **mean** | " + " | ".join(means) + " |", ""]
    for path, result in results.items():
        run = result.get("run", {})
        command = run.get("command", "command not recorded in the file")
        lines.append(f"- `{path}`: {result['clips']} clips; `{command}` (commit {run.get('commit') or 'unknown'})")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("columns", nargs="+", help="FILE:METHOD:METRIC, one per column")
    parser.add_argument("--names", nargs="+", help="a column name per FILE:METHOD:METRIC (default: the specs)")
    args = parser.parse_args()

    def render() -> None:
        names = args.names or args.columns
        if len(names) != len(args.columns):
            raise InputError(f"{len(names)} names for {len(args.columns)} columns; give one per column")
        columns = [column(spec) for spec in args.columns]
        results = {path: read_json(path, {"methods": list, "tasks": dict, "clips": int}) for path, _, _ in columns}
        print(quality_table(columns, results, names))

    return exit_status(render)


if __name__ == "__main__":
    sys.exit(main())

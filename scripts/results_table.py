"""Renders a closed-loop results table from `vp eval` result files: a row per task, a column per run, each cell
the success rate ± its standard error, and under the table the command and code of every run.

    python scripts/results_table.py docs/results/avdc11/planner.json docs/results/avdc11/oracle.json \
        --names "planner + IDM" "oracle plans + IDM"

Result files are `results.json` of `vp eval` (or copies of them kept under `docs/results/`), or a published
anchor's figures in the same form, whose `run` names its `source` instead of a command; the results tables
are this script's output, so a table changes only when its result files do. Each run that played exactly the
first run's scenes gets its paired difference against it under the table.
"""

import argparse
import sys
from pathlib import Path

import numpy as np

from foundation.config_io import read_json
from foundation.errors import InputError, exit_status
from video_planner.control.closed_loop_eval import rate_text


def paired_difference(base: dict, other: dict) -> str | None:
    """`other`'s success minus `base`'s, scene by scene, when both ran exactly the same scenes (task, camera,
    scene seed): the mean difference in points with its standard error, and how many scenes each one won.
    Pairing removes the scenes' own difficulty from the error, so it is smaller than the two means' errors
    combined. None when either lacks its episodes or the scenes differ."""

    def outcomes(result: dict) -> dict:
        return {(e["task"], e["camera"], e["seed"]): int(e["success"]) for e in result.get("episodes", [])}

    a, b = outcomes(base), outcomes(other)
    if not a or a.keys() != b.keys() or len(a) < 2:
        return None
    differences = np.array([b[scene] - a[scene] for scene in a], dtype=np.float64)  # (scenes,) in {-1, 0, 1}
    stderr = differences.std(ddof=1) / np.sqrt(len(differences))
    won, lost = int((differences > 0).sum()), int((differences < 0).sum())
    return (
        f"{100 * differences.mean():+.1f} ± {100 * stderr:.1f} points on the same {len(differences)} scenes "
        f"({won} won, {lost} lost)"
    )


def results_table(results: list[dict], names: list[str]) -> str:
    """The markdown table of several runs' results (dicts as `vp eval` writes them)."""
    tasks = list(dict.fromkeys(task for r in results for task in r["summary"]["tasks"]))
    lines = ["| task | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for task in tasks:
        cells = []
        for r in results:
            t = r["summary"]["tasks"].get(task)
            cells.append("–" if t is None else rate_text(t["success"], t.get("stderr")))
        lines.append(f"| {task} | " + " | ".join(cells) + " |")
    means = [f"**{rate_text(r['summary']['mean_success'], r['summary'].get('mean_stderr'))}**" for r in results]
    lines.append("| **mean** | " + " | ".join(means) + " |")
    lines.append("")
    for name, r in zip(names, results, strict=True):
        run = r.get("run", {})
        episodes = r["summary"]["episodes"]
        if "source" in run:  # a published figure kept for comparison, not a run of ours
            lines.append(f"- {name}: {episodes} episodes; {run['source']}")
            continue
        lines.append(f"- {name}: {episodes} episodes; `{run.get('command', 'command not recorded')}`")
        lines.append(f"  (commit {run.get('commit') or 'unknown'}, {run.get('episode_seconds', '?')} s in episodes)")
    for name, r in zip(names[1:], results[1:], strict=True):
        difference = paired_difference(results[0], r)
        if difference is not None:
            lines.append(f"- {name} against {names[0]}: {difference}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="+", type=Path, help="results.json files of vp eval")
    parser.add_argument("--names", nargs="+", help="a column name per file (default: the file names)")
    args = parser.parse_args()
    names = args.names or [str(path) for path in args.results]

    def render() -> None:
        if len(names) != len(args.results):
            raise InputError(f"{len(names)} names for {len(args.results)} result files; give one per file")
        print(results_table([read_json(path, {"summary": dict}) for path in args.results], names))

    return exit_status(render)


if __name__ == "__main__":
    sys.exit(main())

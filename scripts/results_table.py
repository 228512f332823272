"""Renders a closed-loop results table from `vp eval` result files: a row per task, a column per run, each cell
the success rate ± its standard error, and under the table the command and code of every run.

    python scripts/results_table.py docs/results/avdc11/planner.json docs/results/avdc11/oracle.json \
        --names "planner + IDM" "oracle plans + IDM"

Result files are `results.json` of `vp eval` (or copies of them kept under `docs/results/`), or a published
anchor's figures in the same form, whose `run` names its `source` instead of a command; the results tables
are this script's output, so a table changes only when its result files do. Each run that played exactly the
first run's scenes gets its paired difference against it under the table
(`closed_loop_eval.paired_difference`).
"""

import argparse
import sys
from pathlib import Path

from foundation.config_io import read_json
from foundation.errors import InputError, exit_status
from video_planner.control.closed_loop_eval import paired_difference, rate_text


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

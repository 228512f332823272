"""A SAIL run's per-iteration table (success ± standard error per task, selection scenes, rollouts solved and
kept, the detector's scores), rendered from the run's result files, and the copy of those files that is kept
in the repository.

    python scripts/sail_table.py docs/results/sail/learned                      # the table, from kept files
    python scripts/sail_table.py docs/results/sail/learned --from outputs/sail/learned   # keep a run's files

`--from` copies what the table reads and nothing else: `sail.json` (the settings), and per iteration the
evaluation's and the selection's `results.json` (command, commit, scenes, every episode's outcome) and
`filter.json` (every verdict, the filter's settings and the detector's scores). The table is the one `vp sail`
writes into `report.md`, so a results table made by this script changes only when those files do.
"""

import argparse
import shutil
import sys
from pathlib import Path

from foundation.config_io import dataclass_from_dict, read_json
from foundation.errors import InputError, exit_status
from video_planner.sail.report import evaluated_iterations, markdown_table
from video_planner.sail.settings import SETTINGS_FILE, SailSettings

KEPT = ("eval/results.json", "selection/results.json", "filter.json")  # per iteration, where present


def keep_result_files(run: Path, destination: Path) -> None:
    """Copies the files the table reads from a `vp sail` output directory into `destination`."""
    if not (run / SETTINGS_FILE).is_file():
        raise InputError(f"{run} has no {SETTINGS_FILE}; give a vp sail --output directory")
    destination.mkdir(parents=True, exist_ok=True)
    shutil.copy2(run / SETTINGS_FILE, destination / SETTINGS_FILE)
    for iteration in sorted(run.glob("iter_*")):
        for name in KEPT:
            if (iteration / name).is_file():
                (destination / iteration.name / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(iteration / name, destination / iteration.name / name)


def sail_table(results: Path) -> str:
    settings = dataclass_from_dict(SailSettings, read_json(results / SETTINGS_FILE), str(results / SETTINGS_FILE))
    iterations = evaluated_iterations(results, settings)
    if not iterations:
        raise InputError(f"{results} holds no evaluated iteration")
    return markdown_table(settings, iterations)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, help="a folder of kept result files (or a vp sail --output)")
    parser.add_argument("--from", dest="run", type=Path, help="a vp sail --output whose result files to keep first")
    args = parser.parse_args()

    def render() -> None:
        if args.run is not None:
            keep_result_files(args.run, args.results)
        print(sail_table(args.results))

    return exit_status(render)


if __name__ == "__main__":
    sys.exit(main())

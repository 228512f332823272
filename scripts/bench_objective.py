"""Planner benchmark: see `vp bench objective --help`. Prints a table against a baseline measured in the same run.

Usage: .venv/bin/python scripts/bench_objective.py [flags of vp bench objective]
"""

import sys

from video_planner.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", "objective", *sys.argv[1:]]))

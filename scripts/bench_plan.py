"""Planner benchmark: see `vp bench plan --help`. Prints a table and a ratio against a baseline from the same run.

Usage: .venv/bin/python scripts/bench_plan.py
"""

import sys

from video_planner.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", "plan", *sys.argv[1:]]))

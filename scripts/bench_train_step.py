"""Planner benchmark: see `vp bench train-step --help`. Prints a table and a ratio against a baseline from the same run.

Usage: .venv/bin/python scripts/bench_train_step.py
"""

import sys

from video_planner.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", "train-step", *sys.argv[1:]]))

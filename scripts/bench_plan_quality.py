"""Planner benchmark: see `vp bench plan-quality --help`. Prints a table against a baseline measured in the same run.

Usage: .venv/bin/python scripts/bench_plan_quality.py [flags of vp bench plan-quality]
"""

import sys

from video_planner.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", "plan-quality", *sys.argv[1:]]))

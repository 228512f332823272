"""Expert-demo collection throughput (episodes per minute) for a recipe, written to a temporary directory.

Usage: MUJOCO_GL=egl .venv/bin/python scripts/bench_collect.py [--recipe datasets/metaworld_avdc11.toml]
       [--episodes-per-camera 1]
"""

import sys

from video_planner.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", "collect", *sys.argv[1:]]))

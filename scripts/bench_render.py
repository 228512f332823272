"""Render speed: gymnasium's MetaWorld render() vs robot_io's FastRenderer, measured in the same run.

Usage: MUJOCO_GL=egl .venv/bin/python scripts/bench_render.py [--image-size 64] [--camera corner]
"""

import sys

from video_planner.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", "render", *sys.argv[1:]]))

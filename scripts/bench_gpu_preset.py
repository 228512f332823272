"""Planner benchmark on a CUDA device: see `vp bench gpu --help`. Prints train-step MFU against the bf16
matrix-product rate measured in the same run, and plan latency against 100 sampling steps.

Usage: .venv/bin/python scripts/bench_gpu_preset.py [--random-weights] [--output outputs/bench-gpu]
"""

import sys

from video_planner.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", "gpu", *sys.argv[1:]]))

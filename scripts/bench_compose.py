"""Plan latency of the planner alone vs PA and IPA composition with a planner prior and a full-size AnimateDiff
prior (random weights), on a CUDA device: see `vp bench compose --help`.

Usage: .venv/bin/python scripts/bench_compose.py [--minilm-files DIR] [--output outputs/bench-compose]
"""

import sys

from video_planner.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", "compose", *sys.argv[1:]]))

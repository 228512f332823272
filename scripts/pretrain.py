"""`vp pretrain` for launchers that start a script per process:

torchrun --nproc_per_node 8 scripts/pretrain.py --shards outputs/shards/mt50 --output outputs/planner/mt50
accelerate launch --num_processes 2 --cpu scripts/pretrain.py --shards ... --output ...
"""

import sys

from video_planner.cli import main

if __name__ == "__main__":
    sys.exit(main(["pretrain", *sys.argv[1:]]))

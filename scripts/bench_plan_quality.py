"""Plan quality against sampling cost, on held-out demos: DPM-Solver++ and DDIM at few steps, and decoding
frames as absolute latents instead of changes to the camera image, each against DPM-Solver++ with 100 steps on
the same clips with the same seeds.

Usage: MUJOCO_GL=egl .venv/bin/python scripts/bench_plan_quality.py --planner outputs/planner/avdc11-cpu/checkpoint \
       --dataset outputs/datasets/metaworld_avdc11_heldout [--clips-per-episode 1]
"""

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")

from foundation.errors import exit_status  # noqa: E402
from video_planner.model.planner import VideoPlanner  # noqa: E402
from video_planner.training.evaluate import EvalSettings, comparison_table, evaluate_planner  # noqa: E402


def bench_plan_quality(planner_dir: str, heldout: Path, clips_per_episode: int, steps_list=(5, 10, 20, 50)) -> str:
    """Future-frame quality of DPM-Solver++ and DDIM at few steps, against DPM-Solver++ at 100 steps
    (same clips, same seeds), and of decoding frames as absolute latents instead of changes to the camera image."""
    planner = VideoPlanner.from_pretrained(planner_dir)
    baseline = "dpmsolver++, 100 steps"
    variants = {baseline: {"steps": 100, "sampler": "dpmsolver++"}}
    for sampler in ("dpmsolver++", "ddim"):
        variants |= {f"{sampler}, {n} steps": {"steps": n, "sampler": sampler} for n in steps_list}
    default = planner.config.sampling_steps
    absolute = {"steps": default, "sampler": "dpmsolver++", "decode_as_change": False}
    variants[f"dpmsolver++, {default} steps, absolute decoding"] = absolute
    settings = EvalSettings(clips_per_episode=clips_per_episode, reference_steps=0)
    result = evaluate_planner(planner, heldout, None, settings, planner_variants=variants, baselines=False)
    title = f"plan quality on {result['clips']} held-out clips, guidance {planner.config.guidance_scale}"
    return f"{title}\n{comparison_table(result, baseline)}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--planner", required=True, help="planner directory or Hub repo id")
    parser.add_argument("--dataset", required=True, type=Path, help="held-out demos")
    parser.add_argument("--clips-per-episode", type=int, default=1)
    args = parser.parse_args()
    return exit_status(lambda: print(bench_plan_quality(args.planner, args.dataset, args.clips_per_episode)))


if __name__ == "__main__":
    sys.exit(main())

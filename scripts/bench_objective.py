"""The training objective: one denoiser per objective (ε or v prediction, plain MSE or min-SNR-5, with or without
the motion weighting) trained for the same steps in the same latent space on the same data order, each scored on
held-out clips (whole frames, and the window around the task's object) against the first objective chosen
("epsilon, plain MSE", the DDPM default, unless `--objectives` says otherwise). Each run resumes if its
directory already holds a checkpoint.

Usage: MUJOCO_GL=egl .venv/bin/python scripts/bench_objective.py --init-from outputs/planner/avdc11-cpu/checkpoint \
       --dataset outputs/datasets/metaworld_avdc11 --heldout outputs/datasets/metaworld_avdc11_heldout [--steps 1500]
       [--objectives "v-prediction, min-SNR-5" "v-prediction, min-SNR-5, motion-weighted 2"]
"""

import argparse
import dataclasses
import os
import sys
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")

from foundation.errors import InputError, exit_status  # noqa: E402
from video_planner.model.planner import VideoPlanner  # noqa: E402
from video_planner.training.evaluate import EvalSettings, comparison_table, evaluate_planner  # noqa: E402
from video_planner.training.train import PlannerTrainer  # noqa: E402
from video_planner.training.train_config import TrainConfig  # noqa: E402

OBJECTIVES = {
    "epsilon, plain MSE": {"prediction_type": "epsilon", "snr_gamma": None},
    "epsilon, min-SNR-5": {"prediction_type": "epsilon", "snr_gamma": 5.0},
    "v-prediction, plain MSE": {"prediction_type": "v_prediction", "snr_gamma": None},
    "v-prediction, min-SNR-5": {"prediction_type": "v_prediction", "snr_gamma": 5.0},
    "v-prediction, min-SNR-5, motion-weighted 2": {
        "prediction_type": "v_prediction",
        "snr_gamma": 5.0,
        "motion_weight": 2.0,
    },
}


def bench_objective(
    init_from: str,
    dataset: Path,
    heldout: Path,
    output: Path,
    steps: int,
    clips_per_episode: int,
    objectives: list[str],
) -> str:
    """Trains one denoiser per objective for `steps` steps in the latent space of `init_from` (same data order,
    same seed), then scores each on held-out clips against the first of `objectives`.
    Each run resumes if its directory already holds a checkpoint."""
    unknown = [name for name in objectives if name not in OBJECTIVES]
    if unknown:
        raise InputError(f"unknown objective {unknown[0]!r}; valid: {'; '.join(OBJECTIVES)}")
    base = VideoPlanner.from_pretrained(init_from).config
    train_config = TrainConfig(
        datasets=(str(dataset),), steps=steps, init_from=init_from, checkpoint_every=250, sample_every=steps
    )
    results = {}
    for name in objectives:
        overrides = OBJECTIVES[name]
        run_dir = output / name.replace(", ", "_").replace(" ", "-")
        config = dataclasses.replace(base, **overrides)
        resume = (run_dir / "checkpoint" / "training_state").is_dir()
        checkpoint = PlannerTrainer(config, train_config, run_dir, resume=resume).run()
        settings = EvalSettings(clips_per_episode=clips_per_episode, reference_steps=0)
        planner = VideoPlanner.from_pretrained(checkpoint)
        results[name] = evaluate_planner(planner, heldout, None, settings, baselines=False)
    merged = {
        "methods": list(results),
        "tasks": {
            task: {name: result["tasks"][task]["planner"] for name, result in results.items()}
            for task in next(iter(results.values()))["tasks"]
        },
    }
    title = f"training objective, {steps} denoiser steps each, {next(iter(results.values()))['clips']} held-out clips"
    return f"{title}\n{comparison_table(merged, objectives[0])}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--init-from", required=True, help="planner directory whose autoencoder every run shares")
    parser.add_argument("--dataset", required=True, type=Path, help="training demos")
    parser.add_argument("--heldout", required=True, type=Path, help="held-out demos")
    parser.add_argument("--output", type=Path, default=Path("outputs/bench-objective"))
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--clips-per-episode", type=int, default=1)
    parser.add_argument("--objectives", nargs="+", default=list(OBJECTIVES), help="the first is the baseline")
    args = parser.parse_args()
    report = lambda: bench_objective(  # noqa: E731
        args.init_from, args.dataset, args.heldout, args.output, args.steps, args.clips_per_episode, args.objectives
    )
    return exit_status(lambda: print(report()))


if __name__ == "__main__":
    sys.exit(main())

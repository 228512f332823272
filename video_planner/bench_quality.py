"""Quality benchmarks on held-out demos: sampling steps and decoding (`vp bench plan-quality`), and the
training objective (`vp bench objective`). Each prints its rows against a baseline measured in the same run."""

import dataclasses
from pathlib import Path

from video_planner.model.planner import VideoPlanner
from video_planner.training.evaluate import EvalSettings, evaluate_planner, task_means


def _comparison_table(result: dict, baseline: str) -> str:
    """Mean PSNR/SSIM per method, its difference to `baseline`, and the worst task's PSNR difference."""
    means = task_means(result)
    lines = [
        f"| method | PSNR | SSIM | ΔPSNR vs {baseline} | ΔSSIM | worst task ΔPSNR |",
        "|---|---|---|---|---|---|",
    ]
    for method in result["methods"]:
        worst = min(t[method]["psnr"] - t[baseline]["psnr"] for t in result["tasks"].values())
        d_psnr = means[method]["psnr"] - means[baseline]["psnr"]
        d_ssim = means[method]["ssim"] - means[baseline]["ssim"]
        lines.append(
            f"| {method} | {means[method]['psnr']:.2f} | {means[method]['ssim']:.3f} | {d_psnr:+.2f} dB "
            f"| {d_ssim:+.3f} | {worst:+.2f} dB |"
        )
    return "\n".join(lines)


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
    return f"{title}\n{_comparison_table(result, baseline)}"


OBJECTIVES = {
    "epsilon, plain MSE": {"prediction_type": "epsilon", "snr_gamma": None},
    "epsilon, min-SNR-5": {"prediction_type": "epsilon", "snr_gamma": 5.0},
    "v-prediction, plain MSE": {"prediction_type": "v_prediction", "snr_gamma": None},
    "v-prediction, min-SNR-5": {"prediction_type": "v_prediction", "snr_gamma": 5.0},
}


def bench_objective(
    init_from: str, dataset: Path, heldout: Path, output: Path, steps: int, clips_per_episode: int
) -> str:
    """Trains one denoiser per objective for `steps` steps in the latent space of `init_from` (same data order,
    same seed), then scores each on held-out clips against "epsilon, plain MSE", the DDPM default.
    Each run resumes if its directory already holds a checkpoint."""
    from video_planner.training.train import PlannerTrainer
    from video_planner.training.train_config import TrainConfig

    base = VideoPlanner.from_pretrained(init_from).config
    train_config = TrainConfig(
        datasets=(str(dataset),), steps=steps, init_from=init_from, checkpoint_every=250, sample_every=steps
    )
    results = {}
    for name, overrides in OBJECTIVES.items():
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
    return f"{title}\n{_comparison_table(merged, next(iter(OBJECTIVES)))}"

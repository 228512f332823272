"""Planner train step on the CPU: the cpu preset's latent 2-D UNet against a diffusers UNet3D on 64×64 pixels
(AVDC's kind of model), at the same batch, interleaved. Ours runs the trainer's own loss (`denoiser_loss`).

Usage: .venv/bin/python scripts/bench_train_step.py [--batch-size 8 --repeats 3] [--quick] [--ratios FILE]
"""

import argparse
import sys
from pathlib import Path

import torch
from bench_timing import Ratio, save_ratios, time_interleaved
from diffusers import UNet3DConditionModel

from foundation.errors import InputError, exit_status
from video_planner.model.config import preset
from video_planner.model.planner import VideoPlanner, training_scheduler
from video_planner.training.train import denoiser_loss

INSTRUCTION = "open the door"


def pixel_unet3d_baseline() -> UNet3DConditionModel:
    """A diffusers UNet3DConditionModel of ~7 M params on 64×64×8 RGB frames (first frame concatenated on
    channels, as AVDC does), attention only at 16×16."""
    return UNet3DConditionModel(
        sample_size=64,
        in_channels=6,
        out_channels=3,
        down_block_types=("DownBlock3D", "DownBlock3D", "CrossAttnDownBlock3D"),
        up_block_types=("CrossAttnUpBlock3D", "UpBlock3D", "UpBlock3D"),
        block_out_channels=(32, 64, 128),
        layers_per_block=1,
        cross_attention_dim=384,
        attention_head_dim=16,
        norm_num_groups=32,
    )


def optimizer_step(loss: torch.Tensor, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> None:
    """Backward, clipping and update, as the trainer does after each loss."""
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    optimizer.zero_grad()


def bench_train_step(batch_size: int, repeats: int) -> tuple[str, list[Ratio]]:
    """The table of both models' step times, and the speed-up as a ratio."""
    if batch_size < 1 or repeats < 1:
        raise InputError(f"--batch-size and --repeats must be >= 1, got {batch_size} and {repeats}")
    torch.manual_seed(0)
    planner = VideoPlanner(preset("cpu"))
    config, scheduler = planner.config, training_scheduler(planner.config)
    denoiser = planner.denoiser.train()
    optimizer = torch.optim.AdamW(denoiser.parameters(), lr=1e-4)
    k, c, s = config.num_future_frames, config.autoencoder.latent_channels, config.latent_size
    generator = torch.Generator().manual_seed(0)

    def ours():
        clip = torch.randn(batch_size, k + 1, c, s, s)  # (B, K+1, C, h, w) latents
        loss = denoiser_loss(planner, denoiser, scheduler, clip, [INSTRUCTION] * batch_size, generator)
        optimizer_step(loss, denoiser, optimizer)

    baseline = pixel_unet3d_baseline().train()
    baseline_optimizer = torch.optim.AdamW(baseline.parameters(), lr=1e-4)
    baseline_text = torch.randn(batch_size, 8, 384)

    def theirs():
        x = torch.randn(batch_size, 6, k + 1, 64, 64)  # (B, C, T, H, W): noisy frames + the first frame
        t = torch.randint(0, 1000, (batch_size,))
        loss = baseline(x, t, encoder_hidden_states=baseline_text).sample.square().mean()
        optimizer_step(loss, baseline, baseline_optimizer)

    names = ("cpu preset (latent 2-D UNet)", "diffusers UNet3D, 64x64 pixels")
    timings = time_interleaved(dict(zip(names, (ours, theirs), strict=True)), repeats)
    params = {names[0]: denoiser, names[1]: baseline}
    rows = [
        f"| {name} | {sum(p.numel() for p in params[name].parameters()) / 1e6:.1f} M | {t.min_s:.3f} "
        f"| {t.median_s:.3f} |"
        for name, t in timings.items()
    ]
    ratio = timings[names[1]].median_s / timings[names[0]].median_s
    speed_up = Ratio(
        benchmark="planner train step",
        variant=f"{names[0]}, batch {batch_size}",
        baseline=f"{names[1]}, batch {batch_size}",
        ratio=ratio,
        meaning="faster (medians)",
        detail=f"{timings[names[0]]} s vs {timings[names[1]]} s (min / median)",
    )
    report = "\n".join(
        [
            f"train step on {torch.get_num_threads()} CPU threads, batch {batch_size}, {repeats} interleaved repeats",
            "| model | params | s / step min | s / step median |",
            "|---|---|---|---|",
            *rows,
            f"speed-up (medians, same batch): {ratio:.0f}x",
        ]
    )
    return report, [speed_up]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="batch 2, 1 repeat")
    parser.add_argument(
        "--ratios", type=Path, help="append the headline ratios as JSON lines (scripts/bench_all.py reads them)"
    )
    args = parser.parse_args()
    if args.quick:
        args.batch_size, args.repeats = 2, 1

    def run() -> None:
        report, ratios = bench_train_step(args.batch_size, args.repeats)
        print(report)
        save_ratios(args.ratios, ratios)

    return exit_status(run)


if __name__ == "__main__":
    sys.exit(main())

"""Benchmarks of the planner: train-step time against a diffusers 3-D UNet, and plan latency per sampler/steps."""

import functools
import time

import numpy as np
import torch
from diffusers import UNet3DConditionModel

from video_planner.model.config import preset
from video_planner.model.planner import VideoPlanner, training_scheduler
from video_planner.training.diffusion_loss import diffusion_loss


def _seconds_per_step(step, repeats: int) -> float:
    step()  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        step()
    return (time.perf_counter() - start) / repeats


def pixel_unet3d_baseline() -> UNet3DConditionModel:
    """The brief's baseline: a diffusers UNet3DConditionModel of ~8 M params on 64×64×8 RGB frames
    (first frame concatenated on channels, as AVDC does), attention only at 16×16."""
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


def bench_train_step(batch_size: int = 8, baseline_batch_size: int = 4, repeats: int = 3) -> str:
    torch.manual_seed(0)
    config = preset("cpu")
    planner = VideoPlanner(config)
    scheduler = training_scheduler(config)
    denoiser = planner.denoiser.train()
    optimizer = torch.optim.AdamW(denoiser.parameters(), lr=1e-4)
    k, c, s = config.num_future_frames, config.autoencoder.latent_channels, config.latent_size
    text, mask = planner.text_encoder(["open the door"] * batch_size)

    def ours():
        future, first = torch.randn(batch_size, k, c, s, s), torch.randn(batch_size, c, s, s)
        noise, t = torch.randn_like(future), torch.randint(0, 1000, (batch_size,))
        prediction = denoiser(scheduler.add_noise(future, noise, t), t, first, text, mask)
        diffusion_loss(config, scheduler, prediction, future, noise, t).backward()
        optimizer.step()
        optimizer.zero_grad()

    baseline = pixel_unet3d_baseline().train()
    baseline_optimizer = torch.optim.AdamW(baseline.parameters(), lr=1e-4)
    baseline_text = torch.randn(baseline_batch_size, 8, 384)

    def theirs():
        x = torch.randn(baseline_batch_size, 6, k + 1, 64, 64)  # (B, C, T, H, W)
        t = torch.randint(0, 1000, (baseline_batch_size,))
        baseline(x, t, encoder_hidden_states=baseline_text).sample.square().mean().backward()
        baseline_optimizer.step()
        baseline_optimizer.zero_grad()

    ours_s = _seconds_per_step(ours, repeats)
    theirs_s = _seconds_per_step(theirs, max(1, repeats // 2))
    params = lambda m: sum(p.numel() for p in m.parameters()) / 1e6  # noqa: E731
    per_clip = (theirs_s / baseline_batch_size) / (ours_s / batch_size)
    return "\n".join(
        [
            f"train step on {torch.get_num_threads()} CPU threads",
            "| model | params | batch | s / step | s / clip |",
            "|---|---|---|---|---|",
            f"| cpu preset (latent 2-D UNet) | {params(denoiser):.1f} M | {batch_size} | {ours_s:.3f} "
            f"| {ours_s / batch_size:.4f} |",
            f"| diffusers UNet3D, 64x64 pixels | {params(baseline):.1f} M | {baseline_batch_size} | {theirs_s:.2f} "
            f"| {theirs_s / baseline_batch_size:.3f} |",
            f"speed-up per clip: {per_clip:.0f}x",
        ]
    )


def bench_plan(steps_list=(5, 10, 20, 50, 100), samplers=("dpmsolver++", "ddim"), repeats: int = 3) -> str:
    """Latency of one plan (text cached, guidance on) for the cpu preset, against AVDC's 100 steps."""
    torch.manual_seed(0)
    planner = VideoPlanner(preset("cpu")).eval()
    image = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    planner.plan(image, "open the door", steps=2)  # warm-up, caches the instruction
    rows, reference = [], None
    for sampler in samplers:
        for steps in steps_list:
            plan = functools.partial(planner.plan, image, "open the door", steps=steps, sampler=sampler)
            seconds = _seconds_per_step(plan, repeats)
            reference = seconds if (sampler, steps) == ("ddim", 100) else reference
            rows.append((sampler, steps, seconds))
    lines = ["| sampler | steps | s / plan | vs DDIM-100 |", "|---|---|---|---|"]
    lines += [f"| {s} | {n} | {sec:.3f} | {reference / sec:.1f}x faster |" for s, n, sec in rows]
    return "\n".join([f"plan latency, cpu preset, guidance {planner.config.guidance_scale}", *lines])

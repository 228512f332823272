"""The denoiser's training objective, shared by the trainer, the pretrainer (from latent shards) and the
benchmarks."""

import torch
import torch.nn.functional as F
from diffusers.training_utils import compute_snr

from video_planner.model.config import PlannerConfig


def diffusion_loss(config: PlannerConfig, scheduler, prediction, clean, noise, timesteps) -> torch.Tensor:
    """MSE to the v (or noise) target, min-SNR-γ weighted per sample when `snr_gamma` is set.

    prediction, clean, noise: (B, K, C, h, w); timesteps: (B,)
    """
    target = scheduler.get_velocity(clean, noise, timesteps) if config.prediction_type == "v_prediction" else noise
    per_sample = F.mse_loss(prediction.float(), target.float(), reduction="none").mean(dim=(1, 2, 3, 4))
    if config.snr_gamma is None:
        return per_sample.mean()
    snr = compute_snr(scheduler, timesteps)
    clipped = torch.clamp(snr, max=config.snr_gamma)
    weight = clipped / (snr + 1) if config.prediction_type == "v_prediction" else clipped / snr
    return (weight * per_sample).mean()


def clip_loss(
    config: PlannerConfig,
    denoiser: torch.nn.Module,
    scheduler,
    clip: torch.Tensor,
    text: torch.Tensor,
    mask: torch.Tensor,
    generator: torch.Generator,
) -> torch.Tensor:
    """The denoiser's diffusion loss on a batch of clip latents and their instruction embeddings. Noise,
    timesteps and instruction dropout are drawn on the CPU from `generator` (the same draws on every device).
    `denoiser` may be wrapped for distributed training.
    clip: (B, K+1, C, h, w) normalised latents of the first and the K future frames; text: (B, L, D);
    mask: (B, L) -> () loss"""
    device = clip.device
    first, future = clip[:, 0], clip[:, 1:]
    batch = len(clip)
    noise = torch.randn(future.shape, generator=generator).to(device)
    timesteps = torch.randint(config.num_train_timesteps, (batch,), generator=generator).to(device)
    drop = (torch.rand(batch, generator=generator) < config.text_dropout).to(device)
    noisy = scheduler.add_noise(future, noise, timesteps)
    prediction = denoiser(noisy, timesteps, first, text.to(device), mask.to(device), drop=drop)
    return diffusion_loss(config, scheduler, prediction, future, noise, timesteps)

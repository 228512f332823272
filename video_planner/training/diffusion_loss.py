"""The denoiser's training objective, shared by the trainer, the pretrainer (from latent shards) and the
benchmarks."""

import torch
import torch.nn.functional as F
from diffusers.training_utils import compute_snr

from video_planner.model.config import PlannerConfig


def diffusion_loss(
    config: PlannerConfig, scheduler, prediction, clean, noise, timesteps, first: torch.Tensor | None = None
) -> torch.Tensor:
    """MSE to the v (or noise) target, min-SNR-γ weighted per sample when `snr_gamma` is set, and weighted per
    latent pixel by how much it moves when `motion_weight` is set (which needs `first`).

    prediction, clean, noise: (B, K, C, h, w); timesteps: (B,); first: (B, C, h, w)
    """
    target = scheduler.get_velocity(clean, noise, timesteps) if config.prediction_type == "v_prediction" else noise
    squared = F.mse_loss(prediction.float(), target.float(), reduction="none")  # (B, K, C, h, w)
    if config.motion_weight:
        if first is None:
            raise ValueError("a motion-weighted loss needs the clips' first latents")
        squared = squared * motion_weights(clean.float(), first.float(), config.motion_weight)
    per_sample = squared.mean(dim=(1, 2, 3, 4))
    if config.snr_gamma is None:
        return per_sample.mean()
    snr = compute_snr(scheduler, timesteps)
    clipped = torch.clamp(snr, max=config.snr_gamma)
    weight = clipped / (snr + 1) if config.prediction_type == "v_prediction" else clipped / snr
    return (weight * per_sample).mean()


def motion_weights(clean: torch.Tensor, first: torch.Tensor, strength: float) -> torch.Tensor:
    """Per latent pixel of each future frame, 1 + `strength` × its change from the first frame over the clip's
    mean change, normalised to mean 1 per clip (the loss keeps its scale, the learning rate its meaning).
    clean: (B, K, C, h, w), first: (B, C, h, w) -> (B, K, 1, h, w)"""
    change = (clean - first[:, None]).abs().mean(dim=2, keepdim=True)  # (B, K, 1, h, w)
    relative = change / change.mean(dim=(1, 3, 4), keepdim=True).clamp_min(1e-6)
    weights = 1 + strength * relative
    return weights / weights.mean(dim=(1, 3, 4), keepdim=True)


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
    return diffusion_loss(config, scheduler, prediction, future, noise, timesteps, first)

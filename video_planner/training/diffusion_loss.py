"""The denoiser's training objective, shared by the trainer and the benchmarks."""

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

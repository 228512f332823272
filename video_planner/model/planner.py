"""`VideoPlanner`: camera image + instruction -> K future frames, loadable with one call, no trainer.

planner = VideoPlanner.from_pretrained("outputs/planner/avdc11-cpu")   # or a Hub repo id
plan = planner.plan(image, "open the door", seed=0)                    # plan.frames: (K, H, W, 3) uint8
"""

import math
import time
from pathlib import Path

import numpy as np
import torch
from diffusers import DDIMScheduler, DDPMScheduler, DPMSolverMultistepScheduler
from einops import rearrange
from torch import nn

from foundation.camera_image import camera_image_to_frame
from foundation.errors import InputError
from foundation.frames import frames_to_unit, unit_to_frames
from foundation.hub import load_module_weights, push_model_directory
from video_planner.model.checkpoint import load_autoencoder, load_planner_files, save_planner_files
from video_planner.model.config import MAX_SAMPLING_STEPS, PlannerConfig
from video_planner.model.networks import VideoDenoiser, build_autoencoder
from video_planner.model.protocols import VideoPlan
from video_planner.model.text_encoder import TextEncoder


def training_scheduler(config: PlannerConfig) -> DDPMScheduler:
    """The noise schedule the denoiser is trained with; samplers are built from its config."""
    return DDPMScheduler(
        num_train_timesteps=config.num_train_timesteps,
        beta_schedule=config.beta_schedule,
        beta_start=config.beta_start,
        beta_end=config.beta_end,
        prediction_type=config.prediction_type,
        timestep_spacing="trailing",  # sampling starts at the last training step, not 10 % before it
        clip_sample=False,
    )


def sampling_scheduler(config: PlannerConfig, sampler: str):
    base = training_scheduler(config).config
    if sampler == "dpmsolver++":
        return DPMSolverMultistepScheduler.from_config(base, algorithm_type="dpmsolver++")
    if sampler == "ddim":
        return DDIMScheduler.from_config(base)
    if sampler == "ddpm":
        return DDPMScheduler.from_config(base)
    raise InputError(f"unknown sampler {sampler!r}; valid: dpmsolver++, ddim, ddpm")


def check_plan_request(instruction, num_samples: int = 1, steps: int | None = None, guidance: float | None = None):
    """Refuses, in one line, a plan request no planner can serve; None leaves a value to the planner's config.
    Callers that load a planner first (the CLI) check here before paying for the load."""
    if not isinstance(num_samples, int) or num_samples < 1:
        raise InputError(f"num_samples must be an integer >= 1, got {num_samples!r}")
    if not isinstance(instruction, str) or not instruction.strip():
        raise InputError(f"instruction must be a non-empty string, e.g. 'open the door'; got {instruction!r}")
    if steps is not None and not (isinstance(steps, int) and 1 <= steps <= MAX_SAMPLING_STEPS):
        raise InputError(f"steps must be an integer in [1, {MAX_SAMPLING_STEPS}], got {steps!r}")
    if guidance is not None and not (isinstance(guidance, int | float) and math.isfinite(guidance) and guidance >= 0):
        raise InputError(f"guidance must be a finite number >= 0, got {guidance!r}")


class VideoPlanner(nn.Module):
    """Owns the text encoder, the frame autoencoder, the denoiser and the latent normalisation."""

    def __init__(self, config: PlannerConfig, text_encoder: TextEncoder | None = None):
        super().__init__()
        self.config = config
        self.text_encoder = text_encoder or TextEncoder(config.text_encoder)
        self.autoencoder = build_autoencoder(config.autoencoder).requires_grad_(False).eval()
        self.denoiser = VideoDenoiser(config, self.text_encoder.dim)
        channels = config.autoencoder.latent_channels
        self.register_buffer("latent_shift", torch.zeros(channels))
        # Stable Diffusion's normalisation is fixed by the pretrained VAE; "data" is fitted when training starts.
        scale = self.autoencoder.config.scaling_factor if config.autoencoder.normalization == "scaling_factor" else 1.0
        self.register_buffer("latent_scale", torch.full((channels,), float(scale)))
        self.trained_tasks: tuple[str, ...] = ()  # tasks of the training data, to flag zero-shot use

    @classmethod
    def from_pretrained(cls, path_or_repo_id: str | Path, revision: str | None = None) -> "VideoPlanner":
        files = load_planner_files(path_or_repo_id, revision)
        planner = cls(files.config)
        if files.autoencoder_dir is not None:
            planner.autoencoder = load_autoencoder(files.autoencoder_dir).requires_grad_(False)
        load_module_weights(planner.denoiser, files.denoiser_state, Path(path_or_repo_id))
        planner.latent_shift.copy_(files.latent_shift)
        planner.latent_scale.copy_(files.latent_scale)
        planner.trained_tasks = files.trained_tasks
        return planner.eval()

    def save_pretrained(self, path: str | Path) -> None:
        """Writes the planner directory atomically (see `video_planner.model.checkpoint` for its layout)."""
        save_planner_files(
            Path(path),
            self.config,
            self.denoiser.state_dict(),
            None if self.config.autoencoder.pretrained else self.autoencoder,
            self.latent_shift,
            self.latent_scale,
            self.trained_tasks,
        )

    def push_to_hub(self, repo_id: str, *, private: bool | None = None, token: str | None = None, api=None) -> str:
        """Uploads the planner directory to a Hub model repo; `api` defaults to `huggingface_hub.HfApi()`."""
        return push_model_directory(
            self.save_pretrained, repo_id, "video planner", private=private, token=token, api=api
        )

    @property
    def device(self) -> torch.device:
        return self.latent_shift.device

    def _autocast(self):
        """bf16 autocast for a planner whose config asks for it (the `gpu` preset), on whatever device it is."""
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.config.dtype == "bfloat16")

    def _latent_stats(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.latent_shift[:, None, None], self.latent_scale[:, None, None]

    @torch.no_grad()
    def encode_frames(self, frames: torch.Tensor) -> torch.Tensor:
        """uint8 frames -> normalised latents (the autoencoder's posterior mean). # (N, 3, H, W) -> (N, C, h, w)"""
        pixels = frames_to_unit(frames.to(self.device))
        with self._autocast():
            latents = self.autoencoder.encode(pixels).latent_dist.mode().float()
        shift, scale = self._latent_stats()
        return (latents - shift) * scale

    @torch.no_grad()
    def decode_latents(self, latents: torch.Tensor) -> torch.Tensor:
        """Normalised latents -> uint8 frames. # (N, C, h, w) -> (N, 3, H, W)"""
        shift, scale = self._latent_stats()
        with self._autocast():
            pixels = self.autoencoder.decode(latents / scale + shift).sample.float()
        return unit_to_frames(pixels)

    def _add_change_to_context(self, frames, context, context_latent) -> torch.Tensor:
        """context + (frames - decoded context latent), in pixels. # (N, 3, H, W), (1, 3, H, W), (1, C, h, w)"""
        change = frames.float() - self.decode_latents(context_latent).float()
        return (context.to(frames.device).float() + change).clamp(0, 255).round().to(torch.uint8)

    def branches(self, noisy, timestep, first, text, mask, *, unconditional: bool):
        """The conditional prediction and, when `unconditional`, the null-instruction one, in one batch.

        noisy: (B, K, C, h, w), first: (B, C, h, w), text: (B, L, D), mask: (B, L) -> (B, K, C, h, w) each
        """
        timesteps = torch.full((noisy.shape[0],), int(timestep), dtype=torch.long, device=noisy.device)
        if not unconditional:
            with self._autocast():
                return self.denoiser(noisy, timesteps, first, text, mask).float(), None
        drop_all = torch.ones(len(text), dtype=torch.bool, device=text.device)
        null_text, null_mask = self.denoiser.drop_text(text, mask, drop_all)
        with self._autocast():
            both = self.denoiser(
                torch.cat([noisy, noisy]),
                torch.cat([timesteps, timesteps]),
                torch.cat([first, first]),
                torch.cat([text, null_text]),
                torch.cat([mask, null_mask]),
            ).float()
        conditional, null = both.chunk(2)
        return conditional, null

    def predict(self, noisy, timestep, first, text, mask, guidance: float) -> torch.Tensor:
        """The denoiser's prediction, with classifier-free guidance when `guidance` != 1. Shapes as `branches`."""
        conditional, unconditional = self.branches(noisy, timestep, first, text, mask, unconditional=guidance != 1.0)
        if unconditional is None:
            return conditional
        return unconditional + guidance * (conditional - unconditional)

    def guided_prediction(self, instruction: str, num_samples: int, guidance: float):
        """`(noisy, timestep, first) -> prediction` for `instruction`, whose text is encoded once per plan."""
        text, mask = self.text_encoder([instruction] * num_samples)
        return lambda noisy, timestep, first: self.predict(noisy, timestep, first, text, mask, guidance)

    @torch.no_grad()
    def sample(self, first, predict, *, steps: int, sampler: str, generator) -> torch.Tensor:
        """Denoises K future latents from pure noise with `predict(noisy, timestep, first)`.

        first: (B, C, h, w) -> (B, K, C, h, w)
        """
        scheduler = sampling_scheduler(self.config, sampler)
        scheduler.set_timesteps(steps, device=first.device)
        b, c, h, w = first.shape
        # Noise is drawn on the CPU, so a seed gives the same plan on any device (up to kernel numerics).
        latents = torch.randn((b, self.config.num_future_frames, c, h, w), generator=generator).to(first.device)
        latents = latents * scheduler.init_noise_sigma
        for t in scheduler.timesteps:
            prediction = predict(scheduler.scale_model_input(latents, t), t, first)
            latents = scheduler.step(prediction, t, latents, generator=generator).prev_sample
        return latents

    def plan(
        self,
        image: np.ndarray,
        instruction: str,
        *,
        seed: int | None = None,
        steps: int | None = None,
        guidance: float | None = None,
        sampler: str | None = None,
        decode_as_change: bool | None = None,
    ) -> VideoPlan:
        """Imagines the next K frames of `instruction` being done from `image` (uint8, (H, W, 3)).
        Arguments left as None take the planner config's value."""
        options = dict(seed=seed, steps=steps, guidance=guidance, sampler=sampler, decode_as_change=decode_as_change)
        return self.plan_samples(image, instruction, 1, **options)[0]

    def plan_samples(self, image: np.ndarray, instruction: str, num_samples: int, **options) -> list[VideoPlan]:
        """`num_samples` plans of the same request drawn in one batch; options as `plan`."""
        return self.sample_plans(image, instruction, num_samples, self.guided_prediction, **options)

    @torch.no_grad()
    def sample_plans(
        self,
        image: np.ndarray,
        instruction: str,
        num_samples: int,
        guided_prediction,
        *,
        seed: int | None = None,
        steps: int | None = None,
        guidance: float | None = None,
        sampler: str | None = None,
        decode_as_change: bool | None = None,
    ) -> list[VideoPlan]:
        """Plans in this planner's frames, latent space and sampler around any prediction:
        `guided_prediction(instruction, num_samples, guidance) -> (noisy, timestep, first) -> prediction` is this
        planner's own (`plan`) or a composition's (`ComposedPlanner`). None takes the planner config's value."""
        start = time.perf_counter()
        steps = self.config.sampling_steps if steps is None else steps
        guidance = self.config.guidance_scale if guidance is None else guidance
        check_plan_request(instruction, num_samples, steps, guidance)
        sampler = sampler or self.config.sampler
        decode_as_change = self.config.decode_as_change if decode_as_change is None else decode_as_change
        context = camera_image_to_frame(image, self.config.image_size)  # (1, 3, S, S)
        first = self.encode_frames(context).expand(num_samples, -1, -1, -1)  # (B, C, h, w)
        predict = guided_prediction(instruction, num_samples, guidance)
        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        latents = self.sample(first, predict, steps=steps, sampler=sampler, generator=generator)  # (B, K, C, h, w)
        b = len(latents)
        frames = self.decode_latents(rearrange(latents, "b k c h w -> (b k) c h w"))
        if decode_as_change:
            frames = self._add_change_to_context(frames, context, first[:1])
        frames = rearrange(frames, "(b k) c h w -> b k h w c", b=b).cpu().numpy()
        latency = time.perf_counter() - start
        context_frame = rearrange(context[0], "c h w -> h w c").numpy()
        return [
            VideoPlan(frames[i], context_frame, instruction, sampler, steps, guidance, seed, latency) for i in range(b)
        ]

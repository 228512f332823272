"""`VideoPlanner`: camera image + instruction -> K future frames, loadable with one call, no trainer.

planner = VideoPlanner.from_pretrained("outputs/planner/avdc11-cpu")   # or a Hub repo id
plan = planner.plan(image, "open the door", seed=0)                    # plan.frames: (K, H, W, 3) uint8
"""

import math
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from diffusers import DDIMScheduler, DDPMScheduler, DPMSolverMultistepScheduler
from einops import rearrange
from torch import nn

from foundation.camera_image import camera_image_to_frame, check_camera_image
from foundation.errors import InputError
from foundation.frames import frames_to_unit, unit_to_frames
from foundation.hub import load_module_weights, push_model_directory
from video_planner.model.checkpoint import load_autoencoder, load_planner_files, save_planner_files
from video_planner.model.config import MAX_SAMPLING_STEPS, PlannerConfig
from video_planner.model.networks import VideoDenoiser, build_autoencoder
from video_planner.model.protocols import PlanRequest, VideoPlan
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

    def _add_change_to_context(self, frames, contexts, context_latents, repeats) -> torch.Tensor:
        """Each frame as its request's camera image + (frame - decoded context latent), in pixels (all integers,
        so exact). frames: (N, 3, H, W), contexts: (R, 3, H, W), context_latents: (R, C, h, w), repeats: (R,)
        frames per request, summing to N -> (N, 3, H, W) uint8"""
        offset = contexts.to(frames.device).float() - self.decode_latents(context_latents).float()  # (R, 3, H, W)
        offset = offset.repeat_interleave(repeats.to(frames.device), dim=0)  # (N, 3, H, W)
        return (frames.float() + offset).clamp(0, 255).round().to(torch.uint8)

    def branches(self, noisy, timestep, first, text, mask, *, unconditional: bool):
        """The conditional prediction and, when `unconditional`, the null-instruction one, in one batch.

        noisy: (B, K, C, h, w), first: (B, C, h, w), text: (B, L, D), mask: (B, L) -> (B, K, C, h, w) each
        """
        timesteps = torch.full((noisy.shape[0],), int(timestep), dtype=torch.long, device=noisy.device)
        if not unconditional:
            with self._autocast():
                return self.denoiser(noisy, timesteps, first, text, mask).float(), None
        keep, drop = (torch.full((len(text),), value, device=text.device) for value in (False, True))
        with self._autocast():
            both = self.denoiser(
                torch.cat([noisy, noisy]),
                torch.cat([timesteps, timesteps]),
                torch.cat([first, first]),
                torch.cat([text, text]),
                torch.cat([mask, mask]),
                drop=torch.cat([keep, drop]),
            ).float()
        conditional, null = both.chunk(2)
        return conditional, null

    def predict(self, noisy, timestep, first, text, mask, guidance: float) -> torch.Tensor:
        """The denoiser's prediction, with classifier-free guidance when `guidance` != 1. Shapes as `branches`."""
        conditional, unconditional = self.branches(noisy, timestep, first, text, mask, unconditional=guidance != 1.0)
        if unconditional is None:
            return conditional
        return unconditional + guidance * (conditional - unconditional)

    def guided_prediction(self, instructions: list[str], guidance: float):
        """`(noisy, timestep, first) -> prediction` for one instruction per batch row, encoded once per call."""
        text, mask = self.text_encoder(instructions)
        return lambda noisy, timestep, first: self.predict(noisy, timestep, first, text, mask, guidance)

    @torch.no_grad()
    def sample(self, first, predict, *, steps: int, sampler: str, noise: list[tuple[int, torch.Generator]]):
        """Denoises K future latents from pure noise with `predict(noisy, timestep, first)`. `noise` gives, per
        request in batch order, its number of rows and the generator its noise is drawn from: a request's plans
        then do not depend on what it is batched with. Noise is drawn on the CPU, so a seed gives the same plan
        on any device (up to kernel numerics).

        first: (B, C, h, w) -> (B, K, C, h, w)
        """
        scheduler = sampling_scheduler(self.config, sampler)
        scheduler.set_timesteps(steps, device=first.device)
        shape = (self.config.num_future_frames, *first.shape[1:])  # (K, C, h, w)
        latents = torch.cat([torch.randn((rows, *shape), generator=g) for rows, g in noise]).to(first.device)
        row_generators = [g for rows, g in noise for _ in range(rows)]  # a stochastic sampler's per-row noise
        latents = latents * scheduler.init_noise_sigma
        for t in scheduler.timesteps:
            prediction = predict(scheduler.scale_model_input(latents, t), t, first)
            latents = scheduler.step(prediction, t, latents, generator=row_generators).prev_sample
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

    def plan_samples(
        self,
        image: np.ndarray,
        instruction: str,
        num_samples: int,
        *,
        seed: int | None = None,
        steps: int | None = None,
        guidance: float | None = None,
        **options,
    ) -> list[VideoPlan]:
        """`num_samples` plans of the same request drawn in one batch; arguments as `plan`."""
        request = PlanRequest(image, instruction, seed=seed, steps=steps, guidance=guidance, num_samples=num_samples)
        return self.plan_batch([request], **options)[0]

    def plan_batch(
        self, requests: Sequence[PlanRequest], *, sampler: str | None = None, decode_as_change: bool | None = None
    ) -> list[list[VideoPlan]]:
        """Many requests at once, each answered by its `num_samples` plans, in request order. Requests that share
        steps and guidance are denoised as one batch; options as `plan`."""
        return self.batched_plans(
            requests,
            self.guided_prediction,
            self.config.guidance_scale,
            sampler=sampler,
            decode_as_change=decode_as_change,
        )

    def batched_plans(
        self,
        requests: Sequence[PlanRequest],
        guided_prediction,
        default_guidance: float,
        *,
        sampler: str | None = None,
        decode_as_change: bool | None = None,
    ) -> list[list[VideoPlan]]:
        """Plans in this planner's frames, latent space and sampler around any prediction:
        `guided_prediction(instructions, guidance) -> (noisy, timestep, first) -> prediction` is this planner's
        own (`plan`) or a composition's (`ComposedPlanner`). A request's None steps or guidance take the planner
        config's steps and `default_guidance`. Every request is checked before any is planned."""
        groups: dict[tuple[int, float], list[int]] = {}
        for index, request in enumerate(requests):
            steps = self.config.sampling_steps if request.steps is None else request.steps
            guidance = default_guidance if request.guidance is None else request.guidance
            check_plan_request(request.instruction, request.num_samples, steps, guidance)
            check_camera_image(request.image)
            groups.setdefault((steps, guidance), []).append(index)
        options = dict(
            sampler=sampler or self.config.sampler,
            decode_as_change=self.config.decode_as_change if decode_as_change is None else decode_as_change,
        )
        answers: list[list[VideoPlan]] = [[] for _ in requests]
        for (steps, guidance), indices in groups.items():
            group = [requests[i] for i in indices]
            plans = self._sample_group(group, guided_prediction, steps=steps, guidance=guidance, **options)
            for index, request_plans in zip(indices, plans, strict=True):
                answers[index] = request_plans
        return answers

    @torch.no_grad()
    def _sample_group(
        self, requests: Sequence[PlanRequest], guided_prediction, *, steps, guidance, sampler, decode_as_change
    ) -> list[list[VideoPlan]]:
        """The plans of requests that share steps and guidance, denoised together."""
        start = time.perf_counter()
        rows = torch.tensor([r.num_samples for r in requests])  # (R,)
        contexts = torch.cat([camera_image_to_frame(r.image, self.config.image_size) for r in requests])  # (R, 3, S, S)
        firsts = self.encode_frames(contexts)  # (R, C, h, w)
        first = firsts.repeat_interleave(rows.to(firsts.device), dim=0)  # (B, C, h, w)
        predict = guided_prediction([r.instruction for r in requests for _ in range(r.num_samples)], guidance)
        seeds = [request_seed(r.seed) for r in requests]
        noise = [(r.num_samples, torch.Generator().manual_seed(s)) for r, s in zip(requests, seeds, strict=True)]
        latents = self.sample(first, predict, steps=steps, sampler=sampler, noise=noise)  # (B, K, C, h, w)
        frames = self.decode_latents(rearrange(latents, "b k c h w -> (b k) c h w"))  # (B·K, 3, S, S)
        if decode_as_change:
            frames = self._add_change_to_context(frames, contexts, firsts, rows * self.config.num_future_frames)
        frames = rearrange(frames, "(b k) c h w -> b k h w c", b=len(latents)).cpu().numpy()  # (B, K, S, S, 3)
        latency = time.perf_counter() - start
        context_frames = rearrange(contexts, "r c h w -> r h w c").numpy()  # (R, S, S, 3)
        answers, row = [], 0
        for request, seed, context_frame in zip(requests, seeds, context_frames, strict=True):
            answers.append(
                [
                    VideoPlan(frames[i], context_frame, request.instruction, sampler, steps, guidance, seed, latency)
                    for i in range(row, row + request.num_samples)
                ]
            )
            row += request.num_samples
        return answers


def request_seed(seed: int | None) -> int:
    """The seed a request's noise is drawn from: its own, or one drawn from torch's global generator (so
    `torch.manual_seed` still fixes unseeded plans), which the plan reports so it can be reproduced."""
    return int(torch.randint(0, 2**62, (1,)).item()) if seed is None else seed

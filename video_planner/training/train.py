"""Training the planner: first the in-domain frame autoencoder, then the video denoiser.

    vp train-planner --dataset outputs/datasets/metaworld_avdc11 --preset cpu --output outputs/planner/avdc11-cpu
    vp train-planner ... --resume          # continues exactly where a killed run last checkpointed
    vp train-planner --dataset <kept rollouts> --init-from <planner> --finetune \
        --replay outputs/datasets/metaworld_avdc11 --match-replay-pace ...   # fine-tune with the demos replayed

All randomness of a step (batch, noise, timesteps, instruction dropout) is drawn from a generator seeded
by (seed, stage, step), so a resumed run repeats the uninterrupted run's losses bit for bit. Every
`checkpoint_every` steps, `<output>/checkpoint/` is replaced atomically; it is a planner directory
(`VideoPlanner.from_pretrained` reads it, with EMA weights) plus `training_state/`.
"""

import dataclasses
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from accelerate import Accelerator
from diffusers import DDPMScheduler
from diffusers.optimization import get_scheduler
from diffusers.training_utils import EMAModel
from safetensors.torch import load_file, save_file
from tqdm import tqdm

from foundation.atomic_dir import atomic_directory
from foundation.config_io import dataclass_to_dict
from foundation.errors import InputError
from foundation.frames import frames_to_unit
from foundation.hub import read_trained_tasks
from foundation.replay import draw_rows, paced_strides
from foundation.resume import TRAINER_STATE_FILE, SavedConfig, start_or_resume
from foundation.state_io import load_state, save_state
from robot_io.frame_bank import FrameBank, PlannerClips
from robot_io.metaworld_tasks import task_of_instruction
from video_planner.model.checkpoint import (
    PlannerFiles,
    load_autoencoder,
    load_planner_files,
    planner_directory,
    write_planner_files,
)
from video_planner.model.config import SAMPLING_FIELDS, PlannerConfig
from video_planner.model.planner import VideoPlanner, training_scheduler
from video_planner.training.diffusion_loss import clip_loss
from video_planner.training.sample_grid import write_sample_gif
from video_planner.training.train_config import RESUMABLE_CHANGES, TrainConfig

logger = logging.getLogger(__name__)
STAGES = ("autoencoder", "denoiser")


@dataclass
class TrainerState:
    stage: str = STAGES[0]
    step: int = 0  # steps done in the current stage
    losses: dict = dataclasses.field(default_factory=lambda: {stage: [] for stage in STAGES})


def _step_generator(seed: int, stage: str, step: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed * 1_000_003 + STAGES.index(stage) * 100_000_019 + step)


def denoiser_loss(
    planner: VideoPlanner,
    denoiser: torch.nn.Module,
    scheduler: DDPMScheduler,
    clip: torch.Tensor,
    instructions: list[str],
    generator: torch.Generator,
) -> torch.Tensor:
    """`clip_loss` with the instructions embedded by the planner's text encoder. `denoiser` is the planner's,
    possibly wrapped for distributed training. clip: (B, K+1, C, h, w) -> () loss"""
    text, mask = planner.text_encoder(instructions)  # (B, L, D), (B, L)
    return clip_loss(planner.config, denoiser, scheduler, clip, text, mask, generator)


class PlannerTrainer:
    def __init__(
        self,
        planner_config: PlannerConfig,
        train_config: TrainConfig,
        output_dir: str | Path,
        *,
        resume: bool = False,
        show_progress: bool = True,
    ):
        self.output = Path(output_dir)
        self.checkpoint_dir = self.output / "checkpoint"
        self.show_progress = show_progress
        saved = start_or_resume(
            self.checkpoint_dir,
            self.output,
            resume,
            [
                SavedConfig("planner_config", "planner config", planner_config, SAMPLING_FIELDS),
                SavedConfig("train_config", "training config", train_config, RESUMABLE_CHANGES),
            ],
        )
        if saved is not None and saved["stage"] == STAGES[-1] and saved["step"] > train_config.steps:
            raise InputError(f"{self.output} already ran {saved['step']} denoiser steps; pass --steps >= that")
        self.config, self.train_config = planner_config, train_config
        self.accelerator = Accelerator(mixed_precision="bf16" if planner_config.dtype == "bfloat16" else "no")
        self.bank, self.own_episodes = FrameBank.load_with_replay(  # the replay episodes last
            train_config.datasets,
            train_config.replay,
            planner_config.image_size,
            show_progress,
            train_config.camera_key,
        )
        torch.manual_seed(train_config.seed)  # initial weights only; steps draw from their own generators
        self.device = self.accelerator.device
        self.planner = VideoPlanner(planner_config).to(self.device)
        tasks = {task_of_instruction(i) for i in self.bank.instructions}
        if train_config.init_from:  # a fine-tuned planner has seen its start's tasks too
            tasks |= set(read_trained_tasks(planner_directory(train_config.init_from)))
        self.planner.trained_tasks = tuple(sorted(tasks))
        self.scheduler = training_scheduler(planner_config)
        trains_autoencoder = not planner_config.autoencoder.pretrained and train_config.autoencoder_steps > 0
        self.state = TrainerState("autoencoder" if trains_autoencoder and not train_config.init_from else "denoiser")
        if train_config.init_from and not resume:
            self._init_latent_space(train_config.init_from)
        self._resume_state = self._load_checkpoint(saved) if saved is not None else None

    def _init_latent_space(self, directory: str) -> None:
        files = load_planner_files(directory)
        keys = [f.name for f in dataclasses.fields(PlannerConfig) if f.name not in SAMPLING_FIELDS]
        for key in keys if self.train_config.finetune else ("image_size", "autoencoder"):
            if getattr(files.config, key) != getattr(self.config, key):
                raise InputError(
                    f"cannot start from {directory}: its {key} differs from this run's planner config"
                    + (f"; fine-tune with --config {directory}/config.json" if self.train_config.finetune else "")
                )
        self._take_latent_space(files)
        if self.train_config.finetune:
            self.planner.denoiser.load_state_dict(files.denoiser_state)

    def _take_latent_space(self, files: PlannerFiles) -> None:
        """Takes the autoencoder weights (when in-domain) and the latent normalisation of a planner's files."""
        if files.autoencoder_dir is not None:
            trained = load_autoencoder(files.autoencoder_dir)
            self.planner.autoencoder.load_state_dict(trained.state_dict())
        self.planner.latent_shift.copy_(files.latent_shift)
        self.planner.latent_scale.copy_(files.latent_scale)

    # ---- checkpoints -------------------------------------------------------------------------------

    def _save_checkpoint(self, optimizer, lr_scheduler, ema: EMAModel | None) -> None:
        if not self.accelerator.is_main_process:
            return
        denoiser = self.accelerator.unwrap_model(self.planner.denoiser)
        inference_weights = denoiser.state_dict()
        if ema is not None:
            ema.store(denoiser.parameters())
            ema.copy_to(denoiser.parameters())
            inference_weights = {k: v.clone() for k, v in denoiser.state_dict().items()}
            ema.restore(denoiser.parameters())
        with atomic_directory(self.checkpoint_dir) as staging:
            autoencoder = None if self.config.autoencoder.pretrained else self.planner.autoencoder
            write_planner_files(
                staging,
                self.config,
                inference_weights,
                autoencoder,
                self.planner.latent_shift,
                self.planner.latent_scale,
                self.planner.trained_tasks,
            )
            state_dir = staging / "training_state"
            state_dir.mkdir()
            save_file({k: v.contiguous() for k, v in denoiser.state_dict().items()}, state_dir / "denoiser.safetensors")
            save_state(optimizer.state_dict(), state_dir, "optimizer")
            save_state(lr_scheduler.state_dict(), state_dir, "lr_scheduler")
            if ema is not None:
                save_state(ema.state_dict(), state_dir, "ema")
            trainer_state = {
                "stage": self.state.stage,
                "step": self.state.step,
                "losses": self.state.losses,
                "planner_config": self.config.to_dict(),
                "train_config": dataclass_to_dict(self.train_config),
            }
            (state_dir / TRAINER_STATE_FILE).write_text(json.dumps(trainer_state))

    def _load_checkpoint(self, saved: dict) -> Path:
        """Restores weights and the trainer state; optimizer/EMA state is restored when their stage starts."""
        state_dir = self.checkpoint_dir / "training_state"
        self.state = TrainerState(saved["stage"], saved["step"], saved["losses"])
        self._take_latent_space(load_planner_files(self.checkpoint_dir))
        self.planner.denoiser.load_state_dict(load_file(state_dir / "denoiser.safetensors"))
        return state_dir

    def _restore_optimization(self, optimizer, lr_scheduler, ema: EMAModel | None) -> None:
        if self._resume_state is None:
            return
        optimizer.load_state_dict(load_state(self._resume_state, "optimizer"))
        lr_scheduler.load_state_dict(load_state(self._resume_state, "lr_scheduler"))
        if ema is not None:
            ema.load_state_dict(load_state(self._resume_state, "ema"))
            ema.to(self.device)
        self._resume_state = None

    # ---- stages ------------------------------------------------------------------------------------

    def run(self) -> Path:
        self.output.mkdir(parents=True, exist_ok=True)
        if self.state.stage == "autoencoder":
            self._train_autoencoder()
            self._fit_latent_normalization()
            self.state = TrainerState("denoiser", 0, self.state.losses)
        self._train_denoiser()
        return self.checkpoint_dir

    def _train_autoencoder(self) -> None:
        cfg = self.train_config
        autoencoder = self.planner.autoencoder.requires_grad_(True).train()
        optimizer = torch.optim.AdamW(autoencoder.parameters(), lr=cfg.autoencoder_learning_rate)
        lr_scheduler = get_scheduler(
            "constant_with_warmup", optimizer, num_warmup_steps=min(200, cfg.autoencoder_steps)
        )
        self._restore_optimization(optimizer, lr_scheduler, None)
        autoencoder, optimizer = self.accelerator.prepare(autoencoder, optimizer)
        kl_weight = self.config.autoencoder.kl_weight
        bar = tqdm(
            total=cfg.autoencoder_steps, initial=self.state.step, desc="autoencoder", disable=not self.show_progress
        )
        while self.state.step < cfg.autoencoder_steps:
            generator = _step_generator(cfg.seed, "autoencoder", self.state.step)
            index = torch.randint(len(self.bank.frames), (cfg.autoencoder_batch_size,), generator=generator)
            pixels = frames_to_unit(self.bank.frames[index].to(self.device))  # (B, 3, H, W)
            posterior = self.accelerator.unwrap_model(autoencoder).encode(pixels).latent_dist
            reconstruction = self.accelerator.unwrap_model(autoencoder).decode(posterior.sample(generator)).sample
            loss = F.l1_loss(reconstruction, pixels) + F.mse_loss(reconstruction, pixels)
            loss = loss + kl_weight * posterior.kl().mean()
            self.accelerator.backward(loss)
            optimizer.step()
            lr_scheduler.step()
            optimizer.zero_grad()
            self._after_step(loss, bar, "autoencoder", cfg.autoencoder_steps, optimizer, lr_scheduler, None)
        bar.close()
        self.planner.autoencoder = self.accelerator.unwrap_model(autoencoder).requires_grad_(False).eval()

    def _fit_latent_normalization(self) -> None:
        """Per-channel shift and scale that give the training latents zero mean and unit variance, or the
        pretrained VAE's scaling factor when the config asks for Stable Diffusion's normalisation."""
        self.planner.latent_shift.zero_()
        self.planner.latent_scale.fill_(1.0)
        if self.config.autoencoder.normalization == "scaling_factor":
            self.planner.latent_scale.fill_(self.planner.autoencoder.config.scaling_factor)
            return
        latents = self._encode_bank()  # (N, C, h, w), raw
        self.planner.latent_shift.copy_(latents.mean(dim=(0, 2, 3)))
        self.planner.latent_scale.copy_(1.0 / latents.std(dim=(0, 2, 3)))

    def _encode_bank(self, batch: int = 256) -> torch.Tensor:
        chunks = [
            self.planner.encode_frames(self.bank.frames[i : i + batch]) for i in range(0, len(self.bank.frames), batch)
        ]
        return torch.cat(chunks)

    def training_clips(self) -> tuple[PlannerClips, int]:
        """Every clip the denoiser trains on, and how many of them (the first ones) come from the own datasets
        rather than replay. Clips of own episodes are paced to the replay demos when the config asks for it."""
        strides = np.full(len(self.bank.lengths), self.config.frame_stride)  # (E,)
        if self.train_config.match_replay_pace:
            own, replay = self.bank.lengths[: self.own_episodes], self.bank.lengths[self.own_episodes :]
            strides[: self.own_episodes] = paced_strides(own, replay, self.config.frame_stride)
        clips = PlannerClips(self.bank, self.config.num_future_frames, strides)
        return clips, int(np.sum(clips.starts[:, 0] < self.own_episodes))

    def _train_denoiser(self) -> None:
        cfg = self.train_config
        fresh = self.state.step == 0 and self._resume_state is None and not cfg.init_from
        if self.config.autoencoder.pretrained and fresh:
            self._fit_latent_normalization()
        latents = self._encode_bank()  # (N, C, h, w) normalised
        clips, own_clips = self.training_clips()
        denoiser = self.planner.denoiser.train()
        optimizer = torch.optim.AdamW(denoiser.parameters(), lr=cfg.learning_rate)
        lr_scheduler = get_scheduler("constant_with_warmup", optimizer, num_warmup_steps=cfg.warmup_steps)
        ema = EMAModel(denoiser.parameters(), decay=cfg.ema_decay, use_ema_warmup=True)
        self._restore_optimization(optimizer, lr_scheduler, ema)
        denoiser, optimizer = self.accelerator.prepare(denoiser, optimizer)
        bar = tqdm(total=cfg.steps, initial=self.state.step, desc="denoiser", disable=not self.show_progress)
        while self.state.step < cfg.steps:
            generator = _step_generator(cfg.seed, "denoiser", self.state.step)
            rows = draw_rows(own_clips, len(clips) - own_clips, cfg.batch_size, cfg.replay_fraction, generator)
            clip = latents[torch.from_numpy(clips.index[rows])]  # (B, K+1, C, h, w)
            batch_instructions = [clips.instructions[r] for r in rows.tolist()]
            loss = denoiser_loss(self.planner, denoiser, self.scheduler, clip, batch_instructions, generator)
            self.accelerator.backward(loss)
            self.accelerator.clip_grad_norm_(denoiser.parameters(), 1.0)
            optimizer.step()
            lr_scheduler.step()
            optimizer.zero_grad()
            ema.step(self.accelerator.unwrap_model(denoiser).parameters())
            self._after_step(loss, bar, "denoiser", cfg.steps, optimizer, lr_scheduler, ema)
            if self.state.step % cfg.sample_every == 0 or self.state.step == cfg.steps:
                self._write_samples(ema)
        bar.close()

    def _after_step(self, loss, bar, stage, total, optimizer, lr_scheduler, ema) -> None:
        self.state.step += 1
        self.state.losses[stage].append(float(loss.detach()))
        bar.update(1)
        bar.set_postfix(loss=f"{self.state.losses[stage][-1]:.4f}")
        if self.state.step % self.train_config.checkpoint_every == 0 or self.state.step == total:
            self._save_checkpoint(optimizer, lr_scheduler, ema)

    def _write_samples(self, ema: EMAModel) -> None:
        """A GIF of ground truth next to EMA-model plans for a few fixed clips."""
        if not self.accelerator.is_main_process:
            return
        denoiser = self.accelerator.unwrap_model(self.planner.denoiser)
        ema.store(denoiser.parameters())
        ema.copy_to(denoiser.parameters())
        denoiser.eval()
        episodes = np.linspace(0, len(self.bank.lengths) - 1, self.train_config.sample_clips).round().astype(int)
        truth, plans = [], []
        for episode in episodes:
            index, _ = self.bank.clip_indices(episode, 0, self.config.num_future_frames, self.config.frame_stride)
            frames = self.bank.frames[torch.from_numpy(index)]  # (K+1, 3, H, W)
            image = frames[0].permute(1, 2, 0).numpy()
            plan = self.planner.plan(image, self.bank.instructions[episode], seed=int(episode))
            truth.append(frames.permute(0, 2, 3, 1).numpy())
            plans.append(np.concatenate([image[None], plan.frames]))
        denoiser.train()
        ema.restore(denoiser.parameters())
        write_sample_gif(self.output / "samples" / f"step-{self.state.step:06d}.gif", truth, plans)

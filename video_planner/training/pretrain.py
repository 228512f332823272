"""Pretraining the planner's denoiser from latent shards, on one process or many (`vp pretrain`).

    vp pretrain --shards outputs/shards/mt50 --output outputs/planner/mt50-pretrained --steps 20000
    torchrun --nproc_per_node 8 scripts/pretrain.py --shards ... --output ...     # 8 GPUs, NCCL
    accelerate launch --num_processes 2 scripts/pretrain.py --shards ... --output ...  # 2 CPU processes, gloo

The same code runs under every launcher (`processes.py`). Each rank reads its own shards (`rank_shards`),
draws its batches, noise and timesteps from a generator seeded by (seed, step, micro-batch, rank), and DDP
averages the gradients, so ranks hold identical weights after every step (checked at the end). With
`--parallelism fsdp` the ranks hold shards of the denoiser instead (`sharding.py`) and compute the same steps.
Rank 0 replaces `<output>/checkpoint/` atomically every `checkpoint_every` steps; it is a planner directory
(`VideoPlanner.from_pretrained`, EMA weights) with `training_state/` (whole tensors, however the ranks held
them), and `--resume` continues a run killed at any rank exactly, on the same number of processes. Only torch,
diffusers and safetensors are needed.
"""

import json
import shutil
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch
from diffusers.optimization import get_scheduler
from diffusers.training_utils import EMAModel
from safetensors.torch import load_file, save_file
from torch.distributed.checkpoint.state_dict import (
    get_model_state_dict,
    get_optimizer_state_dict,
    set_model_state_dict,
    set_optimizer_state_dict,
)
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from foundation.atomic_dir import atomic_directory
from foundation.config_io import dataclass_to_dict, read_json
from foundation.errors import InputError
from foundation.hub import weights_digest
from foundation.resume import TRAINER_STATE_FILE, SavedConfig, start_or_resume
from foundation.state_io import load_state, save_state
from video_planner.model.checkpoint import AUTOENCODER_DIR, CONFIG_FILE, NORMALIZATION_FILE, write_planner_files
from video_planner.model.config import SAMPLING_FIELDS, PlannerConfig
from video_planner.model.networks import VideoDenoiser
from video_planner.model.planner import training_scheduler
from video_planner.training.diffusion_loss import clip_loss
from video_planner.training.latent_shards import LATENT_SPACE_DIR, LatentShard, load_shard, rank_shards, read_manifest
from video_planner.training.pretrain_config import RESUMABLE_CHANGES, PretrainConfig
from video_planner.training.processes import Processes
from video_planner.training.sharding import FROM_WHOLE, GATHER_TO_MAIN, like, local_elements, shard_denoiser, whole

RANKS_FILE = "ranks.json"
LATENT_FIELDS = ("image_size", "num_future_frames", "frame_stride", "text_encoder", "autoencoder")


def merge_shards(shards: list[LatentShard]) -> LatentShard:
    """One shard holding the clips of `shards` (rows re-based)."""
    frame_offsets = np.cumsum([0] + [len(s.latents) for s in shards[:-1]])
    text_offsets = np.cumsum([0] + [len(s.text) for s in shards[:-1]])
    return LatentShard(
        latents=torch.cat([s.latents for s in shards]),
        clips=torch.cat([s.clips + int(o) for s, o in zip(shards, frame_offsets, strict=True)]),
        clip_is_pad=torch.cat([s.clip_is_pad for s in shards]),
        clip_text=torch.cat([s.clip_text + int(o) for s, o in zip(shards, text_offsets, strict=True)]),
        text=torch.cat([s.text for s in shards]),
        text_mask=torch.cat([s.text_mask for s in shards]),
    )


def step_generator(seed: int, step: int, micro: int, rank: int) -> torch.Generator:
    """The draws of one micro-batch of one rank: distinct for every (seed, step, micro-batch, rank)."""
    state = np.random.SeedSequence([seed, step, micro, rank]).generate_state(1, dtype=np.uint64)[0]
    return torch.Generator().manual_seed(int(state))


def check_latent_space(config: PlannerConfig, encoded: PlannerConfig, shards: Path) -> None:
    """Refuses a planner config whose latents or clips differ from those the shards hold."""
    for name in LATENT_FIELDS:
        if getattr(config, name) != getattr(encoded, name):
            raise InputError(
                f"the planner config's {name} differs from the one {shards} was encoded with; "
                f"start from {shards / LATENT_SPACE_DIR / CONFIG_FILE} and change the denoiser only"
            )


class ShardPretrainer:
    def __init__(
        self,
        config: PretrainConfig,
        output: Path,
        planner_config: PlannerConfig | None = None,
        *,
        resume: bool = False,
        show_progress: bool = True,
        processes: Processes | None = None,
    ):
        """`planner_config`: the denoiser to train (its latent fields must be the shards'); unset, the
        encoding planner's config."""
        self.processes = processes or Processes()
        if config.parallelism == "fsdp" and not self.processes.distributed:
            raise InputError(
                "--parallelism fsdp shards the denoiser over several processes; launch them with "
                "torchrun --nproc_per_node N scripts/pretrain.py (or accelerate launch), or keep ddp"
            )
        self.config, self.output = config, Path(output)
        self.checkpoint_dir = self.output / "checkpoint"
        self.shards_root = Path(config.shards)
        manifest = read_manifest(self.shards_root)
        space = self.shards_root / LATENT_SPACE_DIR
        encoded = PlannerConfig.load(space / CONFIG_FILE)
        self.planner_config = planner_config or encoded
        check_latent_space(self.planner_config, encoded, self.shards_root)
        self.normalization = read_json(space / NORMALIZATION_FILE, keys={"latent_shift": list, "latent_scale": list})
        self.tasks = tuple(manifest.get("tasks", ()))
        self.show_progress = show_progress and self.processes.is_main
        saved = self._start_or_resume(resume)
        self.my_shards = rank_shards(manifest, self.processes.rank, self.processes.world_size)
        self.data = merge_shards([load_shard(self.shards_root, entry) for entry in self.my_shards])
        torch.manual_seed(config.seed)  # initial weights, the same on every rank
        device = self.processes.device
        self.denoiser = VideoDenoiser(self.planner_config, self.data.text.shape[-1]).to(device)
        if config.parallelism == "fsdp":
            shard_denoiser(self.denoiser)  # before the optimizer and the EMA, which then hold shards too
        self.scheduler = training_scheduler(self.planner_config)
        self.step, self.losses, self.train_seconds = 0, [], 0.0
        self.optimizer = torch.optim.AdamW(self.denoiser.parameters(), lr=config.learning_rate)
        self.lr_scheduler = get_scheduler("constant_with_warmup", self.optimizer, num_warmup_steps=config.warmup_steps)
        self.ema = EMAModel(self.denoiser.parameters(), decay=config.ema_decay, use_ema_warmup=True)
        if saved is not None:
            self._restore(saved)

    def _start_or_resume(self, resume: bool) -> dict | None:
        """Rank 0 settles the checkpoint directory (a swap cut short by a kill) first; the others then read it."""
        configs = [
            SavedConfig("planner_config", "planner config", self.planner_config, SAMPLING_FIELDS),
            SavedConfig("pretrain_config", "pretrain config", self.config, RESUMABLE_CHANGES),
        ]
        saved = start_or_resume(self.checkpoint_dir, self.output, resume, configs) if self.processes.is_main else None
        self.processes.barrier()
        if not self.processes.is_main:
            saved = start_or_resume(self.checkpoint_dir, self.output, resume, configs)
        if saved is not None and saved["step"] > self.config.steps:
            raise InputError(f"{self.output} already ran {saved['step']} steps; pass --steps >= that")
        if saved is not None and saved["world_size"] != self.processes.world_size:
            raise InputError(
                f"{self.output} was trained on {saved['world_size']} processes; resume it on as many (each rank's "
                f"shards and draws depend on them), not {self.processes.world_size}"
            )
        return saved

    def _restore(self, saved: dict) -> None:
        """Every rank reads the whole tensors and keeps what it holds of them (all, or its shards)."""
        state_dir = self.checkpoint_dir / "training_state"
        set_model_state_dict(self.denoiser, load_file(state_dir / "denoiser.safetensors"), options=FROM_WHOLE)
        optimizer = load_state(state_dir, "optimizer")
        set_optimizer_state_dict(self.denoiser, self.optimizer, optimizer, options=FROM_WHOLE)
        self.lr_scheduler.load_state_dict(load_state(state_dir, "lr_scheduler"))
        ema = load_state(state_dir, "ema")
        params = list(self.denoiser.parameters())
        ema["shadow_params"] = [like(t, p) for t, p in zip(ema["shadow_params"], params, strict=True)]
        self.ema.load_state_dict(ema)
        self.step, self.losses, self.train_seconds = saved["step"], saved["losses"], saved["train_seconds"]

    def run(self) -> Path:
        config, processes = self.config, self.processes
        model = self.denoiser
        if processes.distributed and config.parallelism == "ddp":
            device_ids = [processes.device.index] if processes.device.type == "cuda" else None
            model = DistributedDataParallel(model, device_ids=device_ids)
        synced = model
        if config.compile:
            model = torch.compile(model)
        bar = tqdm(total=config.steps, initial=self.step, desc="pretrain", disable=not self.show_progress)
        while self.step < config.steps:
            started = time.perf_counter()
            loss = 0.0
            for micro in range(config.gradient_accumulation):
                last = micro == config.gradient_accumulation - 1
                with self._gradient_sync(synced, last), processes.autocast():
                    part = self._micro_batch_loss(model, micro) / config.gradient_accumulation
                part.backward()
                loss += float(part.detach())
            torch.nn.utils.clip_grad_norm_(self.denoiser.parameters(), 1.0)
            self.optimizer.step()
            self.lr_scheduler.step()
            self.optimizer.zero_grad()
            self.ema.step(self.denoiser.parameters())
            self.step += 1
            self.losses.append(processes.mean(loss))
            self.train_seconds += time.perf_counter() - started
            bar.update(1)
            bar.set_postfix(loss=f"{self.losses[-1]:.4f}")
            if self.step % config.checkpoint_every == 0 or self.step == config.steps:
                self._save_checkpoint()
        bar.close()
        self._check_ranks_agree()
        return self.checkpoint_dir

    def _gradient_sync(self, model, now: bool):
        """Where the next backward pass averages gradients across ranks only when `now`: on the last micro-batch
        of a step, so gradient accumulation communicates once per step."""
        if isinstance(model, DistributedDataParallel) and not now:
            return model.no_sync()
        if self.config.parallelism == "fsdp":
            self.denoiser.set_requires_gradient_sync(now)
        return nullcontext()

    def _micro_batch_loss(self, model, micro: int) -> torch.Tensor:
        generator = step_generator(self.config.seed, self.step, micro, self.processes.rank)
        rows = torch.randint(len(self.data.clips), (self.config.batch_size,), generator=generator)
        clip, text, mask = self.data.batch(rows)  # (B, K+1, C, h, w), (B, L, D), (B, L)
        device = self.processes.device
        return clip_loss(self.planner_config, model, self.scheduler, clip.to(device), text, mask, generator)

    def _save_checkpoint(self) -> None:
        """Every rank gathers (a collective under FSDP); rank 0 writes."""
        raw = get_model_state_dict(self.denoiser, options=GATHER_TO_MAIN)
        optimizer = get_optimizer_state_dict(self.denoiser, self.optimizer, options=GATHER_TO_MAIN)
        ema = self.ema.state_dict()
        ema["shadow_params"] = [whole(p).cpu() for p in ema["shadow_params"]]
        self.ema.store(self.denoiser.parameters())
        self.ema.copy_to(self.denoiser.parameters())
        inference = get_model_state_dict(self.denoiser, options=GATHER_TO_MAIN)
        self.ema.restore(self.denoiser.parameters())
        if not self.processes.is_main:
            return
        space = self.shards_root / LATENT_SPACE_DIR
        shift, scale = (torch.tensor(self.normalization[key]) for key in ("latent_shift", "latent_scale"))
        with atomic_directory(self.checkpoint_dir) as staging:
            write_planner_files(staging, self.planner_config, inference, None, shift, scale, self.tasks)
            if (space / AUTOENCODER_DIR).is_dir():
                shutil.copytree(space / AUTOENCODER_DIR, staging / AUTOENCODER_DIR)
            state_dir = staging / "training_state"
            state_dir.mkdir()
            save_file({k: v.contiguous() for k, v in raw.items()}, state_dir / "denoiser.safetensors")
            save_state(optimizer, state_dir, "optimizer")
            save_state(self.lr_scheduler.state_dict(), state_dir, "lr_scheduler")
            save_state(ema, state_dir, "ema")
            trainer_state = {
                "step": self.step,
                "losses": self.losses,
                "train_seconds": round(self.train_seconds, 3),  # in steps, without loading and checkpoints
                "world_size": self.processes.world_size,
                "planner_config": self.planner_config.to_dict(),
                "pretrain_config": dataclass_to_dict(self.config),
            }
            (state_dir / TRAINER_STATE_FILE).write_text(json.dumps(trainer_state))

    def _check_ranks_agree(self) -> None:
        """Every rank's shards, and what it holds of the denoiser, in `ranks.json`: under DDP its weight
        digest, and ranks whose weights differ are an error (DDP must keep them identical); under FSDP the
        number of weight elements it holds (its share)."""
        if self.config.parallelism == "ddp":
            held = {"weights": weights_digest(self.denoiser)}
        else:
            held = {"weight_elements": local_elements(self.denoiser)}
        ranks = self.processes.gather({"shards": [entry["file"] for entry in self.my_shards]} | held)
        if self.processes.is_main:
            (self.output / RANKS_FILE).write_text(json.dumps(ranks, indent=2))
        if len({rank.get("weights") for rank in ranks}) > 1:
            raise RuntimeError(f"the ranks' weights differ after training: {ranks}")

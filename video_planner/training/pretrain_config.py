"""Hyperparameters of a pretraining run from latent shards (`vp pretrain`), kept import-light for the CLI."""

from dataclasses import dataclass
from typing import Literal, get_args

from foundation.config_io import check_ranges, ranged
from foundation.errors import InputError

Parallelism = Literal["ddp", "fsdp"]


@dataclass(frozen=True)
class PretrainConfig:
    shards: str  # a `vp encode` output: shard-*.safetensors, manifest.json and the latent space they were encoded in
    steps: int = ranged(20_000, "[1, inf)")  # optimizer steps (a resumed run may raise it)
    batch_size: int = ranged(8, "[1, inf)")  # clips per process and micro-batch
    gradient_accumulation: int = ranged(1, "[1, inf)")  # micro-batches per optimizer step
    learning_rate: float = ranged(2e-4, "(0, inf)")  # AdamW, constant after the warm-up
    warmup_steps: int = ranged(500, "[0, inf)")  # linear learning-rate warm-up
    ema_decay: float = ranged(0.999, "[0, 1)")  # of the denoiser weights the planner directory holds
    checkpoint_every: int = ranged(500, "[1, inf)")  # steps between atomic checkpoints (what --resume continues from)
    seed: int = ranged(0, "[0, inf)")  # initial weights and every step's draws (each rank draws its own)
    compile: bool = False  # torch.compile the denoiser (worth it on a GPU for long runs)
    # how ranks hold the denoiser: ddp a whole copy each; fsdp a shard of its weights, gradients and optimizer
    # state each (every UNet block sharded), for a denoiser too large to copy onto every GPU (the gpu preset)
    parallelism: Parallelism = "ddp"

    def __post_init__(self):
        if self.parallelism not in get_args(Parallelism):
            raise InputError(f"unknown parallelism {self.parallelism!r}; valid: {', '.join(get_args(Parallelism))}")
        check_ranges(self, "pretrain config")


# Fields a resumed run may change: they do not alter what any step computes.
RESUMABLE_CHANGES = frozenset({"steps", "checkpoint_every", "compile"})

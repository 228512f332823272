"""Hyperparameters of a planner training run, kept import-light for the CLI."""

from dataclasses import dataclass

from foundation.config_io import check_ranges, ranged
from foundation.errors import InputError
from foundation.replay_settings import check_replay


@dataclass(frozen=True)
class TrainConfig:
    datasets: tuple[str, ...]  # LeRobot datasets (demos, or a SAIL run's kept rollouts); their episodes are pooled
    steps: int = ranged(20_000, "[1, inf)")  # denoiser steps (a resumed run may raise it)
    batch_size: int = ranged(8, "[1, inf)")  # clips per denoiser step
    learning_rate: float = ranged(2e-4, "(0, inf)")  # AdamW, constant after the warm-up
    warmup_steps: int = ranged(500, "[0, inf)")  # linear learning-rate warm-up of the denoiser
    ema_decay: float = ranged(0.999, "[0, 1)")  # of the denoiser weights that checkpoints and plans use
    autoencoder_steps: int = ranged(3_000, "[0, inf)")  # skipped when the planner config names a pretrained autoencoder
    autoencoder_batch_size: int = ranged(32, "[1, inf)")  # frames per autoencoder step
    autoencoder_learning_rate: float = ranged(1e-3, "(0, inf)")  # AdamW, after a 200-step warm-up
    checkpoint_every: int = ranged(500, "[1, inf)")  # steps between atomic checkpoints (what --resume continues from)
    sample_every: int = ranged(2_000, "[1, inf)")  # denoiser steps between sample GIFs in <output>/samples
    sample_clips: int = ranged(4, "[1, inf)")  # clips per sample GIF
    seed: int = ranged(0, "[0, inf)")  # initial weights and every step's draws
    # A planner directory whose autoencoder and latent normalisation this run keeps (its autoencoder stage is
    # skipped); the denoiser starts fresh. For denoiser ablations and retraining on new data in the same latents.
    init_from: str | None = None
    # With init_from: also start the denoiser from that planner's (EMA) weights, i.e. fine-tune it, as SAIL
    # does on its own rollouts. The planner config must then equal the one saved there.
    finetune: bool = False
    # Demo datasets mixed into every batch, `replay_fraction` of its rows, so fine-tuning on a few episodes
    # (SAIL's rollouts) does not drift from what the demos taught (foundation/replay.py).
    replay: tuple[str, ...] = ()
    replay_fraction: float = ranged(0.5, "(0, 1)")  # share of each batch drawn from the replay datasets, in (0, 1)
    # With replay: clips of the `datasets` episodes take a stride scaled by their length over the mean replay
    # episode's, so slow rollouts do not teach slow plans.
    match_replay_pace: bool = False
    # the camera the model learns from, e.g. observation.images.front; unset: observation.image (what `vp`
    # records), or a dataset's only camera (frames of another aspect are centre-cropped square)
    camera_key: str | None = None

    def __post_init__(self):
        if not self.datasets:
            raise InputError("train config: give at least one dataset")
        if self.finetune and not self.init_from:
            raise InputError("train config: finetune needs init_from, the planner directory to fine-tune")
        check_replay(self.replay, self.replay_fraction, "train config")
        if self.match_replay_pace and not self.replay:
            raise InputError("train config: match_replay_pace needs replay datasets to take the pace from")
        check_ranges(self, "train config")


# Fields a resumed run may change: they do not alter what any step computes.
RESUMABLE_CHANGES = frozenset({"steps", "checkpoint_every", "sample_every"})

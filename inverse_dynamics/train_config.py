"""Hyperparameters of an inverse-dynamics training run, kept import-light for the CLI."""

from dataclasses import dataclass

from foundation.errors import InputError
from foundation.replay_settings import check_replay


@dataclass(frozen=True)
class IDMTrainConfig:
    datasets: tuple[str, ...]  # LeRobot datasets recorded by `vp collect` (expert, noisy-expert, exploration)
    steps: int = 16_000  # optimisation steps (a resumed run may raise it)
    batch_size: int = 32  # samples per step
    learning_rate: float = 3e-4  # AdamW, constant after the warm-up
    weight_decay: float = 1e-4  # AdamW
    warmup_steps: int = 200  # linear learning-rate warm-up
    shift_pixels: int = 4  # random shift augmentation, the same shift for both frames of a sample
    checkpoint_every: int = 500  # steps between atomic checkpoints (what --resume continues from)
    seed: int = 0  # initial weights and every step's draws
    # An inverse-dynamics directory to fine-tune (SAIL): its weights and state/action normalisation are the
    # start, and the model config must equal the one saved there.
    init_from: str | None = None
    # Demo datasets mixed into every batch, `replay_fraction` of its rows (SAIL fine-tunes on few rollouts).
    replay: tuple[str, ...] = ()
    replay_fraction: float = 0.5  # share of each batch drawn from the replay datasets, in (0, 1)

    def __post_init__(self):
        if not self.datasets:
            raise InputError("inverse-dynamics training needs at least one --dataset")
        check_replay(self.replay, self.replay_fraction, "inverse-dynamics train config")
        checks = {
            "steps": self.steps >= 1,
            "batch_size": self.batch_size >= 1,
            "checkpoint_every": self.checkpoint_every >= 1,
            "learning_rate": self.learning_rate > 0,
            "weight_decay": self.weight_decay >= 0,
            "warmup_steps": self.warmup_steps >= 0,
            "shift_pixels": self.shift_pixels >= 0,
        }
        for key, ok in checks.items():
            if not ok:
                raise InputError(f"inverse-dynamics train config: invalid {key} = {getattr(self, key)!r}")


# Fields a resumed run may change: they do not alter what any step computes.
RESUMABLE_CHANGES = frozenset({"steps", "checkpoint_every"})

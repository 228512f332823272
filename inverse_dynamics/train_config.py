"""Hyperparameters of an inverse-dynamics training run, kept import-light for the CLI."""

from dataclasses import dataclass

from robot_io.errors import InputError


@dataclass(frozen=True)
class IDMTrainConfig:
    datasets: tuple[str, ...]  # LeRobot datasets recorded by `vp collect` (expert, noisy-expert, exploration)
    steps: int = 6_000
    batch_size: int = 64
    learning_rate: float = 3e-4
    weight_decay: float = 1e-4
    warmup_steps: int = 200
    shift_pixels: int = 4  # random shift augmentation, the same shift for both frames of a sample
    checkpoint_every: int = 500
    seed: int = 0

    def __post_init__(self):
        if not self.datasets:
            raise InputError("inverse-dynamics training needs at least one --dataset")
        for key in ("steps", "batch_size", "checkpoint_every"):
            if getattr(self, key) < 1:
                raise InputError(f"inverse-dynamics train config: {key} must be >= 1, got {getattr(self, key)}")


# Fields a resumed run may change: they do not alter what any step computes.
RESUMABLE_CHANGES = frozenset({"steps", "checkpoint_every"})

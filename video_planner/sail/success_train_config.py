"""Hyperparameters of a success-detector training run, kept import-light for the CLI."""

from dataclasses import dataclass


@dataclass(frozen=True)
class SuccessTrainConfig:
    steps: int = 2000
    batch_size: int = 64
    learning_rate: float = 1e-3
    shift_pixels: int = 4  # same random shift for both frames of a pair
    early_fraction: float = 0.5  # "not done yet" frames come from the first half of an episode
    seed: int = 0

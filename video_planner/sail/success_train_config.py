"""Hyperparameters of a success-detector training run, kept import-light for the CLI."""

from dataclasses import dataclass

from foundation.config_io import check_ranges, ranged
from foundation.errors import InputError

# What a "not solved" training pair can be; see `train_success`.
NEGATIVE_KINDS = ("early", "failed", "other-instruction")


@dataclass(frozen=True)
class SuccessTrainConfig:
    steps: int = ranged(2000, "[1, inf)")  # optimisation steps of each ensemble member
    batch_size: int = ranged(64, "[2, inf)")  # (first frame, last frame, instruction) pairs per step
    learning_rate: float = ranged(1e-3, "(0, inf)")  # AdamW
    shift_pixels: int = ranged(4, "[0, inf)")  # same random shift for both frames of a pair
    early_fraction: float = ranged(0.5, "(0, 1)")  # "not done yet" frames come from the first half of an episode
    # Mismatched instructions ("other-instruction") are opt-in: in a small screen they seemed to cost the
    # detector its ranking on unseen tasks, within seed noise (docs/results/sail.md, "The learned success
    # detector on rollouts").
    negatives: tuple[str, ...] = ("early", "failed")  # kinds of "not solved" pairs: early, failed, other-instruction
    seed: int = ranged(0, "[0, inf)")  # member m trains from seed + m

    def __post_init__(self):
        check_ranges(self, "success training")
        unknown = sorted(set(self.negatives) - set(NEGATIVE_KINDS))
        if unknown or not self.negatives:
            raise InputError(
                f"success training: unknown negative kinds {unknown or '(none given)'}; choose from "
                f"{', '.join(NEGATIVE_KINDS)}"
            )

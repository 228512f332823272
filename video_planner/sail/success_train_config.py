"""Hyperparameters of a success-detector training run, kept import-light for the CLI."""

from dataclasses import dataclass

from foundation.errors import InputError

# What a "not solved" training pair can be; see `train_success`.
NEGATIVE_KINDS = ("early", "failed", "other-instruction")


@dataclass(frozen=True)
class SuccessTrainConfig:
    steps: int = 2000  # optimisation steps of each ensemble member
    batch_size: int = 64  # (first frame, last frame, instruction) pairs per step
    learning_rate: float = 1e-3  # AdamW
    shift_pixels: int = 4  # same random shift for both frames of a pair
    early_fraction: float = 0.5  # "not done yet" frames come from the first half of an episode
    # Mismatched instructions ("other-instruction") are opt-in: in a small screen they seemed to cost the
    # detector its ranking on unseen tasks, within seed noise (README, "The learned success detector on rollouts").
    negatives: tuple[str, ...] = ("early", "failed")  # kinds of "not solved" pairs: early, failed, other-instruction
    seed: int = 0  # member m trains from seed + m

    def __post_init__(self):
        unknown = sorted(set(self.negatives) - set(NEGATIVE_KINDS))
        if unknown or not self.negatives:
            raise InputError(
                f"success training: unknown negative kinds {unknown or '(none given)'}; choose from "
                f"{', '.join(NEGATIVE_KINDS)}"
            )

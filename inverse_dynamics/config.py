"""The inverse-dynamics model's configuration."""

import math
from dataclasses import dataclass
from typing import ClassVar

from foundation.config_io import VersionedConfig
from foundation.errors import InputError

# the fields `vp train-idm` takes as flags; the sizes of state and action come from the data, the rest stay default
TRAINING_FLAG_FIELDS = ("image_size", "chunk_size", "action_low", "action_high")


@dataclass(frozen=True)
class InverseDynamicsConfig(VersionedConfig):
    """(current image, state, target frame) -> the `chunk_size` actions that lead from one to the other.

    `chunk_size` equals the planner's frame stride: one target frame per planned frame. `Agent` checks
    image size and chunk size against the planner; the trainer checks state and action dimensions
    against the data.
    """

    CURRENT_VERSION: ClassVar[int] = 1

    image_size: int = 64  # the square frames the model sees; must match the planner's
    chunk_size: int = 8  # actions per target frame: the planner's frame stride
    state_dim: int = 4  # `vp train-idm` takes it from the datasets' observation.state feature
    action_dim: int = 4  # `vp train-idm` takes it from the datasets' action feature
    # predicted actions are clipped to the robot's action bounds (MetaWorld: ±1):
    action_low: float = -1.0  # the lower bound of every action dimension
    action_high: float = 1.0  # the upper bound of every action dimension
    encoder_channels: tuple[int, ...] = (32, 64, 128)  # stride-2 conv stages, shared by both frames
    hidden_dim: int = 512
    config_version: int = CURRENT_VERSION

    def __post_init__(self):
        checks = {
            "image_size": self.image_size % 2 ** (len(self.encoder_channels) + 1) == 0,
            "chunk_size": self.chunk_size >= 1,
            "state_dim": self.state_dim >= 0,
            "action_dim": self.action_dim >= 1,
            "encoder_channels": len(self.encoder_channels) >= 1 and all(c % 8 == 0 for c in self.encoder_channels),
            "hidden_dim": self.hidden_dim >= 1,
            "action_high": math.isfinite(self.action_low)
            and math.isfinite(self.action_high)
            and self.action_low < self.action_high,
        }
        for key, ok in checks.items():
            if not ok:
                raise InputError(f"inverse-dynamics config: invalid {key} = {getattr(self, key)!r}")

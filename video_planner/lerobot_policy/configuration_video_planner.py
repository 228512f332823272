"""The `video_planner` policy type in LeRobot's config registry: what `lerobot-eval` and `lerobot-rollout` read
from a policy directory's `config.json` before they load the planner and the IDM beside it.

LeRobot finds the policy class and its processors by naming convention from this module's name
(`configuration_video_planner` → `modeling_video_planner`, `processor_video_planner`), so the three files keep
these names. Nothing here trains: the planner and the IDM are trained with `vp train` and `vp train-idm`.
"""

import math
from dataclasses import dataclass, field

from lerobot.configs import FeatureType, NormalizationMode, PreTrainedConfig
from lerobot.optim import AdamWConfig
from lerobot.utils.constants import ACTION, OBS_IMAGE, OBS_STATE

from foundation.errors import InputError
from video_planner.control.settings import ReplanRule
from video_planner.model.config import MAX_SAMPLING_STEPS

POLICY_TYPE = "video_planner"


@PreTrainedConfig.register_subclass(POLICY_TYPE)
@dataclass
class VideoPlannerConfig(PreTrainedConfig):
    """Agent settings of an exported policy; the models' own configs live in `planner/` and `idm/` beside it."""

    image_key: str = OBS_IMAGE  # the camera the planner sees (after LeRobot's --rename_map)
    image_size: int = 64  # the planner's frame size: camera images are centre-cropped square and resized to it
    replan_every: int = ReplanRule.replan_every  # env steps between plans; a multiple of the IDM chunk size
    stall_steps: int = ReplanRule.stall_steps  # replan early when the hand moved less than stall_distance ...
    stall_distance: float = ReplanRule.stall_distance  # ... metres over stall_steps steps (first 3 state values)
    sampling_steps: int | None = None  # denoising steps per plan; unset: the planner config's
    seed: int = 0  # plans of episode e in env b draw noise from (seed, e, b): a rerun repeats its actions
    # task strings (LeRobot's env descriptions, a --task) mapped to the instructions the planner was trained on;
    # a task not listed reaches the planner unchanged
    instructions: dict[str, str] = field(default_factory=dict)
    action_low: float = -1.0  # every action is clipped to [action_low, action_high]: the robot's bounds
    action_high: float = 1.0
    # the planner and the IDM normalise their own inputs and outputs: LeRobot's normaliser passes them unchanged
    normalization_mapping: dict[str, NormalizationMode] = field(
        default_factory=lambda: {kind.value: NormalizationMode.IDENTITY for kind in FeatureType}
    )

    def __post_init__(self):
        super().__post_init__()
        if self.image_size < 8:
            raise InputError(f"image_size must be at least 8 pixels, got {self.image_size}")
        ReplanRule(self.replan_every, self.stall_steps, self.stall_distance)  # its own range checks
        if self.sampling_steps is not None and not 1 <= self.sampling_steps <= MAX_SAMPLING_STEPS:
            raise InputError(f"sampling_steps must be in [1, {MAX_SAMPLING_STEPS}], got {self.sampling_steps}")
        bounds = (self.action_low, self.action_high)
        if not (all(math.isfinite(b) for b in bounds) and self.action_low < self.action_high):
            raise InputError(f"action bounds must be finite with action_low < action_high, got {bounds}")

    @property
    def replan_rule(self) -> ReplanRule:
        return ReplanRule(self.replan_every, self.stall_steps, self.stall_distance)

    def validate_features(self) -> None:
        """The planner needs its camera and the IDM the robot's state; the action feature is the IDM's output."""
        needs = {self.image_key: FeatureType.VISUAL, OBS_STATE: FeatureType.STATE}
        for key, kind in needs.items():
            feature = (self.input_features or {}).get(key)
            if feature is None or feature.type != kind:
                raise InputError(
                    f"the video_planner policy needs a {kind.value} input feature {key!r}; the config lists "
                    f"{sorted(self.input_features or {})} (rename the robot's camera with --rename_map)"
                )
        if ACTION not in (self.output_features or {}):
            raise InputError(f"the video_planner policy needs an output feature {ACTION!r}")

    def get_optimizer_preset(self) -> AdamWConfig:
        """LeRobot asks every policy for one; training goes through `vp train` and `vp train-idm` instead."""
        return AdamWConfig(lr=1e-4)

    def get_scheduler_preset(self) -> None:
        return None

    @property
    def observation_delta_indices(self) -> None:
        return None  # the agent sees the current observation only

    @property
    def action_delta_indices(self) -> None:
        return None

    @property
    def reward_delta_indices(self) -> None:
        return None

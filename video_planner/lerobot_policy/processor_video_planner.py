"""The policy's pre- and post-processors, as LeRobot pipelines saved beside the policy.

Pre: rename → add batch dim → camera image centre-cropped square and resized to the planner's size → task string
mapped to the planner's instruction → device. Post: actions refused when non-finite, clipped to the robot's
bounds → CPU. The steps are registered by name, so `policy_preprocessor.json` / `policy_postprocessor.json`
rebuild them in any process that imported this package.
"""

from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from lerobot.configs import PipelineFeatureType, PolicyFeature
from lerobot.processor import (
    AddBatchDimensionProcessorStep,
    ComplementaryDataProcessorStep,
    DeviceProcessorStep,
    ObservationProcessorStep,
    PolicyActionProcessorStep,
    ProcessorStepRegistry,
    RenameObservationsProcessorStep,
    make_policy_processor_pipelines,
)
from lerobot.utils.constants import OBS_IMAGE

from foundation.errors import InputError
from foundation.frames import centre_square
from robot_io.safety import UnsafeActionError
from video_planner.lerobot_policy.configuration_video_planner import VideoPlannerConfig


@ProcessorStepRegistry.register("video_planner_square_image")
@dataclass
class SquareImageProcessorStep(ObservationProcessorStep):
    """The planner's camera, centre-cropped square (`foundation.frames.centre_square`: a 640×480 camera loses 80
    columns each side, nothing is squeezed) and area-resized to `size`; other cameras pass unchanged."""

    image_key: str = OBS_IMAGE
    size: int = 64

    def observation(self, observation: dict) -> dict:
        if self.image_key not in observation:
            cameras = sorted(key for key in observation if "image" in key)
            raise InputError(
                f"the observation has no {self.image_key!r} (cameras: {cameras}); map one to it with "
                f'--rename_map=\'{{"<camera>": "{self.image_key}"}}\''
            )
        images = observation[self.image_key]
        if not (isinstance(images, torch.Tensor) and images.ndim == 4 and images.shape[1] == 3):
            shape = tuple(images.shape) if hasattr(images, "shape") else type(images).__name__
            raise InputError(f"{self.image_key} must be a (B, 3, H, W) image tensor in [0, 1], got {shape}")
        square = centre_square(images.float())  # (B, 3, side, side): cropped as the training frames were
        if square.shape[-1] != self.size:  # area resampling, as the training frames were resized
            square = F.interpolate(square, size=(self.size, self.size), mode="area")
        return {**observation, self.image_key: square.clamp(0.0, 1.0)}  # (B, 3, S, S)

    def get_config(self) -> dict[str, Any]:
        return {"image_key": self.image_key, "size": self.size}

    def transform_features(self, features: dict[PipelineFeatureType, dict[str, PolicyFeature]]):
        observed = features.get(PipelineFeatureType.OBSERVATION, {})
        if self.image_key in observed:
            observed[self.image_key] = PolicyFeature(observed[self.image_key].type, (3, self.size, self.size))
        return features


@ProcessorStepRegistry.register("video_planner_instruction")
@dataclass
class InstructionProcessorStep(ComplementaryDataProcessorStep):
    """The batch's task strings as the planner's instructions: each stripped, then mapped through
    `instructions` (an env's task descriptions → the wording the planner was trained on) where listed."""

    instructions: dict[str, str] = field(default_factory=dict)

    def complementary_data(self, complementary_data: dict) -> dict:
        tasks = complementary_data.get("task")
        if tasks is None:
            return complementary_data  # the policy names the missing instruction when it needs one
        if isinstance(tasks, str):
            tasks = [tasks]
        mapped = [self.instructions.get(task.strip(), task.strip()) for task in tasks]
        return {**complementary_data, "task": mapped}

    def get_config(self) -> dict[str, Any]:
        return {"instructions": dict(self.instructions)}

    def transform_features(self, features):
        return features


@ProcessorStepRegistry.register("video_planner_action_bounds")
@dataclass
class ActionBoundsProcessorStep(PolicyActionProcessorStep):
    """The last check before an action leaves: a non-finite one stops the run, the rest are clipped to
    [low, high] (the robot's bounds)."""

    low: float = -1.0
    high: float = 1.0

    def action(self, action: torch.Tensor) -> torch.Tensor:
        if not torch.isfinite(action).all():
            raise UnsafeActionError(f"the policy produced a non-finite action {action.tolist()}; nothing sent")
        return action.clamp(self.low, self.high)

    def get_config(self) -> dict[str, Any]:
        return {"low": self.low, "high": self.high}

    def transform_features(self, features):
        return features


def make_video_planner_pre_post_processors(config: VideoPlannerConfig, dataset_stats=None):
    """The pipeline pair LeRobot's `make_pre_post_processors` builds for a `video_planner` config. Dataset
    statistics are not used: the planner and the IDM carry their own normalisation."""
    del dataset_stats
    return make_policy_processor_pipelines(
        input_steps=[
            RenameObservationsProcessorStep(rename_map={}),
            AddBatchDimensionProcessorStep(),
            SquareImageProcessorStep(image_key=config.image_key, size=config.image_size),
            InstructionProcessorStep(instructions=dict(config.instructions)),
            DeviceProcessorStep(device=config.device),
        ],
        output_steps=[
            ActionBoundsProcessorStep(low=config.action_low, high=config.action_high),
            DeviceProcessorStep(device="cpu"),
        ],
    )

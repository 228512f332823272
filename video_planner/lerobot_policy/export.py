"""`vp export-lerobot`: a planner and an IDM written as one LeRobot policy directory.

The directory is what `lerobot-eval --policy.path=DIR`, `lerobot-rollout --policy.path=DIR` and
`VideoPlannerPolicy.from_pretrained(DIR)` load; it is written whole or not at all.
"""

import json
from collections import Counter
from importlib.resources import files
from pathlib import Path
from typing import Literal

from lerobot.configs import FeatureType, PolicyFeature
from lerobot.utils.constants import ACTION, OBS_IMAGE, OBS_STATE

from foundation.atomic_dir import atomic_directory
from inverse_dynamics.model import InverseDynamics
from robot_io.metaworld_tasks import INSTRUCTIONS, METAWORLD_VERSION_SUFFIX
from video_planner.control.settings import ReplanRule
from video_planner.lerobot_policy.configuration_video_planner import VideoPlannerConfig
from video_planner.lerobot_policy.modeling_video_planner import VideoPlannerPolicy
from video_planner.model.planner import VideoPlanner

TaskDescriptions = Literal["metaworld", "none"]


def metaworld_instructions() -> dict[str, str]:
    """LeRobot's MetaWorld task descriptions ("Open a door with a revolving joint") → the instructions our
    planners were trained on ("open the door"). A description LeRobot gives two tasks is left out: it names
    neither."""
    table = json.loads((files("lerobot.envs") / "metaworld_config.json").read_text())["TASK_DESCRIPTIONS"]
    shared = {description for description, count in Counter(table.values()).items() if count > 1}
    return {
        description: INSTRUCTIONS[name.removesuffix(METAWORLD_VERSION_SUFFIX)]
        for name, description in table.items()
        if description not in shared and name.removesuffix(METAWORLD_VERSION_SUFFIX) in INSTRUCTIONS
    }


def build_policy(
    planner: VideoPlanner,
    idm: InverseDynamics,
    *,
    image_key: str = OBS_IMAGE,
    replan_every: int = ReplanRule.replan_every,
    sampling_steps: int | None = None,
    seed: int = 0,
    task_descriptions: TaskDescriptions = "metaworld",
    device: str | None = None,
) -> VideoPlannerPolicy:
    """The policy of `planner` and `idm`: its features are the IDM's state and action sizes and the planner's
    camera; its actions are clipped to the IDM's bounds (the robot's)."""
    config = VideoPlannerConfig(
        device=device,
        input_features={
            image_key: PolicyFeature(FeatureType.VISUAL, (3, planner.config.image_size, planner.config.image_size)),
            OBS_STATE: PolicyFeature(FeatureType.STATE, (idm.config.state_dim,)),
        },
        output_features={ACTION: PolicyFeature(FeatureType.ACTION, (idm.config.action_dim,))},
        image_key=image_key,
        image_size=planner.config.image_size,
        replan_every=replan_every,
        sampling_steps=sampling_steps,
        seed=seed,
        instructions=metaworld_instructions() if task_descriptions == "metaworld" else {},
        action_low=idm.config.action_low,
        action_high=idm.config.action_high,
    )
    config.validate_features()
    return VideoPlannerPolicy(config, planner=planner, idm=idm)


def export_policy(planner: str, idm: str, output: Path, **options) -> VideoPlannerPolicy:
    """Loads the planner and the IDM (directories or Hub ids) and writes their policy to `output` atomically;
    `options` are `build_policy`'s."""
    policy = build_policy(VideoPlanner.from_pretrained(planner), InverseDynamics.from_pretrained(idm), **options)
    with atomic_directory(Path(output)) as staging:
        policy.save_pretrained(staging)
    return policy

"""The `metaworld` robot type's config, registered with LeRobot's robot config registry (`--robot.type=metaworld`)."""

from dataclasses import dataclass

from lerobot.robots.config import RobotConfig

from foundation.errors import InputError
from robot_io.metaworld_tasks import MAX_EPISODE_STEPS, resolve_task, validate_camera


@RobotConfig.register_subclass("metaworld")
@dataclass(kw_only=True)
class MetaWorldRobotConfig(RobotConfig):
    task: str = "door-open"  # the MetaWorld task whose scene the arm works in
    camera: str = "corner"  # the MetaWorld camera the robot's one camera is
    image_size: int = 64  # the camera's square image, in pixels
    seed: int = 0  # the scene `connect` sets up; `reset_scene(seed)` sets up another
    max_episode_steps: int = MAX_EPISODE_STEPS  # the simulator's own step limit per scene

    def __post_init__(self):
        super().__post_init__()
        self.task = resolve_task(self.task)  # an unknown task is refused in one line, naming the closest
        validate_camera(self.camera)
        if self.image_size < 8 or not 1 <= self.max_episode_steps <= MAX_EPISODE_STEPS:
            raise InputError(
                f"metaworld robot: image_size must be >= 8 and max_episode_steps in [1, {MAX_EPISODE_STEPS}]; "
                f"got {self.image_size} and {self.max_episode_steps}"
            )

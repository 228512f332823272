"""How one robot episode is laid out in a LeRobotDataset: feature names, shapes and the frame rows.

Every dataset the project writes (expert demos, rollouts) uses these keys, so the planner and
inverse-dynamics loaders read them all the same way. Row t holds the observation before action t
and `next.success`, whether the task was solved right after it.
"""

from dataclasses import dataclass

import numpy as np

from robot_io.types import RobotFeatures

IMAGE_KEY = "observation.image"
STATE_KEY = "observation.state"
ENV_STATE_KEY = "observation.environment_state"
ACTION_KEY = "action"
SUCCESS_KEY = "next.success"
CAMERA_KEY = "camera"
SEED_KEY = "seed"
PLAN_IMAGE_KEY = "plan.target_image"  # rollouts only: the planned frame the policy was heading for


def episode_features(
    image_size: int, robot: RobotFeatures, with_plan_images: bool = False, with_outcomes: bool = True
) -> dict:
    """The LeRobotDataset feature spec of an episode of `robot` with square RGB frames of `image_size` pixels;
    rollouts of a planning agent also carry, per step, the planned frame it was heading for. Episodes of a
    robot that cannot tell success (a real arm) have no `next.success` column (`with_outcomes=False`)."""
    image = {"dtype": "video", "shape": (image_size, image_size, 3), "names": ["height", "width", "channels"]}
    plan = {PLAN_IMAGE_KEY: image} if with_plan_images else {}
    features = {
        IMAGE_KEY: image,
        STATE_KEY: {"dtype": "float32", "shape": (robot.state_dim,), "names": list(robot.state_names)},
        ENV_STATE_KEY: {"dtype": "float32", "shape": (robot.env_state_dim,), "names": None},
        ACTION_KEY: {"dtype": "float32", "shape": (robot.action_dim,), "names": list(robot.action_names)},
        SUCCESS_KEY: {"dtype": "bool", "shape": (1,), "names": None},
        CAMERA_KEY: {"dtype": "string", "shape": (1,), "names": None},
        SEED_KEY: {"dtype": "int64", "shape": (1,), "names": None},
    } | plan
    if not robot.env_state_dim:  # a real arm has no simulator state, and LeRobot cannot record a size-0 feature
        del features[ENV_STATE_KEY]
    if not with_outcomes:
        del features[SUCCESS_KEY]
    return features


@dataclass
class Episode:
    """One recorded episode, T control steps long."""

    images: np.ndarray  # (T, H, W, 3) uint8, observation before each action
    states: np.ndarray  # (T, S) float32
    env_states: np.ndarray  # (T, E) float32
    actions: np.ndarray  # (T, A) float32, the actions actually executed
    successes: np.ndarray | None  # (T,) bool, task solved right after each action; None: nobody can tell
    instruction: str
    camera: str
    seed: int
    plan_images: np.ndarray | None = None  # (T, H, W, 3) uint8, rollouts of a planning agent only

    @property
    def success(self) -> bool | None:
        return None if self.successes is None else bool(self.successes.any())

    def __len__(self) -> int:
        return len(self.actions)

    def frames(self):
        """The episode as LeRobotDataset frame dicts, in order."""
        for t in range(len(self)):
            plan = {} if self.plan_images is None else {PLAN_IMAGE_KEY: self.plan_images[t]}
            env_state = {ENV_STATE_KEY: self.env_states[t]} if self.env_states.shape[1] else {}
            outcome = {} if self.successes is None else {SUCCESS_KEY: self.successes[t : t + 1]}
            yield (
                plan
                | env_state
                | outcome
                | {
                    IMAGE_KEY: self.images[t],
                    STATE_KEY: self.states[t],
                    ACTION_KEY: self.actions[t],
                    CAMERA_KEY: self.camera,
                    SEED_KEY: np.array([self.seed], dtype=np.int64),
                    "task": self.instruction,
                }
            )

"""A LeRobot `Robot` as the daemon sees it: one camera image and a state vector in, an action vector out, with
the names and order taken from the robot's own features (never from one robot's constants).

    link = RobotLink.of(robot, camera="front")   # the only camera when None
    observation = link.observe()                 # None: a lost frame (no image, a bad image or state)
    link.send(np.array([...]))                   # one float per action name, in `action_names` order
"""

import logging
from dataclasses import dataclass

import numpy as np

from foundation.camera_image import MIN_IMAGE_SIZE, centre_square_image
from foundation.errors import InputError
from robot_io.types import Observation, RobotFeatures

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RobotLink:
    robot: object  # a connected `lerobot.robots.robot.Robot`
    camera: str
    state_names: tuple[str, ...]
    action_names: tuple[str, ...]

    @classmethod
    def of(cls, robot, camera: str | None = None) -> "RobotLink":
        """The link for `robot`: its float observation features are the state, its 3-d ones cameras."""
        observation = robot.observation_features
        cameras = [key for key, kind in observation.items() if isinstance(kind, tuple) and len(kind) == 3]
        if camera is None and len(cameras) != 1:
            raise InputError(f"the robot has cameras {cameras or 'none'}; name the one to plan from with --camera")
        if camera is not None and camera not in cameras:
            raise InputError(f"the robot has no camera {camera!r}; its cameras: {', '.join(cameras) or 'none'}")
        state_names = tuple(key for key, kind in observation.items() if kind is float)
        action_names = tuple(key for key, kind in robot.action_features.items() if kind is float)
        if not action_names:
            raise InputError(f"the robot {robot.name} declares no float action features; it cannot be driven")
        return cls(robot, camera or cameras[0], state_names, action_names)

    def features(self, fps: int, action_bounds: tuple[float, float]) -> RobotFeatures:
        """What a recording of this robot says about it."""
        return RobotFeatures(self.robot.name, fps, self.state_names, self.action_names, 0, action_bounds)

    def observe(self, instruction: str) -> Observation | None:
        """The robot's reading as an `Observation` with a square image, or None (logged) when it cannot be
        trusted: a missing or malformed camera frame, a missing or non-finite state value."""
        reading = self.robot.get_observation()
        image = np.asarray(reading.get(self.camera)) if self.camera in reading else None
        malformed = image is None or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3
        if malformed or min(image.shape[:2]) < MIN_IMAGE_SIZE:
            logger.warning("lost camera frame from %s: %s", self.camera, None if image is None else image.shape)
            return None
        try:
            state = np.array([reading[name] for name in self.state_names], dtype=np.float32)
        except (KeyError, TypeError, ValueError):
            logger.warning("state reading lacks or mangles one of %s", self.state_names)
            return None
        if not np.isfinite(state).all():
            logger.warning("non-finite state reading %s", state.tolist())
            return None
        return Observation(centre_square_image(image), state, instruction)

    def reset_scene(self, seed: int) -> None:
        """A fresh scene, for a robot that can set one up (the `metaworld` simulator); an arm cannot."""
        reset = getattr(self.robot, "reset_scene", None)
        if reset is None:
            raise InputError(f"a {self.robot.name} robot cannot reset its scene; set the scene up by hand")
        reset(seed)

    def send(self, action: np.ndarray) -> None:
        self.robot.send_action(dict(zip(self.action_names, map(float, action), strict=True)))

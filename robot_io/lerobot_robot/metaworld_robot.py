"""`MetaWorldRobot`: a MetaWorld scene behind LeRobot's Robot API (`connect`, `get_observation`, `send_action`,
features), so the daemon and LeRobot's tools drive the simulated Sawyer exactly as they drive an SO-101.

Observations are flat, as LeRobot robots give them: one float per state name (`hand_x`, ..., as
`robot_io.metaworld_env` names them) and the camera image under `camera`. Actions are one float per action
name. Beyond the Robot API, a simulator can do what an arm cannot: `reset_scene(seed)` puts a new scene in
front of it, and `last_success` holds the simulator's verdict for reports (never for a model to read).

The simulator lives in one thread of its own: its OpenGL (EGL) context may be current in one thread only, and
a daemon reads the robot from its control thread while others (a status page, a test) read it too.
"""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
from lerobot.robots.robot import Robot

from robot_io.lerobot_robot.config_metaworld_robot import MetaWorldRobotConfig
from robot_io.metaworld_env import METAWORLD_FEATURES, MetaWorldEnv
from robot_io.types import Observation

CAMERA = "camera"


class MetaWorldRobot(Robot):
    config_class = MetaWorldRobotConfig
    name = "metaworld"

    def __init__(self, config: MetaWorldRobotConfig):
        super().__init__(config)
        self.config = config
        self._sim_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="metaworld")
        self.env: MetaWorldEnv | None = None
        self._observation: Observation | None = None
        self.last_success = False

    @property
    def observation_features(self) -> dict:
        size = self.config.image_size
        return {name: float for name in METAWORLD_FEATURES.state_names} | {CAMERA: (size, size, 3)}

    @property
    def action_features(self) -> dict:
        return dict.fromkeys(METAWORLD_FEATURES.action_names, float)

    @property
    def is_connected(self) -> bool:
        return self.env is not None

    @property
    def is_calibrated(self) -> bool:
        return True  # a simulator needs no calibration

    def calibrate(self) -> None:
        return None

    def configure(self) -> None:
        return None

    def connect(self, calibrate: bool = True) -> None:
        if self.env is not None:
            raise RuntimeError(f"{self} is already connected")
        config = self.config
        self.env = self.in_sim_thread(
            MetaWorldEnv, config.task, config.camera, config.image_size, max_episode_steps=config.max_episode_steps
        )
        self.reset_scene(config.seed)

    def reset_scene(self, seed: int) -> None:
        """A fresh scene of the task, drawn from `seed` (the simulator's reset; an arm has none)."""
        self._observation = self.in_sim_thread(self._env().reset, seed)
        self.last_success = False

    def get_observation(self) -> dict:
        env, observation = self._env(), self._observation
        if observation.image is None:
            observation = Observation(self.in_sim_thread(env.render), observation.state, observation.instruction)
        state = dict(zip(METAWORLD_FEATURES.state_names, map(float, observation.state), strict=True))
        return state | {CAMERA: observation.image}

    def send_action(self, action: dict) -> dict:
        """Steps the simulator with `action` (one float per action name); returns the action as sent."""
        names = METAWORLD_FEATURES.action_names
        missing = [name for name in names if name not in action]
        if missing:
            raise ValueError(f"action lacks {', '.join(missing)}; a metaworld action has {', '.join(names)}")
        vector = np.array([action[name] for name in names], dtype=np.float32)
        result = self.in_sim_thread(self._env().step, vector)
        self._observation, self.last_success = result.observation, self.last_success or result.success
        return dict(zip(names, map(float, vector), strict=True))

    def disconnect(self) -> None:
        if self.env is not None:
            self.in_sim_thread(self.env.close)
        self.env, self._observation = None, None

    def in_sim_thread(self, function, *args, **kwargs):
        """Runs `function` on the simulator's own thread, after every call already queued there (MuJoCo's
        rendering context belongs to that thread; an oracle that rolls the simulator ahead must not interleave
        with `send_action`)."""
        return self._sim_thread.submit(function, *args, **kwargs).result()

    def _env(self) -> MetaWorldEnv:
        if self.env is None:
            raise RuntimeError(f"{self} is not connected; call connect() first")
        return self.env

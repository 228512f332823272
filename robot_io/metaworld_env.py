"""MetaWorld (v3) behind robot_io's Env contract, rendering through FastRenderer only when asked.

Object and goal positions are drawn from the seed given to `reset`, so a seed names one initial
scene: the same seed gives the same trajectory and frames for the same actions.
"""

import copy
import os
from dataclasses import dataclass

os.environ.setdefault("MUJOCO_GL", "egl")

import numpy as np  # noqa: E402
from metaworld.env_dict import ALL_V3_ENVIRONMENTS_GOAL_OBSERVABLE  # noqa: E402

from foundation.errors import InputError  # noqa: E402
from foundation.frames import resize_images  # noqa: E402
from robot_io.camera_projection import pixel_coordinates  # noqa: E402
from robot_io.fast_renderer import FastRenderer  # noqa: E402
from robot_io.metaworld_tasks import MAX_EPISODE_STEPS, MAX_RENDER_SCALE, env_id, instruction_for, resolve_task  # noqa: E402
from robot_io.types import Observation, RobotFeatures, StepResult  # noqa: E402

METAWORLD_FEATURES = RobotFeatures(
    robot_type="sawyer",
    fps=80,  # MetaWorld's render_fps: 5 physics substeps of 2.5 ms per env step
    state_names=("hand_x", "hand_y", "hand_z", "gripper_opening"),
    action_names=("delta_x", "delta_y", "delta_z", "gripper_effort"),
    env_state_dim=39,  # MetaWorld's goal-observable observation, for experts and oracles
)


# MetaWorld's observation (`env_state`): hand xyz [0:3], gripper opening [3], the first object's xyz [4:7], ...
OBJECT_POSITION = slice(4, 7)


@dataclass(frozen=True)
class EnvSnapshot:
    """Everything a MetaWorld episode's future depends on, taken by `MetaWorldEnv.snapshot()`."""

    data: object  # a copy of the task's mujoco.MjData
    attributes: dict  # the task env's Python attributes (path length, stacked previous observation, ...)
    steps: int
    env_state: np.ndarray


class MetaWorldEnv:
    """One MetaWorld task seen from one camera.

    `state` is the proprioception a real arm would also report (end-effector xyz and gripper opening);
    the full 39-dim simulator observation, which the scripted experts need, is `env_state`.

    With `render_scale` s > 1 the camera renders s·image_size pixels a side and is area-resized to image_size:
    the frames a model gets when it loads a dataset recorded at that larger size (smooth edges), instead of a
    direct, aliased render at image_size. `render_effects` draws shadows, reflections and the skybox, as
    gymnasium's `render()` (and so LeRobot's MetaWorld env) does; the recipes record without them.
    """

    features = METAWORLD_FEATURES

    def __init__(
        self,
        task: str,
        camera: str = "corner",
        image_size: int = 64,
        seed: int = 0,
        max_episode_steps: int = MAX_EPISODE_STEPS,
        render_scale: int = 1,
        render_effects: bool = False,
    ):
        if not 1 <= max_episode_steps <= MAX_EPISODE_STEPS:
            raise ValueError(f"max_episode_steps={max_episode_steps} must be in [1, {MAX_EPISODE_STEPS}]")
        if not 1 <= render_scale <= MAX_RENDER_SCALE:
            raise InputError(f"render_scale must be in [1, {MAX_RENDER_SCALE}], got {render_scale}")
        self.task = resolve_task(task)
        self.instruction = instruction_for(self.task)
        self.camera = camera
        self.image_size, self.render_scale = image_size, render_scale
        self.max_episode_steps = max_episode_steps
        env_cls = ALL_V3_ENVIRONMENTS_GOAL_OBSERVABLE[f"{env_id(self.task)}-goal-observable"]
        self._env = env_cls(seed=seed)
        self._env._freeze_rand_vec = False
        self._env.seeded_rand_vec = True
        rendered = image_size * render_scale
        self._renderer = FastRenderer(self._env.model, camera, rendered, rendered, effects=render_effects)
        self._seed = seed
        self._steps = 0
        self._env_state: np.ndarray | None = None

    def reset(self, seed: int | None = None, *, render: bool = True) -> Observation:
        """Starts an episode; `seed` (default: the constructor's, then the RNG stream) picks the scene."""
        if seed is None:
            seed, self._seed = self._seed, None
        if seed is not None:
            self._env.seed(seed)
        env_state, _ = self._env.reset()
        self._steps = 0
        return self._observe(env_state, render)

    def step(self, action: np.ndarray, *, render: bool = True) -> StepResult:
        """Applies a 4-dim action in [-1, 1] (xyz end-effector delta, gripper effort)."""
        if self._env_state is None:
            raise RuntimeError("call reset() before step()")
        if self._steps >= self.max_episode_steps:
            raise RuntimeError(f"episode already ran {self.max_episode_steps} steps; call reset()")
        action = np.asarray(action, dtype=np.float32)
        if action.shape != (self.features.action_dim,):
            raise ValueError(f"action must have shape ({self.features.action_dim},), got {action.shape}")
        env_state, _, _, _, info = self._env.step(action)
        self._steps += 1
        return StepResult(
            observation=self._observe(env_state, render),
            success=bool(info["success"]),
            truncated=self._steps >= self.max_episode_steps,
        )

    def snapshot(self) -> EnvSnapshot:
        """The episode's exact state: after `restore`, the same actions give bit-identical observations.
        Oracles use it to look ahead (roll the expert forward, render) and come back."""
        if self._env_state is None:
            raise RuntimeError("call reset() before snapshot()")
        shared = {"model", "data", "mujoco_renderer"}
        attributes = {k: copy.deepcopy(v) for k, v in vars(self._env).items() if k not in shared}
        return EnvSnapshot(copy.deepcopy(self._env.data), attributes, self._steps, self._env_state.copy())

    def restore(self, snapshot: EnvSnapshot) -> None:
        self._env.data = copy.deepcopy(snapshot.data)
        for key, value in snapshot.attributes.items():
            setattr(self._env, key, copy.deepcopy(value))
        self._steps, self._env_state = snapshot.steps, snapshot.env_state.copy()

    @property
    def steps(self) -> int:
        """Steps taken in the current episode."""
        return self._steps

    def render(self) -> np.ndarray:
        """The current camera image. # (H, W, 3) uint8"""
        image = self._renderer.render(self._env.data)  # (s·H, s·W, 3)
        return resize_images(image, self.image_size)

    def _observe(self, env_state: np.ndarray, render: bool) -> Observation:
        self._env_state = env_state
        return Observation(
            image=self.render() if render else None,
            state=env_state[: self.features.state_dim].astype(np.float32),
            instruction=self.instruction,
            env_state=env_state,
        )

    def pixel_coordinates(self, points: np.ndarray) -> np.ndarray:
        """Where world `points` (N, 3) appear in this env's camera image: (column, row) per point. # (N, 2)"""
        return pixel_coordinates(self._env.model, self._env.data, self.camera, points, self.image_size)

    def close(self) -> None:
        self._renderer.close()
        self._env.close()

    def __enter__(self) -> "MetaWorldEnv":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

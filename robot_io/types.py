"""The observation/step contract shared by every environment and robot behind robot_io."""

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class Observation:
    """What the agent sees at one control step.

    `image` is None on steps the caller chose not to render (rendering is the expensive part of a sim
    step). `env_state` is privileged simulator state for scripted experts and oracles; real robots
    leave it None.
    """

    image: np.ndarray | None  # (H, W, 3) uint8
    state: np.ndarray  # (S,) float32 proprioception
    instruction: str
    env_state: np.ndarray | None = field(default=None, repr=False)  # (E,) float64, simulation only


@dataclass(frozen=True)
class RobotFeatures:
    """What a recording or a model needs to know of a robot: its name, control rate, the names of its state and
    action dimensions, and the size of its privileged simulator state (0 on a real arm)."""

    robot_type: str
    fps: int
    state_names: tuple[str, ...]
    action_names: tuple[str, ...]
    env_state_dim: int = 0
    action_bounds: tuple[float, float] = (-1.0, 1.0)  # every action dimension lies in [low, high]

    @property
    def state_dim(self) -> int:
        return len(self.state_names)

    @property
    def action_dim(self) -> int:
        return len(self.action_names)


@dataclass(frozen=True)
class StepResult:
    """The outcome of one action: the next observation, task success, and whether the episode hit its limit."""

    observation: Observation
    success: bool
    truncated: bool


class Env(Protocol):
    """An episodic robot environment: MetaWorld in simulation, a LeRobot arm in the real world."""

    features: RobotFeatures

    def reset(self, seed: int | None = None, *, render: bool = True) -> Observation: ...

    def step(self, action: np.ndarray, *, render: bool = True) -> StepResult: ...

    def render(self) -> np.ndarray:
        """The current camera image, (H, W, 3) uint8."""
        ...

    def close(self) -> None: ...

"""Oracle plans: the frames the scripted expert would actually produce from the simulator's current state.

With these plans, closed-loop success measures the inverse-dynamics model and the executor alone: the
video model is taken out of the loop. Simulation only (it needs `snapshot`/`restore` and the expert).
"""

import time
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from foundation.errors import InputError
from robot_io.metaworld_env import MetaWorldEnv
from robot_io.metaworld_expert import expert_policy
from video_planner.model.protocols import VideoPlan


@dataclass(frozen=True)
class OracleConfig:
    """The oracle's `PlanShape`: the frames it renders ahead."""

    image_size: int
    num_future_frames: int
    frame_stride: int


@dataclass(frozen=True)
class Oracle:
    """The oracle chosen as an evaluation's planner, before any env exists (`vp eval --planner oracle`).
    Evaluation makes, for each env, the `OraclePlanner` that looks into it."""

    name: ClassVar[str] = "oracle"

    def planner_for(self, env: MetaWorldEnv, num_future_frames: int, frame_stride: int) -> "OraclePlanner":
        return OraclePlanner(env, num_future_frames, frame_stride)


class OraclePlanner:
    """A `Planner` whose plans are what the scripted expert would do next in this very simulator."""

    def __init__(self, env: MetaWorldEnv, num_future_frames: int = 7, frame_stride: int = 8):
        self.env = env
        self.expert = expert_policy(env.task)
        self.config = OracleConfig(env.image_size, num_future_frames, frame_stride)

    def plan(
        self,
        image: np.ndarray,
        instruction: str,
        *,
        seed: int | None = None,
        steps: int | None = None,
        guidance: float | None = None,
    ) -> VideoPlan:
        """Rolls the expert forward K·stride steps from the env's current state, renders every stride-th
        frame, and puts the env back exactly as it was. Frames after the expert succeeds (or the episode
        ends) repeat the last one, as training clips do. The oracle samples nothing: `steps` and `guidance`
        are refused."""
        if steps is not None or guidance is not None:
            raise InputError("the oracle planner takes no sampling steps or guidance: it replays the expert")
        start = time.perf_counter()
        snapshot = self.env.snapshot()
        env_state, frames = snapshot.env_state, []
        done = False
        for _ in range(self.config.num_future_frames):
            for _ in range(self.config.frame_stride):
                if done:
                    break
                result = self.env.step(self.expert.get_action(env_state), render=False)
                env_state = result.observation.env_state
                done = result.success or result.truncated
            frames.append(self.env.render())
        self.env.restore(snapshot)
        latency = time.perf_counter() - start
        return VideoPlan(np.stack(frames), image, instruction, "oracle", 0, 0.0, seed, latency)

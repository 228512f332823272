"""MetaWorld's scripted expert policies, looked up by task name."""

import warnings

import metaworld.policies
import numpy as np

from robot_io.episode_format import Episode
from robot_io.executor import Executor
from robot_io.metaworld_env import METAWORLD_FEATURES, MetaWorldEnv
from robot_io.metaworld_tasks import resolve_task

# The experts' proportional gains exceed the action range on purpose (the env clips); MetaWorld warns
# about it on every new call site, which says nothing a user can act on.
warnings.filterwarnings("ignore", message=r"Constant\(s\) may be too high", module="metaworld.policies")

# MetaWorld names a few policy classes differently from their tasks.
_POLICY_CLASS_OVERRIDES = {"peg-insert-side": "SawyerPegInsertionSideV3Policy"}


class ExpertPolicy:
    """A MetaWorld scripted expert that leaves its input alone: 44 of MetaWorld's policies shift object
    positions inside the observation they are given (`pos[0] -= 0.05`), which would corrupt the caller's
    recorded state and any later decision made from the same observation."""

    def __init__(self, policy):
        self._policy = policy

    def get_action(self, env_state: np.ndarray) -> np.ndarray:
        """The expert's 4-dim action for a 39-dim MetaWorld observation."""
        return self._policy.get_action(np.array(env_state, copy=True))


def expert_policy(task: str) -> ExpertPolicy:
    """The scripted expert for a task."""
    task = resolve_task(task)
    default = "Sawyer" + "".join(part.capitalize() for part in task.split("-")) + "V3Policy"
    return ExpertPolicy(getattr(metaworld.policies, _POLICY_CLASS_OVERRIDES.get(task, default))())


EXPLORATION_SEGMENT_STEPS = (4, 16)  # a random-action segment lasts this many steps (inclusive range)


class NoisyExpert:
    """The scripted expert of a task as a `Policy` the Executor runs, like any other.

    Each action gets Gaussian noise of `action_noise_std`; with `exploration_prob` > 0, each step may start a
    segment of uniformly random actions (4-16 steps) that pushes the arm off the expert's path, and the expert
    then recovers from wherever it ended up. Both are drawn from the episode's seed, and the action is clipped
    to [-1, 1]: it is the action executed and recorded."""

    def __init__(self, task: str, action_noise_std: float = 0.0, exploration_prob: float = 0.0):
        self.expert = expert_policy(task)
        self.action_noise_std, self.exploration_prob = action_noise_std, exploration_prob
        self.reset("")

    def reset(self, instruction: str, seed: int | None = None) -> None:
        self._rng = np.random.default_rng(seed)
        self._random_steps_left = 0

    def needs_image(self) -> bool:
        return False  # the expert reads the simulator state

    def act(self, observation) -> np.ndarray:
        rng = self._rng
        if self._random_steps_left == 0 and self.exploration_prob > 0 and rng.random() < self.exploration_prob:
            low, high = EXPLORATION_SEGMENT_STEPS
            self._random_steps_left = int(rng.integers(low, high + 1))
        if self._random_steps_left > 0:
            action = rng.uniform(-1.0, 1.0, size=METAWORLD_FEATURES.action_dim).astype(np.float32)
            self._random_steps_left -= 1
        else:
            action = self.expert.get_action(observation.env_state).astype(np.float32)
        if self.action_noise_std > 0:
            action = action + rng.normal(0.0, self.action_noise_std, size=action.shape).astype(np.float32)
        return np.clip(action, -1.0, 1.0)


def expert_episode(env: MetaWorldEnv, expert: NoisyExpert, seed: int) -> Episode:
    """One episode of `expert` from scene `seed`, run by the Executor until success or the step limit."""
    return Executor(env, expert, record_images=True).run(seed).to_episode(env.camera)

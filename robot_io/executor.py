"""Runs a policy on any robot_io environment, rendering only the frames the policy (or the recording) uses.

A policy is anything with `reset(instruction, seed)`, `needs_image() -> bool` and `act(observation) ->
action`; the Agent (planner + inverse dynamics) is one. An episode ends at the environment's step limit and,
with `stop_at_success` (AVDC's protocol, and what demos use), at the first success. Label-free runs switch it
off: an episode that stops at success tells a learner its outcome by its length alone. Every action passes
`robot_io.safety.checked_action` before the env sees it.
"""

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from robot_io.episode_format import Episode
from robot_io.safety import checked_action
from robot_io.types import Env, Observation


class Policy(Protocol):
    def reset(self, instruction: str, seed: int | None = None) -> None: ...

    def needs_image(self) -> bool: ...

    def act(self, observation: Observation) -> np.ndarray: ...


@dataclass
class Rollout:
    """One executed episode. `images` holds every step's camera frame when the executor records them."""

    instruction: str
    seed: int
    success: bool  # solved at some step (AVDC's measure; with stop_at_success, the last step)
    steps: int
    states: np.ndarray  # (T, S) float32, before each action
    actions: np.ndarray  # (T, A) float32, as executed
    successes: np.ndarray  # (T,) bool, solved right after each action
    env_states: np.ndarray | None  # (T, E) float32, simulation only
    images: np.ndarray | None  # (T, H, W, 3) uint8 when recorded
    seconds: dict[str, float] = field(default_factory=dict)  # render, physics

    def to_episode(self, camera: str, plan_images: np.ndarray | None = None) -> Episode:
        """The rollout in the dataset layout (needs recorded images and simulator state)."""
        if self.images is None or self.env_states is None:
            raise ValueError("only a rollout recorded with images and simulator state becomes an Episode")
        return Episode(
            self.images,
            self.states,
            self.env_states,
            self.actions,
            self.successes,
            self.instruction,
            camera,
            self.seed,
            plan_images,
        )


class Executor:
    def __init__(self, env: Env, policy: Policy, *, record_images: bool = False, stop_at_success: bool = True):
        self.env, self.policy, self.record_images = env, policy, record_images
        self.stop_at_success = stop_at_success

    def _observe(self, observation: Observation, seconds: dict) -> Observation:
        if not (self.record_images or self.policy.needs_image()):
            return observation
        start = time.perf_counter()
        image = self.env.render()
        seconds["render"] += time.perf_counter() - start
        return dataclasses.replace(observation, image=image)

    def run(self, seed: int) -> Rollout:
        seconds = {"render": 0.0, "physics": 0.0}
        start = time.perf_counter()
        observation = self.env.reset(seed, render=False)
        seconds["physics"] += time.perf_counter() - start
        self.policy.reset(observation.instruction, seed)
        states, actions, successes, env_states, images = [], [], [], [], []
        while True:
            observation = self._observe(observation, seconds)
            action = checked_action(self.policy.act(observation), self.env.features, f"step {len(actions)}")
            states.append(observation.state)
            actions.append(action)
            if observation.env_state is not None:
                env_states.append(observation.env_state.astype(np.float32))
            if self.record_images:
                images.append(observation.image)
            start = time.perf_counter()
            result = self.env.step(action, render=False)
            seconds["physics"] += time.perf_counter() - start
            successes.append(result.success)
            observation = result.observation
            if result.truncated or (result.success and self.stop_at_success):
                break
        return Rollout(
            instruction=observation.instruction,
            seed=seed,
            success=bool(any(successes)),
            steps=len(actions),
            states=np.stack(states),
            actions=np.stack(actions),
            successes=np.array(successes),
            env_states=np.stack(env_states) if env_states else None,
            images=np.stack(images) if images else None,
            seconds=seconds,
        )

"""No non-finite, misshapen or out-of-bounds action ever leaves the project, and no non-finite state enters it."""

import numpy as np
import pytest
import torch

from foundation.errors import InputError
from inverse_dynamics.config import InverseDynamicsConfig
from inverse_dynamics.model import InverseDynamics
from robot_io.executor import Executor
from robot_io.metaworld_env import METAWORLD_FEATURES, MetaWorldEnv
from robot_io.safety import UnsafeActionError, checked_action
from robot_io.types import Observation
from video_planner.control.agent import Agent
from video_planner.model.oracle_planner import OracleConfig
from video_planner.model.protocols import VideoPlan

BAD_VALUES = [np.nan, np.inf, -np.inf]
IDM_CONFIG = InverseDynamicsConfig(image_size=32, chunk_size=4, encoder_channels=(8, 16), hidden_dim=32)


def _image(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (32, 32, 3), dtype=np.uint8)  # (H, W, 3)


@pytest.mark.parametrize("position", range(4))
@pytest.mark.parametrize("value", BAD_VALUES)
def test_a_non_finite_action_in_any_position_is_refused(position, value):
    action = np.zeros(4, np.float32)
    assert checked_action(action, METAWORLD_FEATURES, "step 0").tolist() == [0, 0, 0, 0]  # a safe one passes
    action[position] = value
    with pytest.raises(UnsafeActionError, match="step 7: non-finite action .*nothing sent"):
        checked_action(action, METAWORLD_FEATURES, "step 7")


def test_misshapen_and_out_of_bounds_actions_are_refused():
    with pytest.raises(UnsafeActionError, match=r"action of shape \(3,\), expected \(4,\)"):
        checked_action(np.zeros(3), METAWORLD_FEATURES, "step 0")
    with pytest.raises(UnsafeActionError, match=r"outside \[-1.0, 1.0\]"):
        checked_action([0.0, 1.5, 0.0, 0.0], METAWORLD_FEATURES, "step 0")


class BrokenPolicy:
    """Acts sensibly, then emits NaN at step `bad_step`."""

    def __init__(self, bad_step: int):
        self.bad_step, self.steps = bad_step, 0

    def reset(self, instruction, seed=None):
        self.steps = 0

    def needs_image(self):
        return False

    def act(self, observation):
        self.steps += 1
        return np.full(4, np.nan if self.steps - 1 == self.bad_step else 0.1, np.float32)


def test_the_executor_sends_nothing_once_a_policy_emits_nan():
    with MetaWorldEnv("reach", "corner", image_size=32, max_episode_steps=20) as env:
        with pytest.raises(UnsafeActionError, match="step 3: non-finite action"):
            Executor(env, BrokenPolicy(bad_step=3)).run(seed=0)
        assert env.steps == 3  # steps 0-2 ran; the NaN of step 3 never reached the simulator


@pytest.mark.parametrize("position", range(4))
@pytest.mark.parametrize("value", BAD_VALUES)
def test_the_idm_refuses_a_non_finite_state_in_any_position(position, value):
    torch.manual_seed(0)
    idm = InverseDynamics(IDM_CONFIG).eval()
    state = np.zeros(4, np.float32)
    assert np.isfinite(idm.actions(_image(), state, _image(1))).all()
    state[position] = value
    with pytest.raises(InputError, match="is not finite; a sensor reading is broken"):
        idm.actions(_image(), state, _image(1))


def test_an_idm_with_broken_weights_emits_no_action():
    torch.manual_seed(0)
    idm = InverseDynamics(IDM_CONFIG).eval()
    idm.action_std.fill_(float("nan"))  # as a damaged normalisation would load
    with pytest.raises(UnsafeActionError, match="non-finite actions from finite inputs"):
        idm.actions(_image(), np.zeros(4, np.float32), _image(1))


class StillPlanner:
    config = OracleConfig(32, 3, 4)

    def plan(self, image, instruction, *, seed=None, steps=None, guidance=None):
        return VideoPlan(np.stack([image] * 3), image, instruction, "still", 0, 0.0, seed, 0.0)


def test_the_agent_refuses_a_non_finite_state_even_while_a_chunk_is_queued():
    torch.manual_seed(0)
    agent = Agent(StillPlanner(), InverseDynamics(IDM_CONFIG).eval())
    agent.reset("reach the goal", seed=0)
    observation = Observation(image=_image(), state=np.zeros(4, np.float32), instruction="reach the goal")
    agent.act(observation)  # plans and queues a chunk of 4 actions
    assert not agent.needs_image()
    with pytest.raises(InputError, match="is not finite"):
        agent.act(Observation(image=None, state=np.array([0, np.nan, 0, 0], np.float32), instruction="reach"))

"""Expected slices: a few numbers of a tiny planner's plan and a tiny IDM's actions, fixed on CPU.

A refactor that moves code must not change what the models compute; these tests fail loudly when it does.
The models are built from `torch.manual_seed(0)` (random weights) and fed fixed inputs. If a change is
meant to alter the numbers (a new sampler default, another layer), regenerate the values by printing the
same slices and say why in the commit message.
"""

import numpy as np
import pytest
import torch

from inverse_dynamics.config import InverseDynamicsConfig
from inverse_dynamics.model import InverseDynamics
from video_planner.model.planner import VideoPlanner

INSTRUCTION = "open the door"


@pytest.fixture
def planner(text_encoder, tiny_planner_config):
    torch.manual_seed(0)
    return VideoPlanner(tiny_planner_config, text_encoder=text_encoder).eval()


def scene() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)  # (H, W, 3)


def test_sampled_latents_match_the_expected_slice(planner):
    first = planner.encode_frames(torch.from_numpy(scene()).permute(2, 0, 1)[None])  # (1, C, h, w)
    predict = planner.guided_prediction([INSTRUCTION], guidance=2.0)
    generator = torch.Generator().manual_seed(3)
    latents = planner.sample(first, predict, steps=4, sampler="dpmsolver++", noise=[(1, generator)])  # (1, K, C, h, w)
    assert latents.shape == (1, 3, 4, 16, 16)
    expected = [0.67465, 1.14758, 0.63009, -0.08044, -1.18902, -0.42029, 0.17200, 0.66482]
    np.testing.assert_allclose(latents[0, -1, 0, 4, :8].numpy(), expected, atol=1e-4)


def test_plan_frames_match_the_expected_slice(planner):
    plan = planner.plan(scene(), INSTRUCTION, seed=3)
    assert plan.frames.shape == (3, 32, 32, 3)
    expected = [194, 148, 38, 227, 45, 235, 114, 255]
    np.testing.assert_allclose(plan.frames[-1, 14:16, 14:18, 0].flatten(), expected, atol=1)  # uint8 rounding
    assert abs(plan.frames.astype(float).mean() - 126.79) < 0.05


def test_inverse_dynamics_actions_match_the_expected_slice():
    torch.manual_seed(0)
    config = InverseDynamicsConfig(image_size=32, chunk_size=4, encoder_channels=(8, 16), hidden_dim=32)
    idm = InverseDynamics(config).eval()
    rng = np.random.default_rng(1)
    image, target = (rng.integers(0, 256, (32, 32, 3), dtype=np.uint8) for _ in range(2))
    actions = idm.actions(image, np.array([0.1, 0.6, 0.2, 0.5], dtype=np.float32), target)  # (k, A)
    expected = [
        [0.007967, 0.004983, -0.008313, 0.140852],
        [-0.010267, 0.000036, -0.041147, 0.018970],
        [0.036154, 0.107475, -0.023890, -0.165827],
        [0.176123, -0.034896, 0.102730, 0.212967],
    ]
    np.testing.assert_allclose(actions, expected, atol=1e-5)

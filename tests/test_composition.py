import dataclasses

import numpy as np
import pytest
import torch

from foundation.errors import InputError
from inverse_dynamics.config import InverseDynamicsConfig
from inverse_dynamics.model import InverseDynamics
from robot_io.types import Observation
from video_planner.control.agent import Agent
from video_planner.model.composition import ComposedPlanner
from video_planner.model.planner import VideoPlanner
from video_planner.model.protocols import Planner, Prior, missing_members


@pytest.fixture
def pair(text_encoder, tiny_planner_config):
    """An in-domain planner and a prior sharing its latent space, with different denoiser weights."""
    torch.manual_seed(0)
    in_domain = VideoPlanner(tiny_planner_config, text_encoder=text_encoder).eval()
    torch.manual_seed(1)
    prior = VideoPlanner(tiny_planner_config, text_encoder=text_encoder).eval()
    prior.autoencoder.load_state_dict(in_domain.autoencoder.state_dict())
    return in_domain, prior


def _inputs(planner):
    generator = torch.Generator().manual_seed(0)
    noisy = torch.randn(2, 3, 4, 16, 16, generator=generator)  # (B, K, C, h, w)
    first = torch.randn(2, 4, 16, 16, generator=generator)  # (B, C, h, w)
    text, mask = planner.text_encoder(["open the door"] * 2)
    return noisy, first, text, mask


@pytest.mark.parametrize("mode", ["pa", "ipa"])
def test_composition_equals_the_formula(pair, mode):
    in_domain, prior = pair
    noisy, first, text, mask = _inputs(in_domain)
    alpha, gamma = 2.5, 0.3
    with torch.no_grad():
        composed = ComposedPlanner(in_domain, prior, mode, alpha, gamma).guided_prediction(["open the door"] * 2, alpha)
        got = composed(noisy, 700, first)
        # guidance 1 is the conditional prediction, guidance 0 the unconditional one
        cond = {m: m.predict(noisy, 700, first, text, mask, 1.0) for m in (in_domain, prior)}
        null = {m: m.predict(noisy, 700, first, text, mask, 0.0) for m in (in_domain, prior)}
    lead, other = (in_domain, prior) if mode == "pa" else (prior, in_domain)
    expected = null[lead] + alpha * (cond[lead] + gamma * cond[other] - null[lead])
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    assert not torch.allclose(cond[in_domain], cond[prior])  # the two denoisers really differ


def test_pa_without_prior_strength_is_the_plain_planner(pair):
    """PA with γ = 0 is the in-domain planner with guidance α: the same plan, bit for bit."""
    in_domain, prior = pair
    image = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    composed = ComposedPlanner(in_domain, prior, "pa", guidance=2.5, prior_strength=0.0)
    plain = in_domain.plan(image, "open the door", seed=2, guidance=2.5)
    plan = composed.plan(image, "open the door", seed=2)
    np.testing.assert_array_equal(plan.frames, plain.frames)
    with_prior = ComposedPlanner(in_domain, prior, "pa", guidance=2.5, prior_strength=0.5)
    assert not np.array_equal(with_prior.plan(image, "open the door", seed=2).frames, plain.frames)


def test_refuses_a_prior_with_another_noise_schedule(pair, text_encoder):
    in_domain, _ = pair
    other = VideoPlanner(dataclasses.replace(in_domain.config, beta_schedule="linear"), text_encoder=text_encoder)
    with pytest.raises(InputError, match="beta_schedule is 'linear'.*'squaredcos_cap_v2'"):
        ComposedPlanner(in_domain, other)


def test_refuses_a_prior_with_another_autoencoder(text_encoder, tiny_planner_config):
    torch.manual_seed(0)
    in_domain = VideoPlanner(tiny_planner_config, text_encoder=text_encoder)
    torch.manual_seed(1)
    prior = VideoPlanner(tiny_planner_config, text_encoder=text_encoder)
    with pytest.raises(InputError, match="autoencoder weight .* differs.*--init-from a planner prior"):
        ComposedPlanner(in_domain, prior)


def test_bad_mode_refused_and_guidance_is_the_compositions_alpha(pair):
    in_domain, prior = pair
    with pytest.raises(InputError, match="unknown composition mode 'mix'; valid: pa, ipa"):
        ComposedPlanner(in_domain, prior, mode="mix")
    composed = ComposedPlanner(in_domain, prior, mode="ipa")
    assert (composed.guidance, composed.prior_strength) == (2.5, 0.5)
    assert isinstance(composed, Planner) and missing_members(prior, Prior) == []
    assert composed.config is in_domain.config
    with pytest.raises(InputError, match="cannot compose with a object: it has no autoencoder, branches, config, "):
        ComposedPlanner(in_domain, object())
    image = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    default = composed.plan(image, "open the door", seed=1)
    assert default.guidance == 2.5
    stronger = composed.plan(image, "open the door", seed=1, guidance=3.0)
    assert stronger.guidance == 3.0 and not np.array_equal(stronger.frames, default.frames)


def test_an_agent_plans_through_the_composition(pair):
    in_domain, prior = pair
    composed = ComposedPlanner(in_domain, prior, "ipa", guidance=3.0)
    idm = InverseDynamics(InverseDynamicsConfig(image_size=32, chunk_size=4, encoder_channels=(8, 16), hidden_dim=16))
    agent = Agent(composed, idm)
    agent.reset("open the door", seed=1)
    image = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    agent.act(Observation(image=image, state=np.zeros(4, np.float32), instruction="open the door"))
    plan = agent.log.plans[0].plan
    assert plan.guidance == 3.0
    np.testing.assert_array_equal(plan.frames, composed.plan(image, "open the door", seed=1000).frames)

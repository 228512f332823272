"""An AnimateDiff-style diffusers pipeline as a composition prior, with tiny randomly initialised models
built from configs and saved in the layouts the Hub uses (no weights can be downloaded here)."""

import dataclasses

import numpy as np
import pytest
import torch
from diffusers import AutoencoderKL, DDIMScheduler, MotionAdapter, StableDiffusionPipeline, UNet2DConditionModel

from foundation.errors import InputError
from video_planner.model.composition import ComposedPlanner
from video_planner.model.config import AutoencoderConfig
from video_planner.model.diffusers_prior import DiffusersVideoPrior
from video_planner.model.loading import load_planner
from video_planner.model.planner import VideoPlanner
from video_planner.model.planner_source import PlannerSource
from video_planner.model.protocols import Prior, missing_members

CHANNELS = (32, 64)


@pytest.fixture(scope="module")
def hub(tmp_path_factory, tiny_clip_text_model):
    """Directories laid out as a Stable Diffusion repo, an AnimateDiff motion adapter and a VAE repo."""
    root = tmp_path_factory.mktemp("hub")
    torch.manual_seed(0)
    vae = AutoencoderKL(
        block_out_channels=(8, 8, 8, 8),
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        latent_channels=4,
        norm_num_groups=8,
    )
    text_encoder, tokenizer = tiny_clip_text_model(77)
    unet = UNet2DConditionModel(
        sample_size=4,
        block_out_channels=CHANNELS,
        layers_per_block=1,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=32,
        attention_head_dim=8,
    )
    scheduler = DDIMScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False, steps_offset=1
    )
    StableDiffusionPipeline(
        vae, text_encoder, tokenizer, unet, scheduler, None, None, requires_safety_checker=False
    ).save_pretrained(root / "sd")
    adapter = MotionAdapter(
        block_out_channels=CHANNELS, motion_layers_per_block=1, motion_num_attention_heads=2, motion_norm_num_groups=32
    )
    adapter.save_pretrained(root / "adapter")
    vae.save_pretrained(root / "vae")
    return root


@pytest.fixture(scope="module")
def prior(hub):
    return DiffusersVideoPrior.from_pretrained(
        str(hub / "sd"), str(hub / "adapter"), image_size=32, num_future_frames=3
    )


@pytest.fixture(scope="module")
def planner(hub, tiny_planner_config, text_encoder):
    """An in-domain planner in AnimateDiff's latent space and noise schedule (as the gpu-animatediff preset)."""
    config = dataclasses.replace(
        tiny_planner_config,
        autoencoder=AutoencoderConfig(pretrained=str(hub / "vae"), normalization="scaling_factor"),
        beta_schedule="linear",
        beta_start=0.00085,
        beta_end=0.012,
        prediction_type="epsilon",
    )
    torch.manual_seed(0)
    return VideoPlanner(config, text_encoder=text_encoder).eval()


def _inputs(planner):
    generator = torch.Generator().manual_seed(0)
    noisy = torch.randn(2, 3, 4, 4, 4, generator=generator)  # (B, K, C, h, w)
    first = torch.randn(2, 4, 4, 4, generator=generator)  # (B, C, h, w)
    return noisy, first


def test_the_prior_conditions_on_the_first_frame_and_predicts_the_future_frames(prior):
    noisy, first = _inputs(prior)
    text, mask = prior.text_encoder(["open the door"] * 2)
    assert text.shape == (2, 77, 32) and bool(mask.all())
    conditional, null = prior.branches(noisy, 500, first, text, mask, unconditional=True)
    assert conditional.shape == null.shape == noisy.shape
    assert not torch.equal(conditional, null)  # the prompt matters
    other_first, _ = prior.branches(noisy, 500, first + 1.0, text, mask, unconditional=False)
    assert not torch.allclose(other_first, conditional)  # so does the conditioning frame
    again, _ = prior.branches(noisy, 500, first, text, mask, unconditional=False)
    torch.testing.assert_close(again, conditional)  # the replacement noise is fixed per timestep


def test_ipa_with_an_animatediff_prior_equals_the_formula_and_plans(planner, prior):
    composed = ComposedPlanner(planner, prior, mode="ipa", guidance=2.5, prior_strength=0.5)
    noisy, first = _inputs(planner)
    with torch.no_grad():
        got = composed.guided_prediction(["open the door"] * 2, 2.5)(noisy, 500, first)
        p_text, p_null = prior.branches(
            noisy, 500, first, *prior.text_encoder(["open the door"] * 2), unconditional=True
        )
        ours, _ = planner.branches(noisy, 500, first, *planner.text_encoder(["open the door"] * 2), unconditional=False)
    torch.testing.assert_close(got, p_null + 2.5 * (p_text + 0.5 * ours - p_null))
    plan = composed.plan(np.zeros((48, 48, 3), np.uint8), "open the door", seed=0, steps=3)
    assert plan.frames.shape == (3, 32, 32, 3)


def test_a_planner_on_another_schedule_or_missing_weights_are_refused(hub, prior, tiny_planner_config, text_encoder):
    cosine = VideoPlanner(tiny_planner_config, text_encoder=text_encoder)
    with pytest.raises(InputError, match="prior's beta_schedule is 'linear' but the in-domain planner's is 'squared"):
        ComposedPlanner(cosine, prior)
    with pytest.raises(InputError, match="cannot load the AnimateDiff prior .*missing"):
        DiffusersVideoPrior.from_pretrained(str(hub / "sd"), str(hub / "missing"), image_size=32, num_future_frames=3)


def test_load_planner_composes_with_a_motion_adapter(hub, planner, tmp_path):
    planner.save_pretrained(tmp_path / "planner")
    source = PlannerSource(
        planner=str(tmp_path / "planner"), prior=str(hub / "sd"), prior_motion_adapter=str(hub / "adapter"), mode="pa"
    )
    composed = load_planner(source)
    assert composed.mode == "pa"
    assert isinstance(composed.prior, DiffusersVideoPrior) and composed.prior.config.num_future_frames == 3
    assert missing_members(composed.prior, Prior) == []  # the seam composition relies on


def test_training_in_animatediff_latents_uses_the_vae_scaling_factor(planner, two_episode_dataset, tmp_path):
    from video_planner.training.train import PlannerTrainer
    from video_planner.training.train_config import TrainConfig

    train = TrainConfig(datasets=(str(two_episode_dataset),), steps=1, batch_size=2, warmup_steps=0)
    trained = VideoPlanner.from_pretrained(PlannerTrainer(planner.config, train, tmp_path, show_progress=False).run())
    assert not trained.latent_shift.any()
    torch.testing.assert_close(trained.latent_scale, torch.full((4,), 0.18215))
    with pytest.raises(InputError, match="invalid autoencoder.normalization = 'scaling_factor'"):
        dataclasses.replace(planner.config, autoencoder=AutoencoderConfig(normalization="scaling_factor"))

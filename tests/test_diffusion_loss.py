"""The motion-weighted objective: an error where the clip moves costs more than the same error where it stands
still, the weights keep the loss's scale, and a zero weight is the plain objective."""

import dataclasses

import pytest
import torch

from video_planner.model.config import preset
from video_planner.model.planner import training_scheduler
from video_planner.training.diffusion_loss import diffusion_loss, motion_weights


def clip_with_one_moving_pixel() -> tuple[torch.Tensor, torch.Tensor]:
    """First latents and K = 3 future latents in which only pixel (2, 2) changes. # (1, C, h, w), (1, K, C, h, w)"""
    first = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(0))
    future = first[:, None].repeat(1, 3, 1, 1, 1)
    future[:, :, :, 2, 2] += 1.0
    return first, future


def test_motion_weights_favour_what_moves_and_average_one():
    first, future = clip_with_one_moving_pixel()
    weights = motion_weights(future, first, strength=2.0)  # (1, K, 1, h, w)
    assert weights.shape == (1, 3, 1, 8, 8)
    assert weights.mean().item() == pytest.approx(1.0)
    assert weights[0, :, 0, 2, 2].min() > 10 * weights[0, :, 0, 0, 0].max()


@pytest.mark.parametrize("strength", [0.0, 2.0])
def test_an_error_where_the_clip_moves_costs_more_only_with_motion_weight(strength):
    config = dataclasses.replace(preset("cpu"), prediction_type="epsilon", snr_gamma=None, motion_weight=strength)
    scheduler = training_scheduler(config)
    first, future = clip_with_one_moving_pixel()
    noise, timesteps = torch.zeros_like(future), torch.tensor([10])

    def loss_with_error_at(row: int, column: int) -> float:
        prediction = noise.clone()
        prediction[:, :, :, row, column] += 0.5
        return diffusion_loss(config, scheduler, prediction, future, noise, timesteps, first).item()

    moving, still = loss_with_error_at(2, 2), loss_with_error_at(5, 5)
    assert moving > 5 * still if strength else moving == pytest.approx(still)


def test_a_motion_weighted_loss_without_first_latents_is_refused():
    config = dataclasses.replace(preset("cpu"), motion_weight=1.0)
    first, future = clip_with_one_moving_pixel()
    with pytest.raises(ValueError, match="needs the clips' first latents"):
        diffusion_loss(config, training_scheduler(config), future, future, future, torch.tensor([10]))

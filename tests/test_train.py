from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from training_runs import trainer_state

from foundation.errors import InputError
from video_planner.model.planner import VideoPlanner
from video_planner.training.train import PlannerTrainer
from video_planner.training.train_config import TrainConfig


def seconds_long_run(dataset: Path, **overrides) -> TrainConfig:
    """A planner run of a few steps at batch 2."""
    values = {
        "steps": 2,
        "autoencoder_steps": 3,
        "batch_size": 2,
        "autoencoder_batch_size": 4,
        "checkpoint_every": 2,
        "sample_every": 2,
    }
    return TrainConfig(datasets=(str(dataset),), **values | overrides)


def test_resume_refuses_a_changed_config(tmp_path, tiny_planner_config, two_episode_dataset):
    config = seconds_long_run(two_episode_dataset, autoencoder_steps=2, autoencoder_batch_size=2, checkpoint_every=1)
    checkpoint = PlannerTrainer(tiny_planner_config, config, tmp_path / "run", show_progress=False).run()
    assert VideoPlanner.from_pretrained(checkpoint).trained_tasks == ("button-press-topdown",)  # what it saw
    with pytest.raises(InputError, match="already holds a training run; pass --resume"):
        PlannerTrainer(tiny_planner_config, config, tmp_path / "run", show_progress=False)
    changed = TrainConfig(**{**config.__dict__, "learning_rate": 1e-3})
    with pytest.raises(InputError, match="training config learning_rate changed since it was started"):
        PlannerTrainer(tiny_planner_config, changed, tmp_path / "run", resume=True, show_progress=False)
    other_planner = tiny_planner_config.__class__(**{**tiny_planner_config.__dict__, "frame_stride": 2})
    with pytest.raises(InputError, match="planner config frame_stride changed since it was started"):
        PlannerTrainer(other_planner, config, tmp_path / "run", resume=True, show_progress=False)
    longer = TrainConfig(**{**config.__dict__, "steps": 3})
    PlannerTrainer(tiny_planner_config, longer, tmp_path / "run", resume=True, show_progress=False).run()
    assert len(trainer_state(tmp_path / "run")["losses"]["denoiser"]) == 3
    with pytest.raises(InputError, match="nothing to resume"):
        PlannerTrainer(tiny_planner_config, config, tmp_path / "fresh", resume=True, show_progress=False)


def test_pretrained_autoencoder_skips_its_stage_and_is_referenced_not_copied(
    tmp_path, tiny_planner_config, two_episode_dataset
):
    """The gpu preset's path: a pretrained AutoencoderKL (here a tiny random one saved locally, as a Hub
    download would be) with 8x downsampling; only the denoiser trains and the checkpoint points at the VAE."""
    from dataclasses import replace

    from video_planner.model.config import AutoencoderConfig
    from video_planner.model.networks import build_autoencoder

    vae_dir = tmp_path / "tiny-vae"
    build_autoencoder(AutoencoderConfig(block_out_channels=(8, 8, 16, 16))).save_pretrained(vae_dir)
    config = replace(tiny_planner_config, autoencoder=AutoencoderConfig(pretrained=str(vae_dir)))
    assert config.latent_size == 4
    train = TrainConfig(
        datasets=(str(two_episode_dataset),),
        steps=3,
        autoencoder_steps=50,
        batch_size=2,
        checkpoint_every=3,
        sample_every=3,
    )
    checkpoint = PlannerTrainer(config, train, tmp_path / "run", show_progress=False).run()
    state = trainer_state(tmp_path / "run")
    assert state["losses"]["autoencoder"] == [] and len(state["losses"]["denoiser"]) == 3
    assert not (checkpoint / "autoencoder").exists()
    planner = VideoPlanner.from_pretrained(checkpoint)
    assert planner.plan(np.zeros((32, 32, 3), np.uint8), "open the door", seed=0).frames.shape == (3, 32, 32, 3)


def test_init_from_keeps_the_latent_space_and_trains_a_fresh_denoiser(
    tmp_path, tiny_planner_config, two_episode_dataset
):
    from dataclasses import replace

    from video_planner.model.config import AutoencoderConfig

    base = seconds_long_run(two_episode_dataset)
    source = PlannerTrainer(tiny_planner_config, base, tmp_path / "source", show_progress=False).run()
    epsilon = replace(tiny_planner_config, prediction_type="epsilon")
    derived = replace(base, init_from=str(source))
    checkpoint = PlannerTrainer(epsilon, derived, tmp_path / "derived", show_progress=False).run()
    state = trainer_state(tmp_path / "derived")
    assert state["losses"]["autoencoder"] == [] and len(state["losses"]["denoiser"]) == 2
    a, b = VideoPlanner.from_pretrained(source), VideoPlanner.from_pretrained(checkpoint)
    assert torch.equal(a.latent_shift, b.latent_shift) and torch.equal(a.latent_scale, b.latent_scale)
    for name, tensor in a.autoencoder.state_dict().items():
        assert torch.equal(tensor, b.autoencoder.state_dict()[name]), name

    wider = replace(tiny_planner_config, autoencoder=AutoencoderConfig(block_out_channels=(8, 32)))
    with pytest.raises(InputError, match="its autoencoder differs"):
        PlannerTrainer(wider, derived, tmp_path / "mismatch", show_progress=False)


def test_finetune_starts_the_denoiser_from_the_given_planner(tmp_path, tiny_planner_config, two_episode_dataset):
    from dataclasses import replace

    base = seconds_long_run(two_episode_dataset)
    source = PlannerTrainer(tiny_planner_config, base, tmp_path / "source", show_progress=False).run()
    tuned = replace(base, steps=1, checkpoint_every=1, sample_every=1, init_from=str(source), finetune=True)
    PlannerTrainer(tiny_planner_config, tuned, tmp_path / "tuned", show_progress=False).run()
    start = VideoPlanner.from_pretrained(source).denoiser.state_dict()
    after_one_step = load_file(tmp_path / "tuned" / "checkpoint" / "training_state" / "denoiser.safetensors")
    assert max((after_one_step[k] - v).abs().max().item() for k, v in start.items()) < 1e-2
    fresh = VideoPlanner(tiny_planner_config).denoiser.state_dict()
    assert max((fresh[k] - v).abs().max().item() for k, v in start.items()) > 1e-1

    epsilon = replace(tiny_planner_config, prediction_type="epsilon")
    with pytest.raises(InputError, match="its prediction_type differs.*fine-tune with --config"):
        PlannerTrainer(epsilon, tuned, tmp_path / "mismatch", show_progress=False)
    with pytest.raises(InputError, match="finetune needs init_from"):
        replace(base, finetune=True)


def test_a_run_continued_from_its_checkpoint_repeats_the_uninterrupted_losses(
    tmp_path, tiny_planner_config, two_episode_dataset
):
    """The default suite's short version of test_train_sigkill.py: stopping after each stage's first checkpoint
    and resuming gives the uninterrupted run's losses and weights, bit for bit."""
    whole = seconds_long_run(two_episode_dataset, steps=4, autoencoder_steps=4)
    PlannerTrainer(tiny_planner_config, whole, tmp_path / "straight", show_progress=False).run()
    first = seconds_long_run(two_episode_dataset, steps=2, autoencoder_steps=4)
    PlannerTrainer(tiny_planner_config, first, tmp_path / "continued", show_progress=False).run()
    PlannerTrainer(tiny_planner_config, whole, tmp_path / "continued", resume=True, show_progress=False).run()
    expected, resumed = trainer_state(tmp_path / "straight"), trainer_state(tmp_path / "continued")
    assert resumed["losses"] == expected["losses"] and len(expected["losses"]["denoiser"]) == 4
    weights_a = load_file(tmp_path / "straight" / "checkpoint" / "model.safetensors")
    weights_b = load_file(tmp_path / "continued" / "checkpoint" / "model.safetensors")
    assert all(torch.equal(weights_a[k], weights_b[k]) for k in weights_a)

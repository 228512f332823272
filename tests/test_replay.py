"""Replay in fine-tuning: the demos' share of each batch, rollout clips paced to the demos, and the trainers
keeping the own episodes and the replayed ones apart."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from foundation.errors import InputError
from foundation.replay import draw_rows, paced_strides
from inverse_dynamics.config import InverseDynamicsConfig
from inverse_dynamics.samples import load_chunk_samples
from inverse_dynamics.train_config import IDMTrainConfig
from robot_io.collect import collect
from video_planner.cli import _flag_values, build_parser
from video_planner.training.train import PlannerTrainer
from video_planner.training.train_config import TrainConfig


@pytest.fixture(scope="module")
def door_dataset(tmp_path_factory, tiny_recipe):
    """Two door-open demos (about 87 frames each, longer than the button-press ones)."""
    root = tmp_path_factory.mktemp("datasets") / "door"
    collect(replace(tiny_recipe, name="door", tasks=("door-open",)), root, show_progress=False)
    return root


def test_draw_rows_takes_the_replay_share_from_the_replay_part():
    rows = draw_rows(10, 1000, 20_000, 0.25, torch.Generator().manual_seed(0))  # own rows 0..9, replay 10..1009
    from_replay = rows >= 10
    assert abs(from_replay.mean() - 0.25) < 0.02
    assert rows.max() < 1010 and set(rows[~from_replay]) == set(range(10))


def test_without_replay_the_rows_are_the_plain_uniform_draw():
    """Runs started before replay existed resume with the same batches."""
    rows = draw_rows(50, 0, 8, 0.5, torch.Generator().manual_seed(3))
    np.testing.assert_array_equal(rows, torch.randint(50, (8,), generator=torch.Generator().manual_seed(3)).numpy())


def test_paced_strides_scale_with_episode_length_over_the_mean_demo():
    np.testing.assert_array_equal(paced_strides(np.array([140, 70, 10]), np.array([60, 80]), 8), [16, 8, 1])


def test_planner_clips_of_own_episodes_come_first_paced_to_the_replayed_demos(
    tmp_path, tiny_planner_config, two_episode_dataset, door_dataset
):
    config = TrainConfig(
        datasets=(str(door_dataset),), replay=(str(two_episode_dataset),), match_replay_pace=True, steps=1
    )
    trainer = PlannerTrainer(tiny_planner_config, config, tmp_path / "run", show_progress=False)
    clips, own_clips = trainer.training_clips()
    clip_index, instructions = clips.index, clips.instructions
    lengths, stride = trainer.bank.lengths, tiny_planner_config.frame_stride
    assert trainer.own_episodes == 2 and len(lengths) == 4
    strides = paced_strides(lengths[:2], lengths[2:], stride)
    assert (strides > stride).any()  # the door demos are the slower ones
    clips_per_episode = lengths[:2] - strides
    assert own_clips == sum(clips_per_episode)
    assert set(instructions[:own_clips]) == {"open the door"}
    assert set(instructions[own_clips:]) == {"press the button from the top"}
    steps = clip_index[:, 1] - clip_index[:, 0]  # (M,) first frame to first future frame
    np.testing.assert_array_equal(steps[:own_clips], np.repeat(strides, clips_per_episode))
    assert set(steps[own_clips:]) == {stride}  # the replayed demos keep the config's stride

    with pytest.raises(InputError, match="match_replay_pace needs replay datasets"):
        replace(config, replay=())
    with pytest.raises(InputError, match="replay_fraction must lie in \\(0, 1\\), got 0.0"):
        replace(config, replay_fraction=0.0)


def test_idm_chunks_of_own_episodes_come_first(two_episode_dataset, door_dataset):
    config = InverseDynamicsConfig(image_size=32, chunk_size=4)
    own = load_chunk_samples([door_dataset], config, show_progress=False)
    mixed = load_chunk_samples([door_dataset], config, show_progress=False, replay=[two_episode_dataset])
    assert mixed.own_rows == own.own_rows == len(own) < len(mixed)
    np.testing.assert_array_equal(mixed.frame_index[: mixed.own_rows], own.frame_index)


def test_replay_flags_repeat_into_a_tuple():
    args = build_parser().parse_args(
        ["train-idm", "--dataset", "kept", "--replay", "a", "--replay", "b,c", "--output", "out"]
    )
    assert args.replay == ["a", "b", "c"]
    assert _flag_values(args, IDMTrainConfig)["replay"] == ("a", "b", "c")

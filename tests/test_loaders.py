import shutil

import numpy as np
import pytest
import torch

from foundation.errors import InputError
from robot_io.dataset_io import open_dataset, read_episodes
from robot_io.episode_format import ACTION_KEY, IMAGE_KEY, STATE_KEY
from robot_io.frame_bank import ActionChunks, FrameBank, PlannerClips


@pytest.fixture(scope="module")
def episode0(two_episode_dataset):
    """All frames, states and actions of episode 0, decoded by LeRobot. # frames: (T, 3, H, W) uint8"""
    dataset = open_dataset(two_episode_dataset)
    length = dataset.meta.episodes[0]["length"]
    items = [dataset[t] for t in range(length)]
    return {
        "frames": torch.stack([i[IMAGE_KEY] for i in items]),
        "states": torch.stack([i[STATE_KEY] for i in items]),
        "actions": torch.stack([i[ACTION_KEY] for i in items]),
        "task": items[0]["task"],
    }


@pytest.fixture(scope="module")
def bank(two_episode_dataset) -> FrameBank:
    return FrameBank.load(two_episode_dataset, image_size=64, show_progress=False)


def test_planner_clips_have_k_future_frames_at_stride(two_episode_dataset, episode0, bank):
    clips = PlannerClips(bank, num_future_frames=3, stride=5)
    length = len(episode0["frames"])
    clip = clips[2]
    assert (clip["episode_index"], clip["frame_index"]) == (0, 2)
    assert clip["first_frame"].shape == (3, 64, 64) and clip["first_frame"].dtype == torch.uint8
    assert clip["future_frames"].shape == (3, 3, 64, 64)
    assert torch.equal(clip["first_frame"], episode0["frames"][2])
    assert torch.equal(clip["future_frames"], episode0["frames"][[7, 12, 17]])
    assert not clip["future_is_pad"].any()
    assert clip["instruction"] == episode0["task"]

    last_start = length - 1 - 5  # the last clip start that still has one real future frame
    tail = clips[last_start]
    assert tail["frame_index"] == last_start and tail["future_is_pad"].tolist() == [False, True, True]
    assert torch.equal(tail["future_frames"][1], episode0["frames"][-1])
    assert clips[last_start + 1]["episode_index"] == 1
    assert len(clips) == sum(n - 5 for n in open_dataset(two_episode_dataset).meta.episodes["length"])


def test_idm_samples_pair_frames_with_the_actions_between(episode0, bank):
    samples = ActionChunks(bank, chunk_size=4)
    sample = samples[10]
    assert (sample["episode_index"], sample["frame_index"]) == (0, 10)
    assert torch.equal(sample["frame"], episode0["frames"][10])
    assert torch.equal(sample["target_frame"], episode0["frames"][14])
    assert torch.equal(sample["state"], episode0["states"][10])
    assert sample["actions"].shape == (4, 4)
    assert torch.equal(sample["actions"], episode0["actions"][10:14])


def test_decord_reads_the_same_frames_as_lerobot(two_episode_dataset, bank):
    via_lerobot = FrameBank.load(two_episode_dataset, image_size=64, show_progress=False, backend="lerobot")
    assert torch.equal(via_lerobot.frames, bank.frames)
    np.testing.assert_array_equal(via_lerobot.states, bank.states)
    np.testing.assert_array_equal(via_lerobot.actions, bank.actions)


def test_resize_to_planner_resolution(two_episode_dataset, episode0):
    small = FrameBank.load(two_episode_dataset, image_size=32, show_progress=False)
    clip = PlannerClips(small, num_future_frames=2, stride=2)[0]
    assert clip["future_frames"].shape == (2, 3, 32, 32)
    expected = episode0["frames"][0].float().reshape(3, 32, 2, 32, 2).mean((2, 4))
    assert (clip["first_frame"].float() - expected).abs().max() <= 0.5


def test_missing_dataset_is_one_line_error_naming_the_path(tmp_path):
    with pytest.raises(InputError, match=f"no LeRobot dataset at {tmp_path / 'nope'}") as err:
        FrameBank.load(tmp_path / "nope", image_size=64)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("damage", ["truncate_parquet", "delete_video"])
def test_corrupt_dataset_is_one_line_error_naming_the_path(tmp_path, two_episode_dataset, damage):
    root = tmp_path / "damaged"
    shutil.copytree(two_episode_dataset, root)
    if damage == "truncate_parquet":
        parquet = next((root / "data").rglob("*.parquet"))
        parquet.write_bytes(parquet.read_bytes()[:100])
    else:
        next((root / "videos").rglob("*.mp4")).unlink()
    with pytest.raises(InputError, match=f"corrupt LeRobot dataset at {root}") as err:
        FrameBank.load(root, image_size=64)
    assert "\n" not in str(err.value)


def test_unknown_backend_is_refused(two_episode_dataset):
    with pytest.raises(InputError, match="unknown video backend 'opencv'; valid: auto, lerobot, decord"):
        FrameBank.load(two_episode_dataset, image_size=64, backend="opencv")


def test_window_starts_cover_every_frame_with_a_future(two_episode_dataset, bank):
    samples = ActionChunks(bank, chunk_size=4)
    lengths = np.asarray(open_dataset(two_episode_dataset).meta.episodes["length"])
    assert len(samples) == int((lengths - 4).sum())


def test_read_episodes_gives_back_what_lerobot_decodes(two_episode_dataset, episode0):
    episodes = read_episodes(two_episode_dataset)
    assert len(episodes) == 2 and read_episodes(two_episode_dataset, [1])[0].seed == episodes[1].seed
    first = episodes[0]
    assert torch.equal(torch.from_numpy(first.images).permute(0, 3, 1, 2), episode0["frames"])
    np.testing.assert_array_equal(first.states, episode0["states"].numpy())
    np.testing.assert_array_equal(first.actions, episode0["actions"].numpy())
    assert first.instruction == episode0["task"] and first.plan_images is None
    assert first.success and first.successes[-1] and not first.successes[:-1].any()  # demos end at success
    assert first.camera != episodes[1].camera

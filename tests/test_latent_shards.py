"""`vp encode`: datasets into latent shards that hold exactly what the denoiser trains on, read back with torch and
safetensors alone, split disjointly across ranks; a half-written or damaged shard directory is refused."""

import json
import subprocess
import sys

import pytest
import torch

from foundation.errors import InputError
from robot_io.frame_bank import FrameBank, PlannerClips
from video_planner.cli import main
from video_planner.model.planner import VideoPlanner
from video_planner.training.encode_shards import episode_groups
from video_planner.training.latent_shards import load_shard, rank_shards, read_manifest


@pytest.fixture(scope="module")
def encoded(tmp_path_factory, two_episode_dataset, text_encoder, tiny_planner_config):
    """Shards of the two-episode dataset, one episode each; (shard directory, planner)."""
    root = tmp_path_factory.mktemp("shards")
    torch.manual_seed(0)
    VideoPlanner(tiny_planner_config, text_encoder=text_encoder).save_pretrained(root / "planner")
    command = ["encode", "--dataset", str(two_episode_dataset), "--planner", str(root / "planner")]
    assert main([*command, "--output", str(root / "shards"), "--clips-per-shard", "1"]) == 0
    return root / "shards", VideoPlanner.from_pretrained(root / "planner")


def test_shards_hold_the_latents_clips_and_text_the_trainer_would_compute(encoded, two_episode_dataset):
    shards, planner = encoded
    config = planner.config
    bank = FrameBank.load(two_episode_dataset, config.image_size, show_progress=False)
    clips = PlannerClips(bank, config.num_future_frames, config.frame_stride)
    manifest = read_manifest(shards)
    assert [s["episodes"] for s in manifest["shards"]] == [[0, 1], [1, 2]]  # whole episodes, one per shard
    assert manifest["clips"] == len(clips) and manifest["frames"] == len(bank.frames)
    expected_latents = planner.encode_frames(bank.frames)  # (N, C, h, w)
    row = 0
    for entry in manifest["shards"]:
        shard = load_shard(shards, entry)
        rows = torch.arange(len(shard.clips))
        latents, text, mask = shard.batch(rows)  # (M, K+1, C, h, w), (M, L, D), (M, L)
        mine = clips.index[row : row + len(rows)]  # the same clips, rows of the whole bank
        torch.testing.assert_close(latents, expected_latents[torch.from_numpy(mine)], atol=1e-5, rtol=1e-5)
        expected_text, expected_mask = planner.text_encoder(clips.instructions[row : row + len(rows)])
        torch.testing.assert_close(text, expected_text.float())
        assert torch.equal(mask, expected_mask.bool())
        assert torch.equal(shard.clip_is_pad, torch.from_numpy(clips.is_pad[row : row + len(rows)]))
        row += len(rows)
    assert row == len(clips)


def test_ranks_read_disjoint_shards_that_cover_them_all(encoded):
    manifest = read_manifest(encoded[0])
    shares = [rank_shards(manifest, rank, 2) for rank in range(2)]
    assert [[s["file"] for s in share] for share in shares] == [
        ["shard-00000.safetensors"],
        ["shard-00001.safetensors"],
    ]
    with pytest.raises(InputError, match="3 processes but 2 shards"):
        rank_shards(manifest, 0, 3)


def test_episodes_gather_into_shards_of_at_least_the_asked_clips():
    assert episode_groups([3, 3, 3, 1], 5) == [range(0, 2), range(2, 4)]
    assert episode_groups([10, 0, 2], 4) == [range(0, 1), range(1, 3)]


def test_reading_shards_imports_no_dataset_simulator_or_video_library(encoded):
    code = (
        "import sys; from pathlib import Path\n"
        "from video_planner.training.latent_shards import load_shard, read_manifest\n"
        f"root = Path({str(encoded[0])!r}); manifest = read_manifest(root)\n"
        "load_shard(root, manifest['shards'][0])\n"
        "heavy = [m for m in ('lerobot', 'mujoco', 'metaworld', 'decord', 'torchcodec', 'transformers', 'datasets') "
        "if m in sys.modules]\n"
        "print(heavy)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_a_damaged_or_unfinished_shard_directory_is_refused_in_one_line(encoded, tmp_path):
    import shutil

    shards = shutil.copytree(encoded[0], tmp_path / "copy")
    manifest = read_manifest(shards)
    (shards / "shard-00001.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(InputError, match="does not load as safetensors"):
        load_shard(shards, manifest["shards"][1])
    (shards / "shard-00001.safetensors").unlink()
    with pytest.raises(InputError, match="lacks shard-00001.safetensors that its manifest names"):
        read_manifest(shards)
    (shards / "manifest.json").unlink()
    with pytest.raises(InputError, match="not a finished `vp encode` output"):
        read_manifest(shards)
    entry = dict(manifest["shards"][0], clips=99)
    with pytest.raises(InputError, match="its manifest says"):
        load_shard(encoded[0], entry)
    json.loads((encoded[0] / "manifest.json").read_text())  # the original is untouched


def test_vp_encode_refuses_a_bad_shard_size_with_exit_status_2(encoded, two_episode_dataset, tmp_path, capsys):
    planner_dir = encoded[0].parent / "planner"
    command = ["encode", "--dataset", str(two_episode_dataset), "--planner", str(planner_dir)]
    assert main([*command, "--output", str(tmp_path / "s"), "--clips-per-shard", "0"]) == 2
    assert "--clips-per-shard must be >= 1" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()

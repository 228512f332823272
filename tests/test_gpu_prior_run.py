"""scripts/gpu_prior_run.py in its tiny CPU mode: pack keeps every other shard to fit its budget, train
measures each variant's MFU and pretrains, and its bf16 pieces unpack into a planner that plans."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from video_planner.model.planner import VideoPlanner
from video_planner.training.latent_shards import read_manifest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))


def run_script(monkeypatch, *flags: str) -> None:
    import gpu_prior_run

    monkeypatch.setattr(sys, "argv", ["gpu_prior_run.py", *flags])
    assert gpu_prior_run.main() == 0


def test_the_gpu_prior_run_packs_trains_and_comes_back_as_a_planner(latent_shards, tmp_path, monkeypatch):
    manifest = read_manifest(latent_shards)
    space = sum(p.stat().st_size for p in (latent_shards / "latent_space").rglob("*") if p.is_file())
    room = (space + (latent_shards / manifest["shards"][0]["file"]).stat().st_size + 1) / 2**20  # one shard fits
    bundle, back, planner_dir = tmp_path / "bundle", tmp_path / "out", tmp_path / "planner"
    run_script(monkeypatch, "pack", "--shards", str(latent_shards), "--output", str(bundle), "--max-mib", str(room))
    train = ["train", "--bundle", str(bundle), "--output", str(back), "--steps", "2", "--batch-size", "2"]
    train += ["--variants", "eager-sdpa,eager-math", "--peak-size", "64", "--repeats", "1", "--piece-mib", "1"]
    run_script(monkeypatch, *train)
    run_script(monkeypatch, "unpack", "--pieces", str(back), "--bundle", str(bundle), "--output", str(planner_dir))

    packed = read_manifest(bundle)
    assert packed["subset"]["every"] == 2 and len(packed["shards"]) == 1
    run = json.loads((back / "run.json").read_text())
    assert set(run["mfu"]["variants"]) == {"eager-sdpa", "eager-math"} and run["steps"] == 2
    assert all(0 < v["mfu"] and v["s_per_step"] > 0 for v in run["mfu"]["variants"].values())
    assert len(list(back.iterdir())) <= 8 and len(run["pieces"]) > 1  # several pieces, as a large denoiser needs
    planner = VideoPlanner.from_pretrained(planner_dir)
    assert planner.trained_tasks == tuple(manifest["tasks"])
    weights = next(planner.denoiser.parameters()).detach()
    assert torch.equal(weights, weights.bfloat16().float())  # the bf16 weights brought back, widened
    assert planner.plan(np.zeros((64, 64, 3), np.uint8), "open the door", seed=0, steps=2).frames.shape[0] > 0


def test_a_denoiser_too_large_for_the_files_brought_back_is_refused_before_training(
    latent_shards, tmp_path, monkeypatch, capsys
):
    import gpu_prior_run

    bundle = tmp_path / "bundle"
    run_script(monkeypatch, "pack", "--shards", str(latent_shards), "--output", str(bundle))
    flags = ["train", "--bundle", str(bundle), "--output", str(tmp_path / "out"), "--piece-mib", "0.01"]
    monkeypatch.setattr(sys, "argv", ["gpu_prior_run.py", *flags])
    assert gpu_prior_run.main() == 2
    assert "raise --piece-mib" in capsys.readouterr().err and not (tmp_path / "out").exists()


def test_bad_flags_and_missing_files_are_refused(tmp_path, monkeypatch, capsys):
    import gpu_prior_run

    monkeypatch.setattr(sys, "argv", ["gpu_prior_run.py", "train", "--bundle", "b", "--output", "o", "--steps", "0"])
    with pytest.raises(SystemExit) as exit_info:
        gpu_prior_run.main()
    assert exit_info.value.code == 2 and "--steps: must be above 0" in capsys.readouterr().err
    unpack = ["unpack", "--pieces", str(tmp_path), "--bundle", str(tmp_path), "--output", str(tmp_path / "p")]
    monkeypatch.setattr(sys, "argv", ["gpu_prior_run.py", *unpack])
    assert gpu_prior_run.main() == 2
    assert "run.json is missing" in capsys.readouterr().err and not (tmp_path / "p").exists()

import json

import numpy as np
import pytest
import torch
from PIL import Image

from video_planner.model.planner import VideoPlanner
from video_planner.training.evaluate import EvalSettings, evaluate_planner, psnr, ssim, write_report


def frames(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)


def test_psnr_matches_its_definition():
    a = frames(0)
    b = np.clip(a.astype(int) + 4, 0, 255).astype(np.uint8)
    mse = np.mean((a.astype(float) - b.astype(float)) ** 2)
    assert psnr(a, b) == pytest.approx(10 * np.log10(255**2 / mse))
    assert psnr(a, a) == pytest.approx(100.0)


def test_ssim_is_one_for_identical_and_low_for_unrelated_frames():
    a = frames(0)
    assert ssim(a, a) == pytest.approx(1.0)
    assert ssim(a, frames(1)) < 0.1
    blurred = np.clip(a.astype(int) // 2 + 64, 0, 255).astype(np.uint8)
    assert 0.1 < ssim(a, blurred) < 1.0


def test_eval_reports_every_method_per_task(tmp_path, two_episode_dataset, tiny_planner_config, text_encoder):
    torch.manual_seed(0)
    planner = VideoPlanner(tiny_planner_config, text_encoder=text_encoder).eval()
    settings = EvalSettings(clips_per_episode=2, reference_steps=6, sample_clips=2)
    result = evaluate_planner(planner, two_episode_dataset, two_episode_dataset, settings, show_progress=False)
    assert result["clips"] == 4
    assert result["methods"] == [
        "planner",
        "repeat first frame",
        "autoencoder round trip",
        "mean training frame",
        "planner, 6 steps",
    ]
    scores = result["tasks"]["button-press-topdown"]
    assert set(scores) == set(result["methods"])
    assert scores["repeat first frame"]["psnr"] > scores["mean training frame"]["psnr"] > scores["planner"]["psnr"]
    write_report(result, tmp_path / "report")
    saved = json.loads((tmp_path / "report" / "results.json").read_text())
    assert saved["tasks"]["button-press-topdown"]["planner"] == pytest.approx(scores["planner"])
    assert "| button-press-topdown |" in (tmp_path / "report" / "table.md").read_text()
    assert (tmp_path / "report" / "samples.gif").stat().st_size > 0
    sheet = np.asarray(Image.open(tmp_path / "report" / "samples.png"))
    truth, plans = result["samples"]
    assert sheet.shape == (2 * (2 * 32 + 4), 4 * (32 + 2), 3)  # 2 clips x (truth, plan) rows, K+1 = 4 columns
    np.testing.assert_array_equal(sheet[32:64, 34:66], plans[0][1])  # clip 0's plan, first planned frame

import json

import numpy as np
import plan_quality_table
import pytest
import torch
from PIL import Image

from foundation.errors import InputError
from video_planner.cli import main
from video_planner.model.planner import VideoPlanner
from video_planner.training.evaluate import (
    EvalSettings,
    comparison_table,
    evaluate_planner,
    object_psnr,
    psnr,
    ssim,
    write_report,
)


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


def test_object_psnr_scores_only_the_window_around_each_frames_object():
    truth = frames(0)
    prediction = 255 - truth  # wrong everywhere
    centres = np.array([[5.0, 5.0], [20.0, 10.0], [31.0, 31.0]])  # (column, row) per frame; the last one at a corner
    for (column, row), k in zip(centres.astype(int), range(3), strict=True):
        rows, columns = slice(max(row - 4, 0), row + 4), slice(max(column - 4, 0), column + 4)
        prediction[k, rows, columns] = truth[k, rows, columns]  # right around the object
    assert object_psnr(prediction, truth, centres, half=4) == pytest.approx(100.0)
    assert object_psnr(prediction, truth, centres, half=6) < 20  # a wider window sees the wrong pixels
    assert object_psnr(prediction, truth, np.full((3, 2), 500.0), half=4) is None  # out of view in every frame


def test_object_window_covers_the_same_part_of_the_scene_at_every_resolution():
    settings = EvalSettings(object_window=6)
    assert [settings.object_half_width(size) for size in (32, 64, 128)] == [3, 6, 12]


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
    assert all(0 < scores[m]["object_psnr"] <= 100 for m in result["methods"])  # the demos record MetaWorld's state
    comparison = comparison_table(result, "repeat first frame").splitlines()
    assert comparison[0].endswith("| object PSNR | Δobject PSNR |") and comparison[3].endswith("+0.00 dB |")
    write_report(result, tmp_path / "report")
    saved = json.loads((tmp_path / "report" / "results.json").read_text())
    assert saved["tasks"]["button-press-topdown"]["planner"] == pytest.approx(scores["planner"])
    table = (tmp_path / "report" / "table.md").read_text()
    assert "| button-press-topdown |" in table and "planner PSNR / SSIM / object PSNR" in table
    assert (tmp_path / "report" / "samples.gif").stat().st_size > 0
    sheet = np.asarray(Image.open(tmp_path / "report" / "samples.png"))
    truth, plans = result["samples"]
    assert sheet.shape == (2 * (2 * 32 + 4), 4 * (32 + 2), 3)  # 2 clips x (truth, plan) rows, K+1 = 4 columns
    np.testing.assert_array_equal(sheet[32:64, 34:66], plans[0][1])  # clip 0's plan, first planned frame


def test_frames_can_be_scored_at_a_coarser_size_than_the_planner_draws(
    two_episode_dataset, tiny_planner_config, text_encoder
):
    """Scored at 16 px, a 32 px planner's clips are compared on area-downsampled pixels (what a 16 px IDM would
    read), object window included; a size that does not divide the planner's is refused."""
    torch.manual_seed(0)
    planner = VideoPlanner(tiny_planner_config, text_encoder=text_encoder).eval()
    results = {}
    for size in (None, 16):
        settings = EvalSettings(clips_per_episode=1, reference_steps=0, score_size=size)
        results[size] = evaluate_planner(planner, two_episode_dataset, None, settings, show_progress=False)
    assert (results[None]["score_size"], results[16]["score_size"]) == (32, 16)
    native, coarse = (results[s]["tasks"]["button-press-topdown"] for s in (None, 16))
    assert coarse["repeat first frame"]["psnr"] > native["repeat first frame"]["psnr"]  # finest motion averaged away
    native_window, coarse_window = native["autoencoder round trip"], coarse["autoencoder round trip"]
    assert 0 < coarse_window["object_psnr"] < 100 and coarse_window["object_psnr"] != native_window["object_psnr"]
    for refused in (24, 8, -32):  # not a divisor; smaller than SSIM's window; not a size
        with pytest.raises(InputError, match=f"score_size {refused} must divide the planner's image size 32"):
            evaluate_planner(planner, two_episode_dataset, None, EvalSettings(score_size=refused), show_progress=False)


def test_vp_eval_planner_results_name_their_command_and_render_as_a_table(
    tmp_path, two_episode_dataset, tiny_planner_config, text_encoder, capsys
):
    """What a results page's plan-quality table is made from: `vp eval-planner`'s results.json, with the command
    that produced it, rendered by scripts/plan_quality_table.py; a column the file cannot fill is one line."""
    torch.manual_seed(0)
    VideoPlanner(tiny_planner_config, text_encoder=text_encoder).save_pretrained(tmp_path / "planner")
    argv = ["eval-planner", "--planner", str(tmp_path / "planner"), "--dataset", str(two_episode_dataset)]
    assert main([*argv, "--clips-per-episode", "1", "--reference-steps", "0", "--output", str(tmp_path / "q")]) == 0
    path = tmp_path / "q" / "results.json"
    result = json.loads(path.read_text())
    assert result["run"]["command"].startswith("vp eval-planner --planner")
    scores = result["tasks"]["button-press-topdown"]
    columns = [(path, "autoencoder round trip", "object_psnr"), (path, "planner", "ssim")]
    table = plan_quality_table.quality_table(columns, {path: result}, ["round trip", "planner"]).splitlines()
    round_trip, planner_ssim = scores["autoencoder round trip"]["object_psnr"], scores["planner"]["ssim"]
    assert table[2] == f"| button-press-topdown | {round_trip:.2f} | {planner_ssim:.3f} |"
    assert table[3] == f"| **mean** | **{round_trip:.2f}** | **{planner_ssim:.3f}** |"
    assert "vp eval-planner --planner" in table[-1]
    with pytest.raises(InputError, match="has no method 'mean training frame'"):
        plan_quality_table.quality_table([(path, "mean training frame", "psnr")], {path: result}, ["x"])
    with pytest.raises(InputError, match="is not FILE:METHOD:METRIC"):
        plan_quality_table.column(f"{path}:planner:lpips")


def test_vp_eval_planner_guidance_scale_changes_the_plans_only(tmp_path, two_episode_dataset, tiny_models, capsys):
    """--guidance-scale guides every plan of the run: the same clips and noise, so the planner's scores move and
    the autoencoder's round trip does not; a guidance below 1 stops the command in one line."""
    argv = ["eval-planner", "--planner", str(tiny_models / "planner"), "--dataset", str(two_episode_dataset)]
    argv += ["--clips-per-episode", "1", "--reference-steps", "0"]
    scores = {}
    for guidance in (None, "1"):
        output = tmp_path / f"guidance-{guidance}"
        flags = [] if guidance is None else ["--guidance-scale", guidance]
        assert main([*argv, *flags, "--output", str(output)]) == 0
        scores[guidance] = json.loads((output / "results.json").read_text())["tasks"]["button-press-topdown"]
    assert scores[None]["autoencoder round trip"] == scores["1"]["autoencoder round trip"]
    assert scores[None]["planner"]["psnr"] != scores["1"]["planner"]["psnr"]
    capsys.readouterr()
    assert main([*argv, "--guidance-scale", "0.5", "--output", str(tmp_path / "refused")]) == 2
    assert capsys.readouterr().err.strip() == "error: planner: guidance_scale must be a number in [1, inf), got 0.5"
    assert not (tmp_path / "refused").exists()

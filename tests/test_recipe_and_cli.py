import subprocess
import sys
from pathlib import Path

import pytest
import torch

from foundation.errors import InputError
from robot_io.metaworld_tasks import AVDC11_TASKS
from robot_io.recipe import CollectionRecipe

REPO = Path(__file__).resolve().parents[1]


def vp(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "video_planner.cli", *args], cwd=REPO, capture_output=True, text=True)


def test_avdc11_recipe_follows_avdc_protocol():
    recipe = CollectionRecipe.from_toml(REPO / "datasets" / "metaworld_avdc11.toml")
    assert recipe.tasks == AVDC11_TASKS
    assert recipe.cameras == ("corner", "corner2", "corner3")
    assert len(recipe.tasks) * len(recipe.cameras) * recipe.episodes_per_camera == 165


def test_scene_seeds_never_repeat_within_a_task():
    recipe = CollectionRecipe.from_toml(REPO / "datasets" / "metaworld_avdc11.toml")
    seeds = [recipe.scene_seed(a, c) for a in range(recipe.max_attempts_per_camera) for c in range(3)]
    assert len(set(seeds)) == len(seeds)


def test_typo_in_recipe_key_names_it(tmp_path):
    path = tmp_path / "typo.toml"
    path.write_text('name = "x"\ntasks = ["reach"]\nepisodes_per_camra = 2\n')
    with pytest.raises(InputError, match="unknown key 'episodes_per_camra'; did you mean 'episodes_per_camera'"):
        CollectionRecipe.from_toml(path)


@pytest.mark.parametrize(
    "body, message",
    [
        ('name = "x"\ntasks = ["door-opn"]\n', "unknown MetaWorld task 'door-opn'; did you mean door-open"),
        ('name = "x"\ntasks = ["reach"]\ncameras = ["corner7"]\n', "unknown MetaWorld camera 'corner7'"),
        ('name = "x"\n', "missing required key"),
        ('name = "x"\ntasks = ["reach"]\nimage_size = 4\n', "invalid image_size"),
        ('name = "x"\ntasks = [reach]\n', "not valid TOML"),
    ],
)
def test_bad_recipes_are_refused_with_the_reason(tmp_path, body, message):
    path = tmp_path / "bad.toml"
    path.write_text(body)
    with pytest.raises(InputError, match=message):
        CollectionRecipe.from_toml(path)


def test_cli_bad_input_is_one_line_and_exit_2(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\ntasks = ["reach"]\nseeed = 1\n')
    result = vp("collect", "--recipe", str(bad), "--output", str(tmp_path / "out"))
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {bad}: unknown key 'seeed'; did you mean 'seed'?"
    assert not (tmp_path / "out").exists()

    result = vp("summary", str(tmp_path / "missing"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: no LeRobot dataset at {tmp_path / 'missing'} (meta/info.json missing); create one with `vp collect`"
    ]


def test_cli_help_lists_every_subcommand():
    result = vp("--help")
    assert result.returncode == 0
    for command in ("collect", "summary", "bench"):
        assert command in result.stdout
    assert "--recipe" in vp("collect", "--help").stdout
    assert "--image-size" in vp("bench", "render", "--help").stdout


@pytest.mark.skipif(torch.cuda.is_available(), reason="the refusal is for machines without CUDA")
def test_gpu_benchmarks_refuse_a_machine_without_cuda_in_one_line():
    for what, hint in (("gpu", "`vp bench train-step`"), ("compose", "--device cpu")):
        result = vp("bench", what)
        assert result.returncode == 2
        assert len(result.stderr.strip().splitlines()) == 1
        assert f"error: vp bench {what} needs a CUDA device" in result.stderr and hint in result.stderr


def test_cli_summary_reports_tasks_and_expert_failures(two_episode_dataset):
    result = vp("summary", str(two_episode_dataset))
    assert result.returncode == 0, result.stderr
    assert "2 episodes" in result.stdout
    assert "| press the button from the top | corner, corner2 | 2 | 2 |" in result.stdout
    assert "scripted experts: 2 attempts, 0 failed (0.0%)" in result.stdout

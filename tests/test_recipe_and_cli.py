import argparse
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from foundation.errors import InputError
from robot_io.metaworld_tasks import AVDC11_TASKS
from robot_io.recipe import CollectionRecipe

REPO = Path(__file__).resolve().parents[1]


def vp(capsys, *args: str) -> SimpleNamespace:
    """`vp args` in this process (a fresh interpreter per call costs seconds of imports): exit status and output."""
    from video_planner.cli import main

    try:
        status = main(list(args))
    except SystemExit as stop:  # argparse: --help, or a refused flag
        status = stop.code
    out, err = capsys.readouterr()
    return SimpleNamespace(returncode=status, stdout=out, stderr=err)


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
        ('name = "x"\ntasks = ["reach"]\nimage_size = 4\n', r"image_size must be a number in \[8, 1024\], got 4"),
        ('name = "x"\ntasks = [reach]\n', "not valid TOML"),
    ],
)
def test_bad_recipes_are_refused_with_the_reason(tmp_path, body, message):
    path = tmp_path / "bad.toml"
    path.write_text(body)
    with pytest.raises(InputError, match=message):
        CollectionRecipe.from_toml(path)


def test_cli_bad_input_is_one_line_and_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\ntasks = ["reach"]\nseeed = 1\n')
    result = vp(capsys, "collect", "--recipe", str(bad), "--output", str(tmp_path / "out"))
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {bad}: unknown key 'seeed'; did you mean 'seed'?"
    assert not (tmp_path / "out").exists()

    result = vp(capsys, "summary", str(tmp_path / "missing"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: no LeRobot dataset at {tmp_path / 'missing'} (meta/info.json missing); create one with `vp collect`"
    ]


def test_the_vp_entry_point_lists_every_subcommand():
    """The one test that starts `vp` as its own process: the entry point itself, and its exit status."""
    command = [sys.executable, "-m", "video_planner.cli", "--help"]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0
    for name in ("collect", "summary", "train-planner", "eval", "sail"):
        assert name in result.stdout
    bad = subprocess.run([*command[:3], "collect"], cwd=REPO, capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.startswith("error: vp collect: the following arguments are required")


def test_cli_summary_reports_tasks_and_expert_failures(two_episode_dataset, capsys):
    result = vp(capsys, "summary", str(two_episode_dataset))
    assert result.returncode == 0, result.stderr
    assert "2 episodes" in result.stdout
    assert "| press the button from the top | corner, corner2 | 2 | 2 |" in result.stdout
    assert "scripted experts: 2 attempts, 0 failed (0.0%)" in result.stdout


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    from video_planner.cli import build_parser

    return next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices


def test_every_flag_of_every_command_is_documented():
    undocumented = [
        f"vp {name} {'/'.join(action.option_strings) or action.dest}"
        for name, parser in _subcommands().items()
        for action in parser._actions
        if not isinstance(action, argparse._HelpAction) and not (action.help or "").split("(default")[0].strip()
    ]
    assert undocumented == []


def test_help_shows_the_fields_own_docs_defaults_and_choices():
    sail = _subcommands()["sail"].format_help()
    assert "fine-tuning rounds; iterations 0..N are evaluated (in [0, 19]; default: 4)" in " ".join(sail.split())
    assert "--filter {none,oracle,learned}" in sail and "--mode {pa,ipa}" in sail
    evaluation = " ".join(_subcommands()["eval"].format_help().split())
    assert "scene seeds per task and camera (AVDC: 25) (in [1, 1000]; default: 25)" in evaluation
    assert "(default: corner,corner2,corner3)" in evaluation


def test_list_flags_take_repeats_and_commas_alike():
    from video_planner.cli import _flag_values
    from video_planner.control.settings import ControlEvalSettings

    args = _subcommands()["eval"].parse_args(
        [
            "--planner",
            "p",
            "--idm",
            "i",
            "--tasks",
            "door-open,door-close",
            "--tasks",
            "reach-wall",
            "--cameras",
            "corner",
        ]
    )
    settings = ControlEvalSettings(**_flag_values(args, ControlEvalSettings))
    assert settings.tasks == ("door-open", "door-close", "reach-wall") and settings.cameras == ("corner",)
    assert settings.replan_every == 24 and settings.seeds == 25  # the dataclass's defaults, not the parser's


def test_train_idm_takes_model_flags_from_the_config_and_refuses_them_with_init_from(tmp_path, capsys):
    from inverse_dynamics.config import InverseDynamicsConfig
    from video_planner.cli import _flag_values, main

    parse = _subcommands()["train-idm"].parse_args
    assert _flag_values(parse(["--dataset", "d", "--output", "o"]), InverseDynamicsConfig) == {}
    given = parse(["--dataset", "d", "--output", "o", "--image-size", "32"])
    assert InverseDynamicsConfig(**_flag_values(given, InverseDynamicsConfig)).image_size == 32
    common = ["train-idm", "--dataset", "d", "--output", str(tmp_path / "out")]
    assert main([*common, "--init-from", str(tmp_path), "--chunk-size", "4"]) == 2
    assert (
        capsys.readouterr().err.strip()
        == "error: --image-size, --chunk-size and the action bounds come from the --init-from model; drop them"
    )


BAD_FLAGS = [
    (
        ["train-planner", "--dataset", "d", "--output", "o", "--learning-rate", "-1"],
        "learning_rate must be a number in (0, inf), got -1.0",
    ),
    (
        ["train-planner", "--dataset", "d", "--output", "o", "--ema-decay", "5"],
        "ema_decay must be a number in [0, 1), got 5.0",
    ),
    (["train-planner", "--dataset", "d", "--output", "o", "--steps", "0"], "steps must be a number in [1, inf), got 0"),
    (
        ["train-idm", "--dataset", "d", "--output", "o", "--learning-rate", "nan"],
        "learning_rate must be a number in (0, inf), got nan",
    ),
    (
        ["eval", "--planner", "p", "--idm", "i", "--max-episode-steps", "0"],
        "max_episode_steps must be a number in [1, 500], got 0",
    ),
    (["eval", "--planner", "p", "--idm", "i", "--seeds", "0"], "seeds must be a number in [1, 1000], got 0"),
    (
        ["eval", "--planner", "p", "--idm", "i", "--sampling-steps", "0"],
        "sampling_steps must be a number in [1, 1000], got 0",
    ),
    (
        ["eval", "--planner", "p", "--idm", "i", "--prior", "q", "--prior-strength", "inf"],
        "prior_strength must be a number in [0, inf), got inf",
    ),
    (["eval", "--planner", "p", "--idm", "i", "--device", "cuda:7"], "device cuda:7 is not here"),
    (
        ["sail", "--planner", "p", "--idm", "i", "--tasks", "reach", "--output", "o", "--threshold", "2"],
        "threshold must be a number in [0, 1], got 2.0",
    ),
    (["eval", "--planner", "p", "--idm", "i", "--tasks", ","], "no task given"),
    (["eval", "--planner", "p", "--idm", "i", "--cameras", ","], "no camera given"),
]


@pytest.mark.parametrize("argv, message", BAD_FLAGS, ids=[" ".join(a[:1] + a[-2:]) for a, _ in BAD_FLAGS])
def test_a_bad_number_or_empty_list_is_one_line_and_exit_2(argv, message, capsys):
    from video_planner.cli import main

    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0]


def test_help_shows_each_declared_range():
    help_text = " ".join(_subcommands()["train-planner"].format_help().split())
    assert "AdamW, constant after the warm-up (in (0, inf); default: 0.0002)" in help_text

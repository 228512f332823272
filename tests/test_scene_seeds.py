"""The scene-seed registry: every recipe has its entry, scored and rollout scenes are nobody else's, and an
evaluation on claimed scenes is refused."""

import itertools
from pathlib import Path

import pytest

from foundation.errors import InputError
from robot_io.recipe import CollectionRecipe
from robot_io.scene_seeds import SCORED, SEED_RANGES, check_closed_loop_seeds

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("path", sorted((REPO / "datasets").glob("*.toml")), ids=lambda p: p.stem)
def test_every_recipe_lies_inside_its_registered_range(path):
    recipe = CollectionRecipe.from_toml(path)
    entry = next((r for r in SEED_RANGES if r.name == f"recipe {recipe.name}"), None)
    assert entry is not None, f"{path.name} has no entry in robot_io/scene_seeds.py"
    used_end = recipe.seed + recipe.max_attempts_per_camera * len(recipe.cameras)
    assert entry.first == recipe.seed and used_end <= entry.end


def test_scored_and_rollout_scenes_are_shared_with_no_other_range():
    for a, b in itertools.combinations(SEED_RANGES, 2):
        if {a.role, b.role} & {*SCORED, "rollouts"}:
            assert not a.overlaps(b.first, b.end), f"{a.name} and {b.name} share scene seeds"


def test_the_rule_catches_an_overlap():
    held_out = next(r for r in SEED_RANGES if r.role == "held-out")
    demos = next(r for r in SEED_RANGES if r.name == "recipe metaworld_avdc11")
    assert held_out.overlaps(held_out.first + 5, held_out.first + 6)
    assert not demos.overlaps(held_out.first, held_out.end)


@pytest.mark.parametrize(
    ("role", "first_seed", "claimed_by"),
    [
        ("evaluation", 0, "recipe metaworld_tiny"),
        ("evaluation", 400_010, "recipe metaworld_mt50_prior"),
        ("evaluation", 2_000_000, "selection"),
        ("evaluation", 3_100_000, "SAIL rollouts"),
        ("selection", 998_500, "closed-loop evaluation"),  # starts on fresh scenes, runs into evaluation's
    ],
)
def test_scoring_on_claimed_scenes_is_refused(role, first_seed, claimed_by):
    with pytest.raises(InputError, match=f"{role} seeds .* overlap the scenes of {claimed_by}"):
        check_closed_loop_seeds(first_seed, cameras=3, role=role)


def test_evaluation_and_selection_each_score_on_their_own_scenes():
    check_closed_loop_seeds(1_000_000, cameras=3)
    check_closed_loop_seeds(7_000_000, cameras=3)  # fresh scenes nobody claims
    check_closed_loop_seeds(2_000_000, cameras=3, role="selection")


def test_vp_eval_refuses_claimed_seeds_in_one_line(capsys):
    from video_planner.cli import main

    assert main(["eval", "--planner", "oracle", "--idm", "none", "--first-seed", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "evaluation seeds [0, 3000) overlap the scenes of recipe metaworld_tiny" in err[0]


def test_vp_eval_selection_scores_on_the_selection_scenes_only(capsys):
    from video_planner.cli import main

    common = ["eval", "--planner", "oracle", "--idm", "none", "--selection"]
    assert main([*common, "--first-seed", "1000000"]) == 2  # the evaluation scenes are not for choosing
    assert "selection seeds [1000000, 1003000) overlap the scenes of closed-loop evaluation" in capsys.readouterr().err
    assert main(common) == 2  # the default selection scenes pass the seed check; the missing IDM stops it next
    assert "inverse-dynamics" in capsys.readouterr().err


def test_sail_evaluates_from_its_first_seed_and_refuses_claimed_scenes(capsys):
    from video_planner.cli import main
    from video_planner.sail.settings import SailSettings

    settings = SailSettings(tasks=("drawer-close",), planner="p", idm="i", eval_seeds=2, eval_first_seed=1_000_005)
    assert [seed for _, _, seed in settings.eval_settings().episodes()][:3] == [1_000_005, 1_000_006, 1_001_005]
    common = ["sail", "--tasks", "drawer-close", "--planner", "p", "--idm", "i", "--output", "unused"]
    assert main([*common, "--eval-first-seed", "2000000"]) == 2  # the selection scenes never score an iteration
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "evaluation seeds [2000000, 2003000) overlap the scenes of selection" in err[0]


def test_vp_eval_records_training_rollouts_only_on_scenes_nothing_scores(capsys):
    from video_planner.cli import main

    common = ["eval", "--planner", "oracle", "--idm", "none", "--for-training"]
    assert main(common) == 2
    assert "add --record" in capsys.readouterr().err
    assert main([*common, "--record", "--first-seed", "1000000"]) == 2  # evaluation scenes never become training data
    err = capsys.readouterr().err
    assert "training seeds [1000000, 1003000) overlap the scenes of closed-loop evaluation" in err and "5000000" in err
    assert main([*common, "--record"]) == 2  # the default training scenes pass the seed check; the missing IDM stops it
    assert "inverse-dynamics" in capsys.readouterr().err

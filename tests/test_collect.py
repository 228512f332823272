import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from foundation.atomic_dir import exchange_directories
from foundation.errors import InputError
from robot_io.collect import PROGRESS_SIDECAR, collect
from robot_io.dataset_io import open_dataset
from robot_io.dataset_summary import episode_table
from robot_io.episode_format import ACTION_KEY, IMAGE_KEY, STATE_KEY
from robot_io.metaworld_env import MetaWorldEnv
from robot_io.metaworld_expert import NoisyExpert, expert_episode
from robot_io.recipe import CollectionRecipe

REPO = Path(__file__).resolve().parents[1]


def replay_expert(recipe: CollectionRecipe, task: str, camera_index: int, attempt: int = 0):
    camera = recipe.cameras[camera_index]
    with MetaWorldEnv(task, camera, recipe.image_size, max_episode_steps=recipe.max_episode_steps) as env:
        seed = recipe.scene_seed(attempt, camera_index)
        return expert_episode(env, NoisyExpert(task, recipe.action_noise_std), seed)


def test_two_episodes_read_back_exactly(two_episode_dataset, two_episode_recipe):
    dataset = open_dataset(two_episode_dataset)
    assert dataset.meta.total_episodes == 2
    assert dataset.meta.features[IMAGE_KEY]["info"]["video.codec"] == "h264"
    rows = episode_table(two_episode_dataset)
    assert [r["camera"] for r in rows] == ["corner", "corner2"]
    for episode, row in enumerate(rows):
        original = replay_expert(two_episode_recipe, "button-press-topdown", camera_index=episode)
        start = dataset.meta.episodes[episode]["dataset_from_index"]
        items = [dataset[start + t] for t in range(len(original))]
        assert row["length"] == len(original) and row["success"] and original.success
        assert row["task"] == "press the button from the top" == items[0]["task"]
        np.testing.assert_array_equal(np.stack([i[ACTION_KEY].numpy() for i in items]), original.actions)
        np.testing.assert_array_equal(np.stack([i[STATE_KEY].numpy() for i in items]), original.states)
        frames = np.stack([i[IMAGE_KEY].permute(1, 2, 0).numpy() for i in items]).astype(int)
        error = np.abs(frames - original.images.astype(int))
        assert error.max() <= 4 and error.mean() < 0.5  # lossless H.264 4:4:4: RGB<->YUV rounding only


def test_rerun_resumes_without_duplicates(two_episode_dataset, two_episode_recipe):
    before = json.loads((two_episode_dataset / "meta" / PROGRESS_SIDECAR).read_text())
    collect(two_episode_recipe, two_episode_dataset, show_progress=False)
    assert open_dataset(two_episode_dataset).meta.total_episodes == 2
    assert json.loads((two_episode_dataset / "meta" / PROGRESS_SIDECAR).read_text()) == before


def test_other_recipe_into_same_output_is_refused(two_episode_dataset, two_episode_recipe):
    with pytest.raises(InputError, match="different recipe"):
        collect(replace(two_episode_recipe, seed=5), two_episode_dataset, show_progress=False)


def test_action_noise_is_recorded_as_executed(tmp_path, two_episode_recipe):
    recipe = replace(two_episode_recipe, cameras=("corner",), action_noise_std=0.3, name="noisy")
    root = tmp_path / "noisy"
    collect(recipe, root, show_progress=False)
    dataset = open_dataset(root)
    actions = np.stack(dataset.hf_dataset.with_format("numpy")[ACTION_KEY])
    states = np.stack(dataset.hf_dataset.with_format("numpy")[STATE_KEY])
    clean = replay_expert(replace(recipe, action_noise_std=0.0), "button-press-topdown", 0)
    assert not np.allclose(actions[: len(clean)], clean.actions[: len(actions)])
    with MetaWorldEnv("button-press-topdown", "corner", 64) as env:
        replayed = [env.reset(recipe.scene_seed(0, 0), render=False).state]
        replayed += [env.step(a, render=False).observation.state for a in actions[:-1]]
    np.testing.assert_array_equal(np.stack(replayed), states)


def test_failed_expert_episodes_are_counted_and_kept_on_request(tmp_path, two_episode_recipe):
    recipe = replace(
        two_episode_recipe, cameras=("corner",), max_episode_steps=5, max_attempts_per_camera=2, name="failing"
    )
    progress = collect(recipe, tmp_path / "dropped", show_progress=False)
    assert vars(progress["button-press-topdown/corner"]) == {"attempts": 2, "successes": 0, "recorded": 0}
    assert not (tmp_path / "dropped").exists()
    collect(replace(recipe, keep_failed=True), tmp_path / "kept", show_progress=False)
    rows = episode_table(tmp_path / "kept")
    assert [(r["length"], r["success"]) for r in rows] == [(5, False), (5, False)]


def test_sigkill_mid_collection_leaves_a_loadable_dataset_and_resume_completes(tmp_path):
    recipe_path = tmp_path / "kill.toml"
    recipe_path.write_text(
        'name = "kill"\ntasks = ["reach", "button-press-topdown"]\n'
        'cameras = ["corner", "corner2"]\nepisodes_per_camera = 1\nimage_size = 32\n'
    )
    root = tmp_path / "kill"
    cmd = [sys.executable, "-m", "video_planner.cli", "collect", "--recipe", str(recipe_path), "--output", str(root)]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sidecar = root / "meta" / PROGRESS_SIDECAR
    deadline = time.monotonic() + 120
    while not sidecar.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    time.sleep(0.3)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert sidecar.exists(), "the collector committed nothing before it was killed"

    committed = json.loads(sidecar.read_text())["groups"]
    interrupted = open_dataset(root).meta.total_episodes
    assert 1 <= interrupted == sum(g["recorded"] for g in committed.values()) < 4

    collect(CollectionRecipe.from_toml(recipe_path), root, show_progress=False)  # what a rerun of the command does
    rows = episode_table(root)
    assert len(rows) == 4
    assert len({(r["task"], r["camera"]) for r in rows}) == 4


def test_directory_exchange_is_a_swap(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "which").write_text("a")
    (tmp_path / "b" / "which").write_text("b")
    assert exchange_directories(tmp_path / "a", tmp_path / "b")
    assert (tmp_path / "a" / "which").read_text() == "b" and (tmp_path / "b" / "which").read_text() == "a"


def test_crash_between_the_two_renames_is_recovered(tmp_path, two_episode_dataset, two_episode_recipe):
    """Where there is no atomic exchange, a crash can leave only `.<name>.old` and a staging copy."""
    root = tmp_path / "two_episodes"
    shutil.copytree(two_episode_dataset, tmp_path / ".two_episodes.old")
    shutil.copytree(two_episode_dataset, tmp_path / ".two_episodes.staging")
    collect(two_episode_recipe, root, show_progress=False)
    assert open_dataset(root).meta.total_episodes == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["two_episodes"]


def test_exploration_segments_replace_expert_actions_with_uniform_random_ones():
    with MetaWorldEnv("button-press-topdown", "corner", image_size=32, max_episode_steps=60) as env:
        expert = expert_episode(env, NoisyExpert("button-press-topdown"), seed=5)
        explored = expert_episode(env, NoisyExpert("button-press-topdown", exploration_prob=1.0), seed=5)
    assert expert.successes[-1] and not explored.successes.any()
    assert len(explored.actions) == 60
    # Back-to-back random segments: every action is uniform in [-1, 1]^4 (std 0.577), unlike the
    # expert's saturated moves and its constant gripper effort.
    assert np.all(np.abs(explored.actions) < 1.0)
    np.testing.assert_allclose(explored.actions.std(axis=0), 0.577, atol=0.15)
    assert expert.actions[:, 3].std() < 0.1

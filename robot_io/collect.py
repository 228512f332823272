"""Records scripted-expert demonstrations into a LeRobotDataset, resumable and crash-safe.

Each (task, camera) group is one atomic append: a crash loses at most the group in progress, and the
rerun continues from the committed progress with the same scene seeds.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from foundation.errors import InputError
from robot_io.dataset_store import AtomicDatasetStore
from robot_io.episode_format import Episode, episode_features
from robot_io.metaworld_env import ACTION_NAMES, STATE_NAMES, MetaWorldEnv
from robot_io.metaworld_expert import expert_policy
from robot_io.recipe import CollectionRecipe

PROGRESS_SIDECAR = "collection_progress.json"
METAWORLD_ENV_STATE_DIM = 39


EXPLORATION_SEGMENT_STEPS = (4, 16)  # a random-action segment lasts this many steps (inclusive range)


def run_expert_episode(
    env: MetaWorldEnv, policy, seed: int, action_noise_std: float, exploration_prob: float = 0.0
) -> Episode:
    """Runs the expert from scene `seed` until success or the step limit, recording every step.

    With `exploration_prob` > 0, each step may start a segment of uniformly random actions (4-16 steps)
    that pushes the arm off the expert's path; the expert then recovers from wherever it ended up.
    """
    noise_rng = np.random.default_rng(seed)
    obs = env.reset(seed)
    images, states, env_states, actions, successes = [], [], [], [], []
    random_steps_left = 0
    while True:
        if random_steps_left == 0 and exploration_prob > 0 and noise_rng.random() < exploration_prob:
            random_steps_left = int(noise_rng.integers(EXPLORATION_SEGMENT_STEPS[0], EXPLORATION_SEGMENT_STEPS[1] + 1))
        if random_steps_left > 0:
            action = noise_rng.uniform(-1.0, 1.0, size=env.action_dim).astype(np.float32)
            random_steps_left -= 1
        else:
            action = policy.get_action(obs.env_state).astype(np.float32)
        if action_noise_std > 0:
            action = action + noise_rng.normal(0.0, action_noise_std, size=action.shape).astype(np.float32)
        action = np.clip(action, -1.0, 1.0)
        images.append(obs.image)
        states.append(obs.state)
        env_states.append(obs.env_state.astype(np.float32))
        actions.append(action)
        result = env.step(action)
        successes.append(result.success)
        obs = result.observation
        if result.success or result.truncated:
            break
    return Episode(
        images=np.stack(images),
        states=np.stack(states),
        env_states=np.stack(env_states),
        actions=np.stack(actions),
        successes=np.array(successes),
        instruction=env.instruction,
        camera=env.camera,
        seed=seed,
    )


@dataclass
class GroupProgress:
    """Expert attempts and outcomes for one (task, camera) group."""

    attempts: int = 0
    successes: int = 0
    recorded: int = 0


def group_key(task: str, camera: str) -> str:
    return f"{task}/{camera}"


def open_store(recipe: CollectionRecipe, output: Path) -> AtomicDatasetStore:
    features = episode_features(recipe.image_size, STATE_NAMES, ACTION_NAMES, METAWORLD_ENV_STATE_DIM)
    return AtomicDatasetStore(output, recipe.repo_id, MetaWorldEnv.fps, features, "sawyer", PROGRESS_SIDECAR)


def load_progress(store: AtomicDatasetStore, recipe: CollectionRecipe) -> dict[str, GroupProgress]:
    """Committed progress of an earlier run into the same directory, checked against this recipe."""
    store.recover()
    sidecar = store.read_sidecar()
    if sidecar is None:
        if store.root.exists():
            raise InputError(f"{store.root} exists but was not written by `vp collect`; choose another --output")
        return {}
    if (
        CollectionRecipe.from_dict(sidecar["recipe"], source=str(store.root / store.sidecar_path)) != recipe
    ):  # new keys: defaults
        raise InputError(
            f"{store.root} was collected with a different recipe ({sidecar['recipe']['name']!r}); "
            "rerun with that recipe to resume, or choose another --output"
        )
    return {key: GroupProgress(**value) for key, value in sidecar["groups"].items()}


def collect(recipe: CollectionRecipe, output: str | Path, *, show_progress: bool = True) -> dict[str, GroupProgress]:
    """Collects the recipe's demos into `output`, resuming committed progress; returns per-group stats."""
    store = open_store(recipe, Path(output))
    progress = load_progress(store, recipe)
    target = len(recipe.tasks) * len(recipe.cameras) * recipe.episodes_per_camera
    done = sum(min(p.successes, recipe.episodes_per_camera) for p in progress.values())
    bar = tqdm(total=target, initial=done, desc=f"collect {recipe.name}", unit="demo", disable=not show_progress)
    for task in recipe.tasks:
        policy = expert_policy(task)
        for camera_index, camera in enumerate(recipe.cameras):
            group = progress.setdefault(group_key(task, camera), GroupProgress())
            if _group_finished(group, recipe):
                continue
            with (
                MetaWorldEnv(task, camera, recipe.image_size, max_episode_steps=recipe.max_episode_steps) as env,
                store.append() as txn,
            ):
                while not _group_finished(group, recipe):
                    seed = recipe.scene_seed(group.attempts, camera_index)
                    episode = run_expert_episode(env, policy, seed, recipe.action_noise_std, recipe.exploration_prob)
                    group.attempts += 1
                    group.successes += episode.success
                    if episode.success or recipe.keep_failed:
                        for frame in episode.frames():
                            txn.dataset.add_frame(frame)
                        txn.dataset.save_episode(parallel_encoding=False)
                        group.recorded += 1
                    bar.update(int(episode.success))
                    bar.set_postfix(task=task, camera=camera, failures=group.attempts - group.successes)
                txn.sidecar = {"recipe": recipe.to_dict(), "groups": {k: vars(v) for k, v in progress.items()}}
    bar.close()
    return progress


def _group_finished(group: GroupProgress, recipe: CollectionRecipe) -> bool:
    return group.successes >= recipe.episodes_per_camera or group.attempts >= recipe.max_attempts_per_camera

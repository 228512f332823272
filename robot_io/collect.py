"""Records scripted-expert demonstrations into a LeRobotDataset, resumable and crash-safe.

Each (task, camera) group is one atomic append: a crash loses at most the group in progress, and the
rerun continues from the committed progress with the same scene seeds. With `workers`, a group's attempts run
that many at a time in Ray environment processes and are taken in attempt order, so the dataset is the one
a single process records (the expert's noise is drawn from each episode's seed).
"""

import itertools
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, nullcontext
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from foundation.config_io import checked_keys, dataclass_from_dict
from foundation.errors import InputError
from robot_io.dataset_store import AtomicDatasetStore
from robot_io.episode_format import Episode, episode_features
from robot_io.metaworld_env import MetaWorldEnv
from robot_io.metaworld_expert import NoisyExpert, expert_episode
from robot_io.ray_envs import EnvWorkers, WorkerDied
from robot_io.recipe import CollectionRecipe

PROGRESS_SIDECAR = "collection_progress.json"


@dataclass
class GroupProgress:
    """Expert attempts and outcomes for one (task, camera) group."""

    attempts: int = 0
    successes: int = 0
    recorded: int = 0


def group_key(task: str, camera: str) -> str:
    return f"{task}/{camera}"


def open_store(recipe: CollectionRecipe, output: Path) -> AtomicDatasetStore:
    robot = MetaWorldEnv.features
    features = episode_features(recipe.image_size, robot)
    return AtomicDatasetStore(output, recipe.repo_id, robot.fps, features, robot.robot_type, PROGRESS_SIDECAR)


def load_progress(store: AtomicDatasetStore, recipe: CollectionRecipe) -> dict[str, GroupProgress]:
    """Committed progress of an earlier run into the same directory, checked against this recipe."""
    store.recover()
    sidecar = store.read_sidecar()
    if sidecar is None:
        if store.root.exists():
            raise InputError(f"{store.root} exists but was not written by `vp collect`; choose another --output")
        return {}
    saved, progress = read_progress(sidecar, str(store.root / store.sidecar_path))
    if saved != recipe:  # keys added to recipes since take their defaults
        raise InputError(
            f"{store.root} was collected with a different recipe ({saved.name!r}); "
            "rerun with that recipe to resume, or choose another --output"
        )
    return progress


def read_progress(sidecar: dict, source: str) -> tuple[CollectionRecipe, dict[str, GroupProgress]]:
    """The recipe and per-group progress a collection sidecar holds, each field checked."""
    checked_keys(sidecar, {"recipe": dict, "groups": dict}, source)
    recipe = CollectionRecipe.from_dict(sidecar["recipe"], source=f"{source} [recipe]")
    groups = {
        key: dataclass_from_dict(GroupProgress, value, f"{source} [groups.{key}]")
        for key, value in sidecar["groups"].items()
    }
    return recipe, groups


def demos_here(recipe: CollectionRecipe, task: str, camera: str, expert: NoisyExpert, seeds) -> Iterator[Episode]:
    """The expert's episode of each seed, one after another in this process."""
    with MetaWorldEnv(task, camera, recipe.image_size, max_episode_steps=recipe.max_episode_steps) as env:
        for seed in seeds:
            yield expert_episode(env, expert, seed)


def demos_in_workers(
    recipe: CollectionRecipe, task: str, camera: str, expert: NoisyExpert, seeds, workers: EnvWorkers
) -> Iterator[Episode]:
    """The expert's episode of each seed, one per worker at a time, in seed order; a seed whose worker dies is
    rerun in a fresh one."""
    envs = workers.open(task, camera, recipe.image_size, max_episode_steps=recipe.max_episode_steps)

    def demo(slot: int, seed: int) -> Episode:
        try:
            return envs[slot].apply(expert_episode, expert, seed)
        except WorkerDied:
            envs[slot] = workers.replace(envs[slot])
            return envs[slot].apply(expert_episode, expert, seed)

    with ThreadPoolExecutor(workers.count) as pool:
        while batch := list(itertools.islice(seeds, workers.count)):
            yield from pool.map(demo, range(len(batch)), batch)


def collect(
    recipe: CollectionRecipe, output: str | Path, *, workers: int = 1, show_progress: bool = True
) -> dict[str, GroupProgress]:
    """Collects the recipe's demos into `output`, resuming committed progress; returns per-group stats.
    `workers` > 1 runs each group's attempts that many at a time in Ray worker processes."""
    if workers < 1:
        raise InputError(f"--workers must be >= 1, got {workers}")
    store = open_store(recipe, Path(output))
    progress = load_progress(store, recipe)
    with EnvWorkers(workers) if workers > 1 else nullcontext() as env_workers:
        _collect_groups(store, recipe, progress, env_workers, show_progress)
    return progress


def _collect_groups(
    store: AtomicDatasetStore,
    recipe: CollectionRecipe,
    progress: dict[str, GroupProgress],
    workers: EnvWorkers | None,
    show_progress: bool,
) -> None:
    target = len(recipe.tasks) * len(recipe.cameras) * recipe.episodes_per_camera
    done = sum(min(p.successes, recipe.episodes_per_camera) for p in progress.values())
    bar = tqdm(total=target, initial=done, desc=f"collect {recipe.name}", unit="demo", disable=not show_progress)
    with bar:  # closed on an error too, so its line ends before the error line
        for task in recipe.tasks:
            expert = NoisyExpert(task, recipe.action_noise_std, recipe.exploration_prob)
            for camera_index, camera in enumerate(recipe.cameras):
                group = progress.setdefault(group_key(task, camera), GroupProgress())
                if not _group_finished(group, recipe):
                    _collect_group(store, recipe, task, camera_index, expert, progress, bar, workers)


def _collect_group(
    store: AtomicDatasetStore,
    recipe: CollectionRecipe,
    task: str,
    camera_index: int,
    expert: NoisyExpert,
    progress: dict[str, GroupProgress],
    bar: tqdm,
    workers: EnvWorkers | None,
) -> None:
    """Runs the expert on one (task, camera) group until it is finished, as one atomic append whose sidecar
    records every group's progress."""
    camera = recipe.cameras[camera_index]
    group = progress[group_key(task, camera)]
    seeds = (recipe.scene_seed(attempt, camera_index) for attempt in itertools.count(group.attempts))
    if workers is None:
        demos = demos_here(recipe, task, camera, expert, seeds)
    else:
        demos = demos_in_workers(recipe, task, camera, expert, seeds, workers)
    with closing(demos), store.append() as txn:
        for episode in demos:
            group.attempts += 1
            group.successes += episode.success
            if episode.success or recipe.keep_failed:
                for frame in episode.frames():
                    txn.dataset.add_frame(frame)
                txn.dataset.save_episode(parallel_encoding=False)
                group.recorded += 1
            bar.update(int(episode.success))
            bar.set_postfix(task=task, camera=camera, failures=group.attempts - group.successes)
            if _group_finished(group, recipe):
                break
        txn.sidecar = {"recipe": recipe.to_dict(), "groups": {k: vars(v) for k, v in progress.items()}}


def _group_finished(group: GroupProgress, recipe: CollectionRecipe) -> bool:
    return group.successes >= recipe.episodes_per_camera or group.attempts >= recipe.max_attempts_per_camera

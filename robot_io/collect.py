"""Records scripted-expert demonstrations into a LeRobotDataset, resumable and crash-safe.

Each (task, camera) group is one atomic append: a crash loses at most the group in progress, and the
rerun continues from the committed progress with the same scene seeds.
"""

from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from foundation.config_io import checked_keys, dataclass_from_dict
from foundation.errors import InputError
from robot_io.dataset_store import AtomicDatasetStore
from robot_io.episode_format import Episode, episode_features
from robot_io.executor import Executor
from robot_io.metaworld_env import MetaWorldEnv
from robot_io.metaworld_expert import NoisyExpert
from robot_io.recipe import CollectionRecipe

PROGRESS_SIDECAR = "collection_progress.json"


def expert_episode(env: MetaWorldEnv, expert: NoisyExpert, seed: int) -> Episode:
    """One episode of `expert` from scene `seed`, run by the Executor until success or the step limit."""
    return Executor(env, expert, record_images=True).run(seed).to_episode(env.camera)


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


def collect(recipe: CollectionRecipe, output: str | Path, *, show_progress: bool = True) -> dict[str, GroupProgress]:
    """Collects the recipe's demos into `output`, resuming committed progress; returns per-group stats."""
    store = open_store(recipe, Path(output))
    progress = load_progress(store, recipe)
    target = len(recipe.tasks) * len(recipe.cameras) * recipe.episodes_per_camera
    done = sum(min(p.successes, recipe.episodes_per_camera) for p in progress.values())
    bar = tqdm(total=target, initial=done, desc=f"collect {recipe.name}", unit="demo", disable=not show_progress)
    with bar:  # closed on an error too, so its line ends before the error line
        for task in recipe.tasks:
            expert = NoisyExpert(task, recipe.action_noise_std, recipe.exploration_prob)
            for camera_index, camera in enumerate(recipe.cameras):
                group = progress.setdefault(group_key(task, camera), GroupProgress())
                if not _group_finished(group, recipe):
                    _collect_group(store, recipe, task, camera_index, expert, progress, bar)
    return progress


def _collect_group(
    store: AtomicDatasetStore,
    recipe: CollectionRecipe,
    task: str,
    camera_index: int,
    expert: NoisyExpert,
    progress: dict[str, GroupProgress],
    bar: tqdm,
) -> None:
    """Runs the expert on one (task, camera) group until it is finished, as one atomic append whose sidecar
    records every group's progress."""
    camera = recipe.cameras[camera_index]
    group = progress[group_key(task, camera)]
    with (
        MetaWorldEnv(task, camera, recipe.image_size, max_episode_steps=recipe.max_episode_steps) as env,
        store.append() as txn,
    ):
        while not _group_finished(group, recipe):
            seed = recipe.scene_seed(group.attempts, camera_index)
            episode = expert_episode(env, expert, seed)
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


def _group_finished(group: GroupProgress, recipe: CollectionRecipe) -> bool:
    return group.successes >= recipe.episodes_per_camera or group.attempts >= recipe.max_attempts_per_camera

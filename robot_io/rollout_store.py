"""Rollouts of a planning agent recorded as a LeRobotDataset (SAIL's input): the expert-demo layout plus,
per step, the planned frame the agent was heading for. Each batch of episodes lands in one atomic append."""

from pathlib import Path

from robot_io.collect import METAWORLD_ENV_STATE_DIM
from robot_io.dataset_store import AtomicDatasetStore
from robot_io.episode_format import Episode, episode_features
from robot_io.metaworld_env import ACTION_NAMES, STATE_NAMES, MetaWorldEnv

ROLLOUT_SIDECAR = "rollout_progress.json"


def open_rollout_store(root: Path, image_size: int) -> AtomicDatasetStore:
    features = episode_features(image_size, STATE_NAMES, ACTION_NAMES, METAWORLD_ENV_STATE_DIM, with_plan_images=True)
    return AtomicDatasetStore(
        Path(root), "video-planner/rollouts", MetaWorldEnv.fps, features, "sawyer", ROLLOUT_SIDECAR
    )


def record_episodes(store: AtomicDatasetStore, episodes: list[Episode], rows: list[dict]) -> None:
    """Appends `episodes` and their result rows (one JSON-able dict each) to the sidecar, together: the
    sidecar is the record of which rollouts the dataset holds."""
    with store.append() as txn:
        for episode in episodes:
            for frame in episode.frames():
                txn.dataset.add_frame(frame)
            txn.dataset.save_episode(parallel_encoding=False)
        txn.sidecar = {"rows": txn.sidecar.get("rows", []) + rows}


def recorded_rows(store: AtomicDatasetStore) -> list[dict]:
    """The result rows of every rollout the dataset holds."""
    store.recover()
    return (store.read_sidecar() or {}).get("rows", [])

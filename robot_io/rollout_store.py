"""Rollouts of a planning agent recorded as a LeRobotDataset (SAIL's input): the expert-demo layout plus,
per step, the planned frame the agent was heading for. Each batch of episodes lands in one atomic append."""

from pathlib import Path

from foundation.config_io import checked_keys
from robot_io.dataset_io import open_metadata
from robot_io.dataset_store import AtomicDatasetStore
from robot_io.episode_format import ACTION_KEY, ENV_STATE_KEY, STATE_KEY, SUCCESS_KEY, Episode, episode_features
from robot_io.types import RobotFeatures

ROLLOUT_SIDECAR = "rollout_progress.json"


def open_rollout_store(
    root: Path, image_size: int, robot: RobotFeatures, with_outcomes: bool = True
) -> AtomicDatasetStore:
    """The rollout dataset at `root` of episodes of `robot` (see `robot_io.envs.task_features`); without
    outcomes for a robot that cannot tell success."""
    features = episode_features(image_size, robot, with_plan_images=True, with_outcomes=with_outcomes)
    return AtomicDatasetStore(
        Path(root), "video-planner/rollouts", robot.fps, features, robot.robot_type, ROLLOUT_SIDECAR
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
    sidecar = store.read_sidecar()
    if sidecar is None:
        return []
    return checked_keys(sidecar, {"rows": list}, str(store.root / store.sidecar_path))["rows"]


def recorded_robot(root: Path) -> RobotFeatures:
    """The robot features a recorded dataset was written with (its `meta/info.json`)."""
    meta = open_metadata(root)
    return RobotFeatures(
        robot_type=meta.robot_type,
        fps=meta.fps,
        state_names=tuple(meta.features[STATE_KEY]["names"]),
        action_names=tuple(meta.features[ACTION_KEY]["names"]),
        env_state_dim=meta.features[ENV_STATE_KEY]["shape"][0] if ENV_STATE_KEY in meta.features else 0,
    )


def recorded_outcomes(root: Path) -> bool:
    """Whether a recorded dataset holds the simulator's verdict per step (`next.success`); a robot's does not."""
    return SUCCESS_KEY in open_metadata(root).features

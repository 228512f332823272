"""The models learn any robot's layout: a synthetic dataset of a 6-joint arm (as an SO-101 records, joint
positions in degrees, no simulator state) trains the IDM and the planner through the same commands as MetaWorld."""

import numpy as np
import pytest

from foundation.errors import InputError
from robot_io.dataset_io import dataset_dimensions
from robot_io.dataset_store import AtomicDatasetStore
from robot_io.episode_format import Episode, episode_features
from robot_io.types import RobotFeatures
from video_planner.cli import main

JOINTS = ("shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper")
ARM = RobotFeatures(
    "so101_follower", 30, tuple(f"{j}.pos" for j in JOINTS), tuple(f"{j}.pos" for j in JOINTS), 0, (-100.0, 100.0)
)
INSTRUCTION = "put the cube in the bowl"


@pytest.fixture(scope="module")
def arm_dataset(tmp_path_factory):
    """Two 16-step episodes of random 32 px frames and joint readings; each action is the next reading."""
    root = tmp_path_factory.mktemp("arm") / "so101_synthetic"
    features = episode_features(32, ARM)
    store = AtomicDatasetStore(root, "local/so101_synthetic", ARM.fps, features, ARM.robot_type, "notes.json")
    rng = np.random.default_rng(0)
    with store.append() as txn:
        for seed in range(2):
            states = np.cumsum(rng.normal(0, 3, (17, 6)), axis=0).astype(np.float32)  # (T + 1, 6) degrees
            episode = Episode(
                images=rng.integers(0, 256, (16, 32, 32, 3), np.uint8),
                states=states[:-1],
                env_states=np.zeros((16, 0), np.float32),
                actions=states[1:],
                successes=np.zeros(16, bool),
                instruction=INSTRUCTION,
                camera="front",
                seed=seed,
            )
            for frame in episode.frames():
                txn.dataset.add_frame(frame)
            txn.dataset.save_episode(parallel_encoding=False)
    return root


def test_the_idm_takes_the_arms_dimensions_and_bounds_from_its_data(arm_dataset, tmp_path):
    from inverse_dynamics.model import InverseDynamics

    assert dataset_dimensions([arm_dataset]) == {"state_dim": 6, "action_dim": 6}
    argv = ["train-idm", "--dataset", str(arm_dataset), "--output", str(tmp_path / "idm"), "--steps", "3"]
    argv += ["--batch-size", "4", "--image-size", "32", "--chunk-size", "4", "--warmup-steps", "1"]
    assert main([*argv, "--action-low", "-100", "--action-high", "100", "--shift-pixels", "0"]) == 0
    idm = InverseDynamics.from_pretrained(tmp_path / "idm" / "checkpoint")
    assert (idm.config.state_dim, idm.config.action_dim) == (6, 6) and idm.trained_tasks == (INSTRUCTION,)
    frame = np.zeros((32, 32, 3), np.uint8)
    actions = idm.actions(frame, np.full(6, 10.0, np.float32), frame)
    assert actions.shape == (4, 6) and np.all(np.abs(actions) <= 100)
    assert np.abs(actions).max() > 1  # degrees, not MetaWorld's [-1, 1]


def test_the_planner_trains_on_the_arms_data(arm_dataset, tmp_path, tiny_planner_config):
    from video_planner.model.planner import VideoPlanner
    from video_planner.training.train import PlannerTrainer
    from video_planner.training.train_config import TrainConfig

    config = TrainConfig(datasets=(str(arm_dataset),), steps=2, autoencoder_steps=2, batch_size=2)
    checkpoint = PlannerTrainer(tiny_planner_config, config, tmp_path / "planner", show_progress=False).run()
    planner = VideoPlanner.from_pretrained(checkpoint)
    assert planner.trained_tasks == (INSTRUCTION,)
    plan = planner.plan(np.zeros((32, 32, 3), np.uint8), INSTRUCTION, seed=0, steps=1)
    assert plan.frames.shape == (3, 32, 32, 3)


def test_datasets_of_two_robots_are_not_pooled(arm_dataset, two_episode_dataset):
    with pytest.raises(InputError, match="holds a robot of .*'state_dim': 4.*; train on one robot's data"):
        dataset_dimensions([arm_dataset, two_episode_dataset])

"""The models learn any robot's layout: a dataset laid out as `lerobot-record` writes an SO-101's (LeRobot's own
feature builder, a 640×480 camera named "front" in AV1, six joint positions in degrees, no simulator state and no
outcome columns) trains the IDM and the planner through the same commands as MetaWorld's."""

import numpy as np
import pytest
from lerobot.datasets.lerobot_dataset import LeRobotDataset
from lerobot.utils.feature_utils import hw_to_dataset_features

from foundation.errors import InputError
from robot_io.dataset_io import dataset_dimensions
from robot_io.frame_bank import FrameBank
from video_planner.cli import main

JOINT_NAMES = ("shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper")
JOINTS = tuple(f"{joint}.pos" for joint in JOINT_NAMES)
INSTRUCTION = "put the cube in the bowl"


@pytest.fixture(scope="module")
def arm_dataset(tmp_path_factory):
    """Two 16-step episodes as `lerobot-record` stores them: LeRobot's features from the robot's own feature
    dicts, its default video encoding. The frames are random but for a green centred square; each action is the
    next joint reading."""
    root = tmp_path_factory.mktemp("arm") / "so101_recorded"
    motors = {joint: float for joint in JOINTS}
    features = hw_to_dataset_features(motors, "action") | hw_to_dataset_features(
        {**motors, "front": (480, 640, 3)}, "observation", use_video=True
    )
    dataset = LeRobotDataset.create("local/so101_recorded", 30, features, root=root, robot_type="so101_follower")
    rng = np.random.default_rng(0)
    for _ in range(2):
        states = np.cumsum(rng.normal(0, 3, (17, 6)), axis=0).astype(np.float32)  # (T + 1, 6) degrees
        for t in range(16):
            image = rng.integers(0, 256, (480, 640, 3), np.uint8)
            image[:, 80:560] = (0, 200, 0)  # the 480×480 square a model sees; the 80 columns each side are noise
            frame = {"observation.images.front": image, "observation.state": states[t], "action": states[t + 1]}
            dataset.add_frame(frame | {"task": INSTRUCTION})
        dataset.save_episode()
    dataset.finalize()
    return root


def test_a_recorded_arm_dataset_loads_cropped_square_without_outcomes(arm_dataset):
    bank = FrameBank.load(arm_dataset, image_size=32, show_progress=False)
    assert bank.frames.shape == (32, 3, 32, 32) and bank.successes is None
    green = bank.frames[:, 1].float().mean() - bank.frames[:, 0].float().mean()
    assert green > 150  # the centred square, not the noisy sides (lossy AV1 blurs a little)
    assert bank.instructions == [INSTRUCTION] * 2 and bank.actions.shape == (32, 6)
    with pytest.raises(InputError, match="has no camera 'observation.images.wrist'; its cameras: observation"):
        FrameBank.load(arm_dataset, image_size=32, show_progress=False, camera_key="observation.images.wrist")


def test_the_idm_takes_the_arms_dimensions_and_bounds_from_its_data(arm_dataset, tmp_path):
    from inverse_dynamics.model import InverseDynamics

    assert dataset_dimensions([arm_dataset]) == {"state_dim": 6, "action_dim": 6}
    argv = ["train-idm", "--dataset", str(arm_dataset), "--output", str(tmp_path / "idm"), "--steps", "3"]
    argv += ["--batch-size", "4", "--image-size", "32", "--chunk-size", "4", "--warmup-steps", "1"]
    argv += ["--camera-key", "observation.images.front"]  # the dataset's only camera: the flag may also be left out
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

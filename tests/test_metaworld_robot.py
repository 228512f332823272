"""MetaWorld as a LeRobot robot: built by LeRobot's own factory from its config registry, found by LeRobot's plugin
rule in a fresh process, and stepping the same scene as `MetaWorldEnv` for the same seed and actions."""

import subprocess
import sys

import numpy as np
import pytest
from lerobot.robots.utils import make_robot_from_config
from lerobot.utils.feature_utils import hw_to_dataset_features

from foundation.errors import InputError
from robot_io.lerobot_robot import MetaWorldRobot, MetaWorldRobotConfig
from robot_io.metaworld_env import MetaWorldEnv


@pytest.fixture
def robot(tmp_path):
    config = MetaWorldRobotConfig(task="door-open-v3", camera="corner2", seed=5, calibration_dir=tmp_path)
    with make_robot_from_config(config) as robot:
        yield robot


def test_lerobot_builds_it_and_its_observations_match_its_features(robot):
    assert isinstance(robot, MetaWorldRobot) and robot.is_connected and robot.config.task == "door-open"
    observation = robot.get_observation()
    assert observation.keys() == robot.observation_features.keys()
    assert observation["camera"].shape == (64, 64, 3) and observation["camera"].dtype == np.uint8
    assert all(isinstance(observation[name], float) for name in ("hand_x", "hand_y", "hand_z", "gripper_opening"))
    features = hw_to_dataset_features(robot.observation_features, "observation")  # what a recording is made of
    assert features["observation.state"]["names"] == ["hand_x", "hand_y", "hand_z", "gripper_opening"]
    assert features["observation.images.camera"]["shape"] == (64, 64, 3)


def test_it_steps_the_same_scene_as_the_env(robot):
    actions = np.random.default_rng(0).uniform(-1, 1, (20, 4)).astype(np.float32)
    with MetaWorldEnv("door-open", "corner2", 64) as env:
        env.reset(5)
        for action in actions:
            sent = robot.send_action(dict(zip(robot.action_features, action.tolist(), strict=True)))
            expected = env.step(action).observation
        assert list(sent) == ["delta_x", "delta_y", "delta_z", "gripper_effort"]
        observation = robot.get_observation()
        np.testing.assert_array_equal(observation["camera"], expected.image)
        np.testing.assert_allclose([observation[n] for n in ("hand_x", "hand_y", "hand_z")], expected.state[:3])
    before = robot.get_observation()["hand_x"]
    robot.reset_scene(6)
    assert robot.get_observation()["hand_x"] != before and not robot.last_success


def test_bad_configs_and_actions_are_refused(robot, tmp_path):
    with pytest.raises(InputError, match="did you mean door-open"):
        MetaWorldRobotConfig(task="door-opne", calibration_dir=tmp_path)
    with pytest.raises(InputError, match="unknown MetaWorld camera"):
        MetaWorldRobotConfig(camera="top", calibration_dir=tmp_path)
    with pytest.raises(ValueError, match="lacks delta_z"):
        robot.send_action({"delta_x": 0.0, "delta_y": 0.0, "gripper_effort": 0.0})
    robot.disconnect()
    with pytest.raises(RuntimeError, match="not connected"):
        robot.get_observation()


def test_lerobot_finds_the_robot_type_through_its_plugin_rule():
    """A fresh process that imports nothing of ours: LeRobot's plugin rule alone registers `metaworld`."""
    code = (
        "from lerobot.utils.import_utils import register_third_party_plugins\n"
        "from lerobot.robots.config import RobotConfig\n"
        "register_third_party_plugins()\n"
        "print(RobotConfig.get_choice_class('metaworld').__name__)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.stdout.strip().splitlines()[-1] == "MetaWorldRobotConfig", result.stderr

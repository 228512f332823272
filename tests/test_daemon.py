"""The daemon on the MetaWorld robot (LeRobot's Robot API over the real simulator) with a tiny planner and IDM
(random weights): episodes run at the control rate while plans are made in another thread; e-stop, dry run,
a hung robot and mismatched models are handled as the daemon promises."""

import threading
import time

import numpy as np
import pytest
import torch

from foundation.errors import InputError
from inverse_dynamics.config import InverseDynamicsConfig
from inverse_dynamics.model import InverseDynamics
from robot_io.lerobot_robot import MetaWorldRobot, MetaWorldRobotConfig
from video_planner.daemon.controller import NO_PLAN
from video_planner.daemon.daemon import Daemon
from video_planner.daemon.robot_link import RobotLink
from video_planner.daemon.settings import DaemonSettings
from video_planner.model.planner import VideoPlanner

# Episodes run until a test has seen enough actions and stops them: a loaded test machine plans slower, and no
# assertion may depend on how many ticks a plan takes. A 1 s watchdog for the same reason (its own test sets less).
SETTINGS = DaemonSettings(
    fps=40, replan_every=8, stale_after=400, max_episode_steps=100_000, max_step_change=0.5, watchdog_periods=40
)


@pytest.fixture(scope="module")
def planner(text_encoder, tiny_planner_config):
    torch.manual_seed(0)
    return VideoPlanner(tiny_planner_config, text_encoder=text_encoder).eval()


def tiny_idm(action_dim: int = 4) -> InverseDynamics:
    torch.manual_seed(1)
    config = InverseDynamicsConfig(image_size=32, chunk_size=4, encoder_channels=(8, 16), hidden_dim=32)
    idm = InverseDynamics(InverseDynamicsConfig(**(config.__dict__ | {"action_dim": action_dim}))).eval()
    idm.action_std.fill_(0.5)  # random weights, but actions large enough to move the arm
    return idm


@pytest.fixture
def robot(tmp_path):
    config = MetaWorldRobotConfig(task="door-open", image_size=32, seed=3, calibration_dir=tmp_path)
    with MetaWorldRobot(config) as robot:
        yield robot


def hand(robot) -> np.ndarray:
    observation = robot.get_observation()
    return np.array([observation["hand_x"], observation["hand_y"], observation["hand_z"]])


def run_until(daemon: Daemon, actions: int, instruction: str = "open the door", timeout_s: float = 120) -> dict:
    """Starts an episode, stops it once it has sent `actions` actions; its final status."""
    daemon.start(instruction)
    deadline = time.monotonic() + timeout_s
    while daemon.status()["actions"] < actions and time.monotonic() < deadline:
        assert daemon.status()["state"] == "running", daemon.status()
        time.sleep(0.02)
    daemon.stop()
    return daemon.status()


def test_an_episode_plans_in_the_background_and_moves_the_arm(robot, planner):
    daemon = Daemon(RobotLink.of(robot), planner, tiny_idm(), SETTINGS)
    start = hand(robot)
    status = run_until(daemon, actions=30)
    daemon.close()
    assert status["state"] == "idle" and status["episodes"] == 1 and status["actions"] >= 30
    assert status["holds"].get(NO_PLAN, 0) >= 1  # the first plan takes a while: the arm held meanwhile
    assert status["actions"] + sum(status["holds"].values()) == status["steps"]
    assert np.linalg.norm(hand(robot) - start) > 1e-3
    assert daemon.controller.plan_number >= 2  # replanned while acting (a plan every 8 ticks)


def test_a_dry_run_decides_actions_and_sends_none(robot, planner):
    daemon = Daemon(RobotLink.of(robot), planner, tiny_idm(), DaemonSettings(**(SETTINGS.__dict__ | {"dry_run": True})))
    start = hand(robot)
    status = run_until(daemon, actions=20)
    daemon.close()
    assert status["actions"] >= 20
    np.testing.assert_array_equal(hand(robot), start)


class CountingLink(RobotLink):
    """The robot's link that also notes when each send happened (for the e-stop's promise)."""

    def send(self, action):
        super().send(action)
        self.sent_at.append(time.monotonic())


def test_after_estop_returns_nothing_more_is_sent(robot, planner):
    link = CountingLink(*RobotLink.of(robot).__dict__.values())
    object.__setattr__(link, "sent_at", [])
    settings = SETTINGS
    daemon = Daemon(link, planner, tiny_idm(), settings)
    daemon.start("open the door")
    while len(link.sent_at) < 5:
        time.sleep(0.01)
    daemon.estop()
    stopped_at = time.monotonic()
    time.sleep(5 / settings.fps)
    assert daemon.status()["state"] == "estopped" and daemon.status()["estop_reason"] == "e-stop"
    assert all(t <= stopped_at for t in link.sent_at)
    daemon.start("open the door")  # a deliberate start releases it
    assert daemon.status()["state"] == "running"
    daemon.close()


class HangingRobot(MetaWorldRobot):
    """A robot whose reads hang after a while, as a wedged serial bus would."""

    hang = threading.Event()

    def get_observation(self):
        if self.hang.is_set():
            time.sleep(3.0)
        return super().get_observation()


def test_the_watchdog_estops_a_loop_that_stops_ticking(planner, tmp_path):
    config = MetaWorldRobotConfig(task="door-open", image_size=32, calibration_dir=tmp_path)
    with HangingRobot(config) as robot:
        settings = DaemonSettings(**(SETTINGS.__dict__ | {"watchdog_periods": 20}))
        daemon = Daemon(RobotLink.of(robot), planner, tiny_idm(), settings)
        daemon.start("open the door")
        time.sleep(0.2)
        robot.hang.set()
        time.sleep(1.5)  # the watchdog waits 0.5 s, the robot hangs for 3
        status = daemon.status()
        robot.hang.clear()
        daemon.close()
    assert status["state"] == "estopped" and status["estop_reason"].startswith("watchdog")


def test_models_that_do_not_fit_the_robot_are_refused_at_start(robot, planner):
    with pytest.raises(InputError, match="action dimension: IDM 6, robot 4"):
        Daemon(RobotLink.of(robot), planner, tiny_idm(action_dim=6), SETTINGS)
    with pytest.raises(InputError, match="multiple of the IDM chunk size"):
        Daemon(RobotLink.of(robot), planner, tiny_idm(), DaemonSettings(replan_every=6, stale_after=40))
    with pytest.raises(InputError, match="no camera 'wrist'"):
        RobotLink.of(robot, camera="wrist")


def test_each_episode_lands_in_a_lerobot_dataset_the_trainers_read(robot, planner, tmp_path):
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    from robot_io.frame_bank import FrameBank
    from video_planner.daemon.recorder import EpisodeRecorder
    from video_planner.sail.success_detector import SuccessDetector, SuccessDetectorConfig

    link = RobotLink.of(robot)
    detector = SuccessDetector(
        SuccessDetectorConfig(image_size=32, encoder_channels=(8, 16), hidden_dim=16), planner.text_encoder
    )
    features = link.features(SETTINGS.fps, (-1.0, 1.0))
    recorder = EpisodeRecorder(tmp_path / "episodes", 32, features, link.camera, detector.eval())
    daemon = Daemon(link, planner, tiny_idm(), SETTINGS, recorder)
    first = run_until(daemon, 10, "open the door")
    second = run_until(daemon, 10, "close the door")
    daemon.close()
    dataset = LeRobotDataset("local/daemon", root=tmp_path / "episodes")
    assert dataset.num_episodes == 2 and dataset.num_frames == first["actions"] + second["actions"]
    assert "next.success" not in dataset.features  # a robot's episodes carry no outcome
    rows = recorder.episodes()
    assert [row["ended"] for row in rows] == ["stop", "stop"]
    assert all(0.0 <= row["detector_p_success"] <= 1.0 for row in rows)  # an estimate beside, not a label
    bank = FrameBank.load(tmp_path / "episodes", image_size=32)
    assert bank.successes is None and sorted(set(bank.instructions)) == ["close the door", "open the door"]


def test_a_simulated_robot_starts_from_a_fresh_scene_and_an_arm_cannot(robot, planner):
    daemon = Daemon(RobotLink.of(robot), planner, tiny_idm(), SETTINGS)
    robot.reset_scene(7)
    scene_seven = hand(robot)
    run_until(daemon, actions=10)
    assert np.linalg.norm(hand(robot) - scene_seven) > 1e-3
    daemon.start("open the door", scene_seed=7)  # the scene of seed 7 again, before the first tick
    daemon.estop()
    daemon.close()
    np.testing.assert_allclose(hand(robot), scene_seven, atol=0.02)

    class Arm:  # the Robot API without a simulator's reset
        name = "so101_follower"

    with pytest.raises(InputError, match="cannot reset its scene"):
        RobotLink(Arm(), "front", ("a",), ("a",)).reset_scene(0)

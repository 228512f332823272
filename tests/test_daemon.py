"""The daemon on the MetaWorld robot (LeRobot's Robot API over the real simulator) with a tiny planner and IDM
(random weights): episodes run at the control rate while plans are made in another thread; e-stop, dry run,
a hung robot and mismatched models are handled as the daemon promises."""

import json
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


@pytest.fixture(scope="module")
def recorded(tmp_path_factory, planner):
    """Two daemon episodes (two instructions) recorded with a success detector's estimates; (dataset, the
    recorder's rows, the episodes' final statuses, the detector)."""
    from video_planner.daemon.recorder import EpisodeRecorder
    from video_planner.sail.success_detector import SuccessDetector, SuccessDetectorConfig

    root = tmp_path_factory.mktemp("daemon_recording")
    config = MetaWorldRobotConfig(task="door-open", image_size=32, seed=3, calibration_dir=root / "calibration")
    torch.manual_seed(2)
    detector = SuccessDetector(
        SuccessDetectorConfig(image_size=32, encoder_channels=(8, 16), hidden_dim=16), planner.text_encoder
    ).eval()
    with MetaWorldRobot(config) as robot:
        link = RobotLink.of(robot)
        features = link.features(SETTINGS.fps, (-1.0, 1.0))
        recorder = EpisodeRecorder(root / "episodes", 32, features, link.camera, detector)
        daemon = Daemon(link, planner, tiny_idm(), SETTINGS, recorder)
        statuses = [run_until(daemon, 10, "open the door"), run_until(daemon, 10, "close the door")]
        daemon.close()
    return root / "episodes", recorder.episodes(), statuses, detector


def test_each_episode_lands_in_a_lerobot_dataset_the_trainers_read(recorded):
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    from robot_io.frame_bank import FrameBank

    episodes, rows, (first, second), _ = recorded
    dataset = LeRobotDataset("local/daemon", root=episodes)
    assert dataset.num_episodes == 2 and dataset.num_frames == first["actions"] + second["actions"]
    assert "next.success" not in dataset.features  # a robot's episodes carry no outcome
    assert [row["ended"] for row in rows] == ["stop", "stop"]
    assert all(0.0 <= row["detector_p_success"] <= 1.0 for row in rows)  # an estimate beside, not a label
    bank = FrameBank.load(episodes, image_size=32)
    assert bank.successes is None and sorted(set(bank.instructions)) == ["close the door", "open the door"]


def test_vp_sail_step_filters_the_daemons_episodes_and_fine_tunes_on_them(recorded, planner, tmp_path, capsys):
    """The daemon's dataset is SAIL's input: the learned filter keeps the episode its detector rates likelier
    solved, and the planner and IDM are fine-tuned on it; the oracle filter, which needs the simulator's
    verdict, is refused in one line, since a robot's episodes record none."""
    from foundation.hub import weights_digest
    from robot_io.dataset_io import read_end_frames
    from video_planner.cli import main

    episodes, _, _, detector = recorded
    for name, model in (("planner", planner), ("idm", tiny_idm()), ("detector", detector)):
        model.save_pretrained(tmp_path / name)
    firsts, lasts, instructions = read_end_frames(episodes)
    probabilities = detector.probabilities(list(firsts), list(lasts), instructions)
    models = ["--planner", str(tmp_path / "planner"), "--idm", str(tmp_path / "idm")]
    schedule = ["--planner-steps", "2", "--idm-steps", "2", "--warmup-steps", "1"]
    step = ["sail-step", "--rollouts", str(episodes), *models, *schedule, "--output", str(tmp_path / "step")]
    learned = ["--detector", str(tmp_path / "detector"), "--threshold", str(float(probabilities.max()))]
    assert main([*step, *learned]) == 0
    assert "kept 1 of 2 rollouts (learned filter)" in capsys.readouterr().out
    result = json.loads((tmp_path / "step" / "filter.json").read_text())
    assert [v["kept"] for v in result["verdicts"]] == list(probabilities == probabilities.max())
    assert "oracle_successes" not in result and all("success" not in v for v in result["verdicts"])
    new = json.loads((tmp_path / "step" / "models.json").read_text())
    assert new["finetuned_on"] == [str(tmp_path / "step" / "kept")]
    assert weights_digest(VideoPlanner.from_pretrained(new["planner"])) != weights_digest(planner)
    assert weights_digest(InverseDynamics.from_pretrained(new["idm"])) != weights_digest(tiny_idm())

    assert main([*step[:-1], str(tmp_path / "oracle"), "--filter", "oracle"]) == 2
    assert not (tmp_path / "oracle").exists()  # refused before anything was written
    error = capsys.readouterr().err.strip()
    assert "records no simulator verdict" in error and "\n" not in error


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

"""The daemon as operators run it: `vp daemon` in its own process on the MetaWorld robot (from LeRobot's registry)
with models from directories, driven over its control interface; and a planning server that dies mid-episode."""

import signal
import socket
import subprocess
import sys
import time

import httpx
import numpy as np
import pytest
import torch
from lerobot.datasets.lerobot_dataset import LeRobotDataset

from inverse_dynamics.config import InverseDynamicsConfig
from inverse_dynamics.model import InverseDynamics
from robot_io.lerobot_robot import MetaWorldRobot, MetaWorldRobotConfig
from video_planner.daemon.controller import STALE_PLAN
from video_planner.daemon.daemon import Daemon
from video_planner.daemon.robot_link import RobotLink
from video_planner.daemon.settings import DaemonSettings
from video_planner.model.planner import VideoPlanner
from video_planner.serving.app import create_app
from video_planner.serving.client import PlannerClient
from video_planner.serving.served_models import ServedModels
from video_planner.serving.server import running_server
from video_planner.serving.settings import ServeSettings


@pytest.fixture(scope="module")
def models(text_encoder, tiny_planner_config):
    torch.manual_seed(0)
    planner = VideoPlanner(tiny_planner_config, text_encoder=text_encoder).eval()
    config = InverseDynamicsConfig(image_size=32, chunk_size=4, encoder_channels=(8, 16), hidden_dim=32)
    idm = InverseDynamics(config).eval()
    idm.action_std.fill_(0.5)
    return planner, idm


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(predicate, timeout_s: float = 120, every_s: float = 0.05):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every_s)
    raise AssertionError("timed out")


def test_vp_daemon_runs_episodes_over_its_control_interface_and_keeps_them_through_sigkill(models, tmp_path):
    planner, idm = models
    planner.save_pretrained(tmp_path / "planner")
    idm.save_pretrained(tmp_path / "idm")
    port = free_port()
    command = [sys.executable, "-m", "video_planner.cli", "daemon", "--robot.type=metaworld"]
    command += ["--robot.image_size=32", f"--robot.calibration_dir={tmp_path / 'calibration'}"]
    command += [
        "--planner",
        str(tmp_path / "planner"),
        "--idm",
        str(tmp_path / "idm"),
        "--output",
        str(tmp_path / "run"),
    ]
    command += ["--fps", "40", "--replan-every", "8", "--stale-after", "400", "--max-episode-steps", "100000"]
    command += ["--watchdog-periods", "40"]  # 1 s: a loaded test machine must not trip it
    command += ["--port", str(port)]
    daemon = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:

        def up():
            assert daemon.poll() is None, daemon.stderr.read()
            try:
                return httpx.get(f"{base}/healthz").status_code == 200
            except httpx.TransportError:
                return False

        wait_for(up)
        assert httpx.post(f"{base}/start", json={"instruction": ""}).status_code == 422
        assert httpx.post(f"{base}/start", json={"instruction": "open the door"}).json()["state"] == "running"
        assert httpx.post(f"{base}/start", json={"instruction": "open the door"}).status_code == 409
        wait_for(lambda: httpx.get(f"{base}/status").json()["actions"] >= 10)  # however long planning takes here
        status = httpx.post(f"{base}/stop").json()
        assert status["state"] == "idle" and status["episodes"] == 1 and status["actions"] >= 10
        httpx.post(f"{base}/start", json={"instruction": "close the door"})  # killed mid-episode
        time.sleep(0.3)
    finally:
        daemon.send_signal(signal.SIGKILL)
        daemon.communicate(timeout=30)
    dataset = LeRobotDataset("local/daemon", root=tmp_path / "run")
    assert dataset.num_episodes == 1 and dataset.num_frames == status["actions"]
    assert dataset[0]["task"] == "open the door"


def test_the_arm_holds_while_the_planning_server_is_down_and_resumes_when_it_returns(models, tmp_path):
    planner, idm = models
    settings = ServeSettings(port=free_port())
    app = lambda: create_app(ServedModels(planner, "tiny"), settings, None)  # noqa: E731
    config = MetaWorldRobotConfig(task="door-open", image_size=32, calibration_dir=tmp_path)
    with MetaWorldRobot(config) as robot:
        with running_server(app(), settings) as url:
            client = PlannerClient(url, retries=0, timeout_s=5)
            daemon_settings = DaemonSettings(
                fps=40, replan_every=8, stale_after=80, max_episode_steps=100_000, watchdog_periods=40
            )
            daemon = Daemon(RobotLink.of(robot), client, idm, daemon_settings)
            daemon.start("open the door")
            wait_for(lambda: daemon.status()["actions"] >= 10)
        # the server is gone: the plan goes stale and the arm holds
        wait_for(lambda: daemon.status()["holds"].get(STALE_PLAN, 0) >= 10)
        held_at = daemon.status()["actions"]
        time.sleep(0.3)
        assert daemon.status()["actions"] == held_at and daemon.status()["planner_error"]
        with running_server(app(), settings):
            wait_for(lambda: daemon.status()["actions"] >= held_at + 10)  # planning resumed, so did the arm
        daemon.close()
    assert np.isfinite(robot.last_success)

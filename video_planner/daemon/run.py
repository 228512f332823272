"""`vp daemon`: the models, the robot (from LeRobot's registry) and the control interface, up until interrupted.

    vp daemon --robot.type=so101_follower --robot.port=/dev/ttyACM0 --robot.id=my_arm \\
        --planner http://gpu-box:8000 --idm outputs/idm/so101/checkpoint --output outputs/daemon/so101 --fps 10
    curl -X POST localhost:8100/start -H 'content-type: application/json' -d '{"instruction": "open the door"}'
"""

import os
from pathlib import Path

import uvicorn
from lerobot.robots.utils import make_robot_from_config

from foundation.errors import InputError
from inverse_dynamics.model import InverseDynamics
from video_planner.daemon.control_api import create_control_app
from video_planner.daemon.daemon import Daemon
from video_planner.daemon.recorder import EpisodeRecorder
from video_planner.daemon.robot_flags import robot_config_from_flags
from video_planner.daemon.robot_link import RobotLink
from video_planner.daemon.settings import ControlSettings, DaemonSettings
from video_planner.model.loading import load_planner
from video_planner.model.planner_source import PlannerSource
from video_planner.serving.client import PlannerClient
from video_planner.serving.server import log_access_as_json_lines
from video_planner.serving.settings import TOKEN_ENV, bearer_token

DAEMON_TOKEN_ENV = "VP_DAEMON_TOKEN"
PLANNING_SERVER_SCHEMES = ("http://", "https://")


def load_daemon_planner(planner: str, device: str | None):
    """A local planner (directory or Hub id), or a planning server's `PlannerClient` for an http(s) URL (its
    token from VP_API_TOKEN)."""
    if planner.startswith(PLANNING_SERVER_SCHEMES):
        return PlannerClient(planner, token=os.environ.get(TOKEN_ENV) or None)
    return load_planner(PlannerSource(planner=planner, device=device))


def run_daemon(
    robot_flags: list[str],
    planner: str,
    idm: str,
    settings: DaemonSettings,
    control: ControlSettings,
    output: Path | None = None,
    camera: str | None = None,
    device: str | None = None,
    detector: str | None = None,
) -> None:
    token = bearer_token(control.host, control.token_file, DAEMON_TOKEN_ENV)  # before anything moves
    robot_config = robot_config_from_flags(robot_flags)
    plans = load_daemon_planner(planner, device)
    model = InverseDynamics.from_pretrained(idm)
    judge = None
    if detector is not None:
        if output is None:
            raise InputError("--detector estimates the success of recorded episodes; give --output too")
        from video_planner.sail.success_detector import SuccessDetector

        judge = SuccessDetector.from_pretrained(detector)
    robot = make_robot_from_config(robot_config)
    robot.connect()
    daemon = None
    try:
        link = RobotLink.of(robot, camera)
        bounds = (model.config.action_low, model.config.action_high)
        recorder = None
        if output is not None:
            features = link.features(settings.fps, bounds)
            recorder = EpisodeRecorder(output, model.config.image_size, features, link.camera, judge)
        daemon = Daemon(link, plans, model, settings, recorder)
        log_access_as_json_lines()
        where = f"http://{control.host}:{control.port}"
        print(f"daemon for {robot.name} on {where}: POST /start, /stop, /estop; GET /status", flush=True)
        app = create_control_app(daemon, token)
        uvicorn.Server(uvicorn.Config(app, host=control.host, port=control.port, log_level="warning")).run()
    finally:
        if daemon is not None:
            daemon.close()
        robot.disconnect()

"""`--robot.type=so101_follower --robot.port=/dev/ttyACM0 ...`: a robot from LeRobot's robot config registry,
parsed by LeRobot's own parser (draccus), so every robot LeRobot drives (and our `metaworld`) is named the way
LeRobot's commands name it."""

import contextlib
import importlib
import io
from dataclasses import dataclass

import draccus
from draccus.utils import DraccusException
from lerobot.robots import RobotConfig
from lerobot.utils.import_utils import register_third_party_plugins

from foundation.errors import InputError

# The robot modules whose configs LeRobot's own commands register (as `lerobot-record` imports them).
LEROBOT_ROBOTS = ("so_follower", "koch_follower", "omx_follower", "bi_so_follower", "openarm_follower", "lekiwi")


@dataclass
class RobotFlags:
    robot: RobotConfig


def robot_config_from_flags(flags: list[str]) -> RobotConfig:
    """The robot config `--robot.*` flags describe; refused in one line when they do not describe one."""
    for name in LEROBOT_ROBOTS:
        importlib.import_module(f"lerobot.robots.{name}")
    importlib.import_module("robot_io.lerobot_robot")
    register_third_party_plugins()
    if not any(flag.startswith("--robot.type") for flag in flags):
        known = ", ".join(sorted(RobotConfig.get_known_choices()))
        raise InputError(f"name the robot with --robot.type=...; known types: {known}")
    printed = io.StringIO()
    try:
        with contextlib.redirect_stderr(printed):
            return draccus.parse(RobotFlags, args=flags).robot
    except SystemExit:  # draccus's usage block and error; ours is its last line
        problem = printed.getvalue().strip().splitlines()[-1].partition("error: ")[2]
        raise InputError(f"bad robot flags: {problem}") from None
    except DraccusException as err:  # a config that refused its values says why in its own error
        cause = err.__cause__ or err
        raise InputError(f"bad robot flags: {str(cause).splitlines()[0]}") from None

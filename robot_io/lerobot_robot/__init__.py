"""MetaWorld as a LeRobot `Robot` of type `metaworld`: importing this package registers it with LeRobot's robot
config registry, so code that drives arms through LeRobot (the daemon, `lerobot-record`) drives the simulator
the same way. LeRobot's own commands find it through the `lerobot_robot_metaworld` plugin distribution."""

from robot_io.lerobot_robot.config_metaworld_robot import MetaWorldRobotConfig
from robot_io.lerobot_robot.metaworld_robot import MetaWorldRobot

__all__ = ["MetaWorldRobot", "MetaWorldRobotConfig"]

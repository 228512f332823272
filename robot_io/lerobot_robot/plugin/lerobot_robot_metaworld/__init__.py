"""Imported by LeRobot's plugin rule: registers the `metaworld` robot type."""

import robot_io.lerobot_robot  # noqa: F401

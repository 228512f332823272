"""LeRobot's plugin hook: importing it registers the `video_planner` policy type (see video_planner.lerobot_policy)."""

import video_planner.lerobot_policy  # noqa: F401

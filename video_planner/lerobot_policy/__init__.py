"""The LeRobot policy type `video_planner`. Importing this package registers the config class and the processor
steps with LeRobot's registries; LeRobot's own commands import it through the `lerobot_policy_video_planner`
plugin distribution (`plugin/`), which `make setup` installs."""

from video_planner.lerobot_policy import configuration_video_planner, processor_video_planner  # noqa: F401

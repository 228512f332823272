"""The one place a rollout's environment is chosen: evaluation, SAIL and the rollout store open environments and
read robot features here, never from one benchmark's constants. A second benchmark (LIBERO through LeRobot's
envs) or a real arm plugs in by extending `make_env` and `task_features`."""

from robot_io.metaworld_env import METAWORLD_FEATURES, MetaWorldEnv
from robot_io.metaworld_tasks import MAX_EPISODE_STEPS, resolve_task
from robot_io.types import Env, RobotFeatures


def make_env(
    task: str,
    camera: str,
    image_size: int,
    *,
    max_episode_steps: int = MAX_EPISODE_STEPS,
    seed: int = 0,
    render_scale: int = 1,
    render_effects: bool = False,
) -> Env:
    """An environment of `task` seen from `camera` at `image_size` pixels (rendered `render_scale` times larger
    and area-resized, with shadows and skybox if `render_effects`), episodes capped at `max_episode_steps`."""
    return MetaWorldEnv(
        task,
        camera,
        image_size,
        seed=seed,
        max_episode_steps=max_episode_steps,
        render_scale=render_scale,
        render_effects=render_effects,
    )


def task_features(task: str) -> RobotFeatures:
    """The features of the robot `task` runs on, known before any environment is opened."""
    resolve_task(task)  # an unknown task is refused here, naming the closest valid one
    return METAWORLD_FEATURES

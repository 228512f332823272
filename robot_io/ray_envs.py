"""MetaWorld environments in Ray actors: each steps and renders in a process of its own, so several episodes run
side by side while the caller keeps the models. `RemoteEnv` is an `Env` (and has the snapshot/restore the
oracle planner rolls ahead with), so the executor, the agent and the oracle run on it unchanged.

    start_ray(workers=2)
    env = RemoteEnv("door-open", "corner", image_size=64)
    observation = env.reset(seed=1_000_000)

Ray is an optional dependency (`pip install 'video-planner[ray]'`); asking for workers without it is refused in
one line. A worker process that dies raises `WorkerDied` from the call that found it.
"""

import copy
import os

import numpy as np

from foundation.errors import InputError
from robot_io.envs import make_env
from robot_io.types import Observation, RobotFeatures, StepResult


class WorkerDied(RuntimeError):
    """The process behind a `RemoteEnv` is gone (killed, out of memory); the episode it ran must be rerun."""


def _ray():
    try:
        import ray
    except ImportError:
        raise InputError("parallel rollouts need Ray: pip install 'video-planner[ray]', or drop --workers") from None
    return ray


def start_ray(workers: int) -> None:
    """A local Ray runtime with room for `workers` environment processes (reused when one is running)."""
    ray = _ray()
    if not ray.is_initialized():
        os.environ.setdefault("RAY_DEDUP_LOGS", "0")
        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False, configure_logging=False)


class _EnvHost:
    """The actor's body: one environment, its methods called by name."""

    def __init__(self, task: str, camera: str, image_size: int, max_episode_steps: int):
        self.env = make_env(task, camera, image_size, max_episode_steps=max_episode_steps)

    def call(self, method: str, *args, **kwargs):
        return getattr(self.env, method)(*args, **kwargs)

    def describe(self) -> tuple[RobotFeatures, int]:
        return self.env.features, os.getpid()


class RemoteEnv:
    def __init__(self, task: str, camera: str, image_size: int, *, max_episode_steps: int):
        ray = _ray()
        self.task, self.camera, self.image_size = task, camera, image_size
        self._actor = ray.remote(num_cpus=1)(_EnvHost).remote(task, camera, image_size, max_episode_steps)
        self.features, self.pid = self._get(self._actor.describe.remote())

    def _get(self, ref):
        """The call's result as this process's own (writable) objects: Ray hands out read-only arrays."""
        ray = _ray()
        try:
            return copy.deepcopy(ray.get(ref))
        except ray.exceptions.RayActorError as err:
            raise WorkerDied(f"the {self.task} environment's worker died: {err}") from None

    def _call(self, method: str, *args, **kwargs):
        return self._get(self._actor.call.remote(method, *args, **kwargs))

    def reset(self, seed: int | None = None, *, render: bool = True) -> Observation:
        return self._call("reset", seed, render=render)

    def step(self, action: np.ndarray, *, render: bool = True) -> StepResult:
        return self._call("step", action, render=render)

    def render(self) -> np.ndarray:
        return self._call("render")

    def snapshot(self):
        return self._call("snapshot")

    def restore(self, snapshot) -> None:
        self._call("restore", snapshot)

    def close(self) -> None:
        _ray().kill(self._actor)

    def __enter__(self) -> "RemoteEnv":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

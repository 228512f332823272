"""MetaWorld environments in Ray worker processes: each steps and renders in a process of its own, so several
episodes run side by side while the caller keeps the models. `RemoteEnv` is an `Env` (with the
snapshot/restore the oracle planner rolls ahead with), so the executor, the agent and the oracle run on it
unchanged. `EnvWorkers` starts the processes once per run and switches their environment from one
(task, camera) group to the next: a process and its imports cost seconds, a new environment in it little.

    with EnvWorkers(2) as workers:
        for env in workers.open("door-open", "corner", image_size=64, max_episode_steps=500):
            ...                              # one RemoteEnv per worker
        env = workers.replace(env)           # a fresh process for one that died (`WorkerDied`)

Ray is an optional dependency (`pip install 'video-planner[ray]'`); asking for workers without it is refused in
one line.
"""

import copy
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from foundation.errors import InputError
from robot_io.envs import make_env
from robot_io.types import Observation, StepResult


class WorkerDied(RuntimeError):
    """The process behind a `RemoteEnv` is gone (killed, out of memory); the episode it ran must be rerun."""


def _ray():
    try:
        import ray
    except ImportError:
        raise InputError("parallel rollouts need Ray: pip install 'video-planner[ray]', or drop --workers") from None
    return ray


class _EnvHost:
    """The worker's body: one environment at a time, its methods called by name."""

    def __init__(self):
        self.env = None

    def open(self, task: str, camera: str, image_size: int, options: dict):
        if self.env is not None:
            self.env.close()
        self.env = make_env(task, camera, image_size, **options)
        return self.env.features

    def call(self, method: str, *args, **kwargs):
        return getattr(self.env, method)(*args, **kwargs)

    def apply(self, function, *args):
        return function(self.env, *args)


class RemoteEnv:
    """One worker's environment (made by `EnvWorkers.open`)."""

    def __init__(self, actor, task: str, camera: str, image_size: int, options: dict):
        """`options`: `make_env`'s keyword arguments (step limit, render scale)."""
        self._actor = actor
        self.task, self.camera, self.image_size, self.options = task, camera, image_size, options
        self.features = self._get(actor.open.remote(task, camera, image_size, options))

    def _get(self, ref):
        """The call's result as this process's own (writable) objects: Ray hands out read-only arrays."""
        ray = _ray()
        try:
            return copy.deepcopy(ray.get(ref))
        except ray.exceptions.RayActorError as err:
            raise WorkerDied(f"the {self.task} environment's worker died: {err}") from None

    def _call(self, method: str, *args, **kwargs):
        return self._get(self._actor.call.remote(method, *args, **kwargs))

    def apply(self, function, *args):
        """`function(env, *args)` run in the worker, beside its environment (a whole scripted episode, say):
        one round trip instead of one per step."""
        return self._get(self._actor.apply.remote(function, *args))

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
        """Nothing: the worker and its environment belong to `EnvWorkers`."""


class EnvWorkers:
    def __init__(self, count: int):
        if count < 1:
            raise InputError(f"--workers must be >= 1, got {count}")
        ray = _ray()
        if not ray.is_initialized():
            ray.init(num_cpus=count, include_dashboard=False, log_to_driver=False, configure_logging=False)
        self.count = count
        self._host = ray.remote(num_cpus=1)(_EnvHost)
        self._actors = [self._host.remote() for _ in range(count)]

    def open(self, task: str, camera: str, image_size: int, **options) -> list[RemoteEnv]:
        """Every worker's environment switched to (task, camera), all at once, opened with `make_env`'s
        keyword `options`; a worker found dead is replaced."""

        def one(slot: int) -> RemoteEnv:
            try:
                return RemoteEnv(self._actors[slot], task, camera, image_size, options)
            except WorkerDied:
                self._actors[slot] = self._host.remote()
                return RemoteEnv(self._actors[slot], task, camera, image_size, options)

        with ThreadPoolExecutor(self.count) as pool:
            return list(pool.map(one, range(self.count)))

    def replace(self, env: RemoteEnv) -> RemoteEnv:
        """A fresh worker for one whose process died, opened on the same environment."""
        slot = self._actors.index(env._actor)
        self._actors[slot] = self._host.remote()
        return RemoteEnv(self._actors[slot], env.task, env.camera, env.image_size, env.options)

    def close(self) -> None:
        ray = _ray()
        for actor in self._actors:
            ray.kill(actor)
        self._actors = []

    def __enter__(self) -> "EnvWorkers":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

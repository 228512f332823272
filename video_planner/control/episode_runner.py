"""One (task, camera) group of a closed-loop evaluation, episode by episode: in this process, or (`--workers N`)
in N Ray environment processes (`EnvWorkers`) side by side, their plans gathered into one planner call. Either way each
episode runs the same agent and executor code from its scene seed, so a scene's result does not depend on
how the group was run (the oracle's plans and the actions are identical; a batched planner's frames may differ
from single plans in the last bit, `plan_batch`).

`Finished(row, episode)` comes back per episode, in seed order; `on_done(finished)` hears of each as it ends.
"""

import hashlib
import logging
import math
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from foundation.video_io import write_video
from inverse_dynamics.model import InverseDynamics
from robot_io.envs import make_env
from robot_io.episode_format import Episode
from robot_io.executor import Executor
from robot_io.ray_envs import EnvWorkers, WorkerDied
from video_planner.control.agent import Agent
from video_planner.control.gathering_planner import GatheringPlanner
from video_planner.control.settings import ControlEvalSettings
from video_planner.model.oracle_planner import Oracle, OraclePlanner
from video_planner.model.protocols import Planner

logger = logging.getLogger(__name__)
WORKER_RETRIES = 2  # reruns of an episode whose environment process died


@dataclass(frozen=True)
class Finished:
    row: dict  # the episode's result row (`episodes.jsonl`, results.json)
    episode: Episode | None  # its recording, with `record`


@dataclass(frozen=True)
class GroupRun:
    """What every episode of a group shares."""

    planner: Planner | Oracle
    idm: InverseDynamics
    settings: ControlEvalSettings
    task: str
    camera: str
    output: Path
    record: bool


def frame_size(planner: Planner | Oracle, idm: InverseDynamics) -> int:
    """Pixels a side of the camera images an evaluation renders and records: the planner's, which may be finer
    than the IDM's (the agent downsamples for it), or the IDM's for the oracle, which renders at any size."""
    return idm.config.image_size if isinstance(planner, Oracle) else planner.config.image_size


def oracle_for(oracle: Oracle, env, idm: InverseDynamics, settings: ControlEvalSettings) -> OraclePlanner:
    """The env's oracle, looking only as far ahead as the agent uses before it replans."""
    chunk = idm.config.chunk_size
    return oracle.planner_for(env, num_future_frames=math.ceil(settings.replan_every / chunk), frame_stride=chunk)


def run_episode(group: GroupRun, env, planner: Planner, seed: int) -> Finished:
    """One scene from its seed: the agent plans with `planner` (or the oracle of `env`) and acts in `env`."""
    settings = group.settings
    here = oracle_for(group.planner, env, group.idm, settings) if isinstance(group.planner, Oracle) else planner
    agent = Agent(here, group.idm, settings.replan_rule())
    record_images = group.record or settings.videos
    executor = Executor(env, agent, record_images=record_images, stop_at_success=settings.stop_at_success)
    rollout = executor.run(seed)
    row = episode_row(group.task, group.camera, seed, rollout, agent)
    episode = None
    if record_images:
        targets = np.stack([agent.target_frame(t) for t in range(rollout.steps)])  # (T, H, W, 3)
        episode = rollout.to_episode(group.camera, targets) if group.record else None
        if settings.videos:
            side_by_side = np.concatenate([rollout.images, targets], axis=2)  # (T, H, 2W, 3)
            name = f"{group.task}_{group.camera}_{seed}.mp4"
            write_video(group.output / "videos" / name, side_by_side[::2], fps=20)
    return Finished(row, episode)


def episode_row(task: str, camera: str, seed: int, rollout, agent: Agent) -> dict:
    return {
        "task": task,
        "camera": camera,
        "seed": seed,
        "success": rollout.success,
        "steps": rollout.steps,
        "plans": len(agent.log.plans),
        "stall_replans": agent.log.stall_replans,
        "actions_sha1": hashlib.sha1(rollout.actions.tobytes()).hexdigest(),
        "seconds": {k: round(v, 4) for k, v in (rollout.seconds | agent.log.seconds).items()},
    }


def env_options(settings: ControlEvalSettings) -> dict:
    """`make_env`'s keyword arguments for an evaluation's environments."""
    return {
        "max_episode_steps": settings.max_episode_steps,
        "render_scale": settings.render_scale,
        "render_effects": settings.render_effects,
    }


def run_group(group: GroupRun, seeds: list[int], on_done: Callable[[Finished], None]) -> list[Finished]:
    """The group's episodes one after another in this process."""
    settings = group.settings
    finished = []
    with make_env(group.task, group.camera, frame_size(group.planner, group.idm), **env_options(settings)) as env:
        for seed in seeds:
            finished.append(run_episode(group, env, group.planner, seed))
            on_done(finished[-1])
    return finished


def run_group_in_workers(
    group: GroupRun, seeds: list[int], workers: EnvWorkers, on_done: Callable[[Finished], None]
) -> list[Finished]:
    """The group's episodes, one per worker at a time. A batch planner answers the episodes' plans together;
    an episode whose worker dies is rerun from its seed in a fresh one (at most `WORKER_RETRIES` times), so
    each is finished once."""
    idle = workers.open(group.task, group.camera, frame_size(group.planner, group.idm), **env_options(group.settings))
    batched = hasattr(group.planner, "plan_batch")  # the oracle plans inside each environment, one by one
    planner = GatheringPlanner(group.planner) if batched else group.planner
    lock = threading.Lock()

    def one(seed: int) -> Finished:
        with lock:
            env = idle.pop()
        for attempt in range(WORKER_RETRIES + 1):
            try:
                with planner.episode() if batched else nullcontext():
                    result = run_episode(group, env, planner, seed)
                break
            except WorkerDied as err:
                if attempt == WORKER_RETRIES:
                    raise
                logger.warning("%s; rerunning seed %d in a fresh worker", err, seed)
                env = workers.replace(env)
        with lock:
            idle.append(env)
            on_done(result)
        return result

    try:
        with ThreadPoolExecutor(workers.count, thread_name_prefix="episode") as pool:
            return list(pool.map(one, seeds))
    finally:
        if batched:
            planner.close()

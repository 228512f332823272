"""`vp eval --workers 2`: environments in Ray worker processes (real Ray, real MetaWorld) give the same
per-scene results as the sequential run; a batch planner answers the episodes' plans in shared calls; a
worker killed mid-episode has its episode rerun and recorded once."""

import json
import signal
import subprocess
import threading
import time

import pytest
import torch

from inverse_dynamics.config import InverseDynamicsConfig
from inverse_dynamics.model import InverseDynamics
from robot_io.dataset_io import open_dataset
from robot_io.rollout_store import open_rollout_store, recorded_robot, recorded_rows
from video_planner.control.closed_loop_eval import evaluate_control
from video_planner.control.gathering_planner import GatheringPlanner
from video_planner.control.settings import ControlEvalSettings
from video_planner.model.oracle_planner import Oracle
from video_planner.model.planner import VideoPlanner

pytest.importorskip("ray")


@pytest.fixture(scope="module")
def idm() -> InverseDynamics:
    torch.manual_seed(1)
    config = InverseDynamicsConfig(image_size=32, chunk_size=4, encoder_channels=(8, 16), hidden_dim=32)
    return InverseDynamics(config).eval()


def settings(workers: int, **changes) -> ControlEvalSettings:
    fields = {"tasks": ("door-open",), "cameras": ("corner",), "seeds": 3, "max_episode_steps": 24, "replan_every": 8}
    return ControlEvalSettings(**(fields | changes), workers=workers)


def episodes(output) -> list[dict]:
    rows = json.loads((output / "results.json").read_text())["episodes"]
    return [{k: v for k, v in row.items() if k != "seconds"} for row in rows]


def test_two_workers_give_every_scene_the_sequential_result(idm, tmp_path):
    """With the oracle's plans every action is the same (the actions' digest per scene), so is the table."""
    sequential = evaluate_control(Oracle(), idm, settings(1), tmp_path / "one", show_progress=False)
    parallel = evaluate_control(Oracle(), idm, settings(2), tmp_path / "two", show_progress=False)
    assert episodes(tmp_path / "two") == episodes(tmp_path / "one")
    assert len(episodes(tmp_path / "one")) == 3
    assert parallel["tasks"] == sequential["tasks"]


def test_the_episodes_plans_are_gathered_into_shared_planner_calls(idm, text_encoder, tiny_planner_config, tmp_path):
    torch.manual_seed(0)
    planner = VideoPlanner(tiny_planner_config, text_encoder=text_encoder).eval()
    calls, plan_batch = [], planner.plan_batch

    def counting(requests):  # the planner's own batched planning, counting the requests of each call
        calls.append(len(requests))
        return plan_batch(requests)

    planner.plan_batch = counting
    evaluate_control(planner, idm, settings(2, seeds=2), tmp_path / "two", show_progress=False)
    assert max(calls) == 2  # two episodes in flight, one call
    rows = episodes(tmp_path / "two")
    assert [r["seed"] for r in rows] == [1_000_000, 1_000_001] and all(r["plans"] == 3 for r in rows)


def test_a_gathering_planner_passes_a_planner_failure_to_each_episode():
    class Broken:
        config = None

        def plan_batch(self, requests):
            raise ValueError("the GPU fell off")

    gathering = GatheringPlanner(Broken(), window_s=0.01)
    with gathering.episode(), pytest.raises(ValueError, match="fell off"):
        gathering.plan(None, "open the door", seed=0)
    gathering.close()


@pytest.mark.slow  # a Ray worker's death and restart; the default suite runs the two-worker table above
def test_a_worker_killed_mid_episode_is_rerun_and_recorded_once(idm, tmp_path):
    long = {"max_episode_steps": 160, "seeds": 2}
    evaluate_control(Oracle(), idm, settings(1, **long), tmp_path / "one", record=True, show_progress=False)

    killed = []

    def kill_a_worker() -> None:  # Ray titles a worker process "ray::<class>.<method>" while the method runs
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            busy = subprocess.run(["pgrep", "-f", "ray::_EnvHost.call"], capture_output=True, text=True).stdout
            if busy.split():  # stepping or rendering: mid-episode
                subprocess.run(["kill", f"-{signal.SIGKILL.value}", busy.split()[0]])
                killed.append(busy.split()[0])
                return
            time.sleep(0.01)

    killer = threading.Thread(target=kill_a_worker)
    killer.start()
    evaluate_control(Oracle(), idm, settings(2, **long), tmp_path / "two", record=True, show_progress=False)
    killer.join()
    assert killed, "no worker was ever seen mid-episode"
    assert episodes(tmp_path / "two") == episodes(tmp_path / "one")
    rollouts = tmp_path / "two" / "rollouts"
    assert open_dataset(rollouts).meta.total_episodes == 2
    rows = recorded_rows(open_rollout_store(rollouts, 32, recorded_robot(rollouts)))
    assert sorted(r["seed"] for r in rows) == [1_000_000, 1_000_001]


@pytest.mark.slow  # a second pool of workers; the default suite runs the two-worker evaluation above
def test_vp_collect_with_two_workers_records_the_sequential_dataset(two_episode_dataset, two_episode_recipe, tmp_path):
    """Attempts run two at a time but are taken in order: a group that finishes on its first attempt discards
    the second, as one process would never have run it."""
    import numpy as np

    from robot_io.collect import collect
    from robot_io.dataset_summary import episode_table
    from robot_io.episode_format import ACTION_KEY, STATE_KEY

    progress = collect(two_episode_recipe, tmp_path / "two", workers=2, show_progress=False)
    assert {key: vars(group) for key, group in progress.items()} == {
        "button-press-topdown/corner": {"attempts": 1, "successes": 1, "recorded": 1},
        "button-press-topdown/corner2": {"attempts": 1, "successes": 1, "recorded": 1},
    }
    assert episode_table(tmp_path / "two") == episode_table(two_episode_dataset)
    ours, theirs = (
        open_dataset(root).hf_dataset.with_format("numpy") for root in (tmp_path / "two", two_episode_dataset)
    )
    for key in (ACTION_KEY, STATE_KEY):
        np.testing.assert_array_equal(np.asarray(ours[key]), np.asarray(theirs[key]))


def test_workers_without_ray_are_refused_in_one_line(monkeypatch):
    import sys

    from foundation.errors import InputError
    from robot_io.ray_envs import EnvWorkers

    monkeypatch.setitem(sys.modules, "ray", None)  # as on an install without the [ray] extra
    with pytest.raises(InputError, match=r"parallel rollouts need Ray: pip install 'video-planner\[ray\]'"):
        EnvWorkers(2)

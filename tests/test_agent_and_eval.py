import dataclasses
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from foundation.errors import InputError
from inverse_dynamics.config import InverseDynamicsConfig
from inverse_dynamics.model import InverseDynamics
from robot_io.dataset_io import open_dataset, read_episodes
from robot_io.episode_format import PLAN_IMAGE_KEY, SUCCESS_KEY
from robot_io.executor import Executor
from robot_io.metaworld_env import MetaWorldEnv
from video_planner.control.agent import Agent, medoid
from video_planner.control.closed_loop_eval import evaluate_control
from video_planner.control.episode_runner import frame_size
from video_planner.control.settings import ControlEvalSettings, ReplanRule
from video_planner.model.oracle_planner import Oracle, OracleConfig, OraclePlanner
from video_planner.model.protocols import Planner, VideoPlan

IDM_CONFIG = InverseDynamicsConfig(image_size=32, chunk_size=4, encoder_channels=(16, 32), hidden_dim=64)


@pytest.fixture(scope="module")
def random_idm(tmp_path_factory):
    """An untrained IDM, saved as a checkpoint: enough to drive the loop, not to solve tasks."""
    import torch

    torch.manual_seed(0)
    idm = InverseDynamics(IDM_CONFIG)
    idm.trained_tasks = ("button-press-topdown",)
    path = tmp_path_factory.mktemp("idm") / "random"
    idm.save_pretrained(path)
    return InverseDynamics.from_pretrained(path)


class FixedPlanner:
    """A `Planner` that always plans the same frames; counts its calls."""

    def __init__(self, size: int = 32, stride: int = 4):
        self.config = OracleConfig(size, 3, stride)
        self.calls = []

    def plan(self, image, instruction, *, seed=None, steps=None, guidance=None):
        self.calls.append(seed)
        frames = np.full((3, self.config.image_size, self.config.image_size, 3), 40 * len(self.calls), np.uint8)
        return VideoPlan(frames, image, instruction, "fixed", 0, 0.0, seed, 0.0)


def test_agent_replans_every_r_steps_and_heads_for_each_planned_frame(random_idm):
    planner = FixedPlanner()
    assert isinstance(planner, Planner)  # test fakes plug into the same seam as the real planners
    agent = Agent(planner, random_idm, ReplanRule(replan_every=8, stall_distance=0.0))
    with MetaWorldEnv("button-press-topdown", "corner", 32, max_episode_steps=20) as env:
        renders = []
        render = env.render
        env.render = lambda: renders.append(env.steps) or render()
        rollout = Executor(env, agent).run(seed=1)
    assert rollout.steps == 20 and rollout.images is None
    assert renders == [0, 4, 8, 12, 16]  # only the steps that start an action chunk look at the camera
    assert [record.step for record in agent.log.plans] == [0, 8, 16]
    assert planner.calls == [1000, 1001, 1002]  # episode seed 1, plans 0, 1, 2
    for t in range(20):  # chunk c of plan p heads for planned frame c
        expected = agent.log.plans[t // 8].plan.frames[(t % 8) // 4]
        np.testing.assert_array_equal(agent.target_frame(t), expected)


def test_the_agent_acts_the_same_without_the_simulator_state(random_idm):
    """The agent sees the camera and proprioception only: withholding or scrambling the privileged simulator
    state (what oracles and experts read) changes none of its actions."""
    rng = np.random.default_rng(0)
    with MetaWorldEnv("button-press-topdown", "corner", 32, max_episode_steps=16) as env:
        observations = [dataclasses.replace(env.reset(3), image=env.render())]
        for _ in range(15):
            observation = env.step(rng.uniform(-1, 1, 4).astype(np.float32)).observation
            observations.append(dataclasses.replace(observation, image=env.render()))
    assert observations[0].env_state is not None
    variants = {
        "given": lambda o: o,
        "withheld": lambda o: dataclasses.replace(o, env_state=None),
        "scrambled": lambda o: dataclasses.replace(o, env_state=rng.normal(size=o.env_state.shape)),
    }
    actions = {}
    for name, change in variants.items():
        agent = Agent(FixedPlanner(), random_idm, ReplanRule(replan_every=8, stall_distance=0.0))
        agent.reset("press the button from the top", seed=3)
        actions[name] = np.stack([agent.act(change(o)) for o in observations])
    np.testing.assert_array_equal(actions["withheld"], actions["given"])
    np.testing.assert_array_equal(actions["scrambled"], actions["given"])


def test_mismatched_planner_idm_or_robot_is_refused_naming_both_values(random_idm):
    with pytest.raises(InputError, match="planner's 48 px frames are not a whole multiple of the IDM's 32 px"):
        Agent(FixedPlanner(size=48), random_idm)
    with pytest.raises(InputError, match="planner frame_stride vs IDM chunk_size.*planner 8, IDM 4"):
        Agent(FixedPlanner(stride=8), random_idm)
    with pytest.raises(InputError, match="multiple of the IDM chunk size 4"):
        Agent(FixedPlanner(), random_idm, ReplanRule(replan_every=6))
    seven_dof = InverseDynamics(dataclasses.replace(IDM_CONFIG, action_dim=7))
    settings = ControlEvalSettings(tasks=("door-open",), cameras=("corner",), seeds=1)
    with pytest.raises(InputError, match="disagree on action dimension: IDM 7, robot 4"):
        evaluate_control(Oracle(), seven_dof, settings, Path("/nonexistent"), show_progress=False)


def test_a_finer_planner_pairs_with_an_idm_that_reads_its_frames_area_downsampled(random_idm, caplog):
    """A 64 px planner with a 32 px IDM acts exactly as a 32 px pair whose camera renders 64 px and area-resizes
    them (what the IDM's training demos were), without the IDM's warning about unexpected camera sizes, and an
    evaluation renders at the planner's size."""
    actions = {}
    for size, render_scale in ((64, 1), (32, 2)):
        agent = Agent(FixedPlanner(size=size), random_idm, ReplanRule(replan_every=8, stall_distance=0.0))
        agent.reset("press the button from the top", seed=3)
        with MetaWorldEnv("button-press-topdown", "corner", size, render_scale=render_scale) as env:
            observation = env.reset(3)
            steps = []
            for _ in range(12):
                steps.append(agent.act(observation))
                observation = env.step(steps[-1]).observation
        actions[size] = np.stack(steps)
    np.testing.assert_array_equal(actions[64], actions[32])
    assert not [r for r in caplog.records if "resizing" in r.getMessage()]
    assert frame_size(FixedPlanner(size=64), random_idm) == 64
    assert frame_size(Oracle(), random_idm) == 32


def test_oracle_plans_show_the_expert_future_and_leave_the_env_untouched():
    with MetaWorldEnv("button-press-topdown", "corner", 32, seed=2) as env:
        obs = env.reset()
        oracle = OraclePlanner(env, num_future_frames=3, frame_stride=4)
        assert isinstance(oracle, Planner)
        plan = oracle.plan(obs.image, obs.instruction)
        assert env.steps == 0
        expert_frames = []
        for _ in range(12):
            obs = env.step(oracle.expert.get_action(obs.env_state)).observation
            expert_frames.append(obs.image)
    np.testing.assert_array_equal(plan.frames, np.stack(expert_frames[3::4]))


def test_eval_is_deterministic_resumable_and_records_rollouts(tmp_path, random_idm):
    settings = ControlEvalSettings(
        tasks=("button-press-topdown", "door-open"), cameras=("corner",), seeds=2, max_episode_steps=12
    )
    summary = evaluate_control(Oracle(), random_idm, settings, tmp_path / "a", record=True, show_progress=False)
    assert summary["episodes"] == 4 and set(summary["tasks"]) == {"button-press-topdown", "door-open"}
    assert summary["tasks"]["door-open"]["idm_trained_on_task"] is False
    assert "door-open (IDM never saw this task)" in (tmp_path / "a" / "table.md").read_text()
    assert set(summary["mean_seconds_per_episode"]) == {"render", "physics", "plan", "idm"}
    lines = (tmp_path / "a" / "results.csv").read_text().splitlines()
    assert lines[0].startswith("task,camera,seed,success,steps") and len(lines) == 5

    rows = (tmp_path / "a" / "episodes.jsonl").read_text().splitlines()
    (tmp_path / "a" / "episodes.jsonl").write_text(rows[0] + "\n")  # killed after the rollouts were committed
    resumed = evaluate_control(Oracle(), random_idm, settings, tmp_path / "a", show_progress=False, record=True)
    again = evaluate_control(Oracle(), random_idm, settings, tmp_path / "b", show_progress=False, record=True)

    def outcomes(directory):
        episodes = json.loads((directory / "results.json").read_text())["episodes"]
        return [(e["task"], e["seed"], e["success"], e["steps"], e["plans"], e["actions_sha1"]) for e in episodes]

    assert outcomes(tmp_path / "a") == outcomes(tmp_path / "b")
    assert len({o[-1] for o in outcomes(tmp_path / "b")}) == 4  # every episode acted differently
    assert resumed["tasks"] == again["tasks"] == summary["tasks"]

    evaluate_control(Oracle(), random_idm, settings, tmp_path / "c", show_progress=False)
    log = tmp_path / "c" / "episodes.jsonl"
    rows = log.read_text().splitlines()
    log.write_text(rows[0] + "\n" + rows[1][:20])  # killed while writing the second row
    evaluate_control(Oracle(), random_idm, settings, tmp_path / "c", show_progress=False)
    assert outcomes(tmp_path / "c") == outcomes(tmp_path / "b") and len(log.read_text().splitlines()) == 4

    for run in ("a", "b"):  # resuming did not record any rollout twice
        dataset = open_dataset(tmp_path / run / "rollouts")
        assert dataset.meta.total_episodes == 4 and dataset.meta.total_frames == 4 * 12
    item = dataset[0]
    assert item[PLAN_IMAGE_KEY].shape == (3, 32, 32) and not bool(item[SUCCESS_KEY])
    rollout = read_episodes(tmp_path / "b" / "rollouts", [1])[0]  # what a SAIL filter copies
    assert rollout.plan_images.shape == (12, 32, 32, 3) and rollout.images.shape == (12, 32, 32, 3)
    results = json.loads((tmp_path / "b" / "results.json").read_text())
    row = results["episodes"][1]
    assert results["run"]["settings"]["first_seed"] == settings.first_seed  # the scenes it measured travel with it
    assert hashlib.sha1(rollout.actions.tobytes()).hexdigest() == row["actions_sha1"]

    more_seeds = dataclasses.replace(settings, seeds=3)  # reuses the 4 finished episodes
    larger = evaluate_control(Oracle(), random_idm, more_seeds, tmp_path / "b", show_progress=False, record=True)
    assert larger["episodes"] == 6 and open_dataset(tmp_path / "b" / "rollouts").meta.total_episodes == 6
    assert outcomes(tmp_path / "b")[:2] == outcomes(tmp_path / "a")[:2]
    changes = ({"replan_every": 4}, {"render_scale": 2}, {"render_effects": True})
    for other in (dataclasses.replace(settings, **change) for change in changes):
        with pytest.raises(InputError, match=r"other models or settings \((render_\w+|replan_every) differ"):
            evaluate_control(Oracle(), random_idm, other, tmp_path / "a", show_progress=False, record=True)


def test_vp_eval_results_carry_the_command_and_the_code(random_idm, tmp_path):
    from video_planner.cli import main

    random_idm.save_pretrained(tmp_path / "idm")
    argv = ["eval", "--planner", "oracle", "--idm", str(tmp_path / "idm"), "--tasks", "button-press-topdown"]
    argv += ["--cameras", "corner", "--seeds", "1", "--max-episode-steps", "8", "--replan-every", "8"]
    assert main([*argv, "--output", str(tmp_path / "eval")]) == 0
    run = json.loads((tmp_path / "eval" / "results.json").read_text())["run"]
    assert run["command"].startswith("vp eval --planner oracle") and run["version"] == "0.1.0"
    assert run["settings"]["max_episode_steps"] == 8 and run["settings"]["stop_at_success"] is True


def test_medoid_is_the_plan_the_others_agree_with():
    rng = np.random.default_rng(0)
    base = rng.integers(60, 190, (3, 8, 8, 3))

    def plan_of(frames: np.ndarray) -> VideoPlan:
        return VideoPlan(frames.astype(np.uint8), None, "x", "fixed", 0, 0.0, None, 0.0)

    outlier = plan_of(rng.integers(0, 256, (3, 8, 8, 3)))
    near = [plan_of(base + rng.integers(-spread, spread + 1, base.shape)) for spread in (2, 8, 12)]
    assert medoid([outlier, *near]) is near[0]  # the closest to the others of the three that agree
    assert medoid([outlier]) is outlier


def test_an_agent_drawing_several_plans_follows_their_medoid(random_idm, text_encoder, tiny_planner_config):
    import torch

    from video_planner.model.planner import VideoPlanner
    from video_planner.model.protocols import PlanRequest

    torch.manual_seed(0)
    planner = VideoPlanner(tiny_planner_config, text_encoder=text_encoder).eval()
    agent = Agent(planner, random_idm, ReplanRule(replan_every=8, plan_samples=3), seed=5)
    with MetaWorldEnv("button-press-topdown", "corner", 32, max_episode_steps=4) as env:
        observation = env.reset(1)
        agent.reset(env.instruction)
        agent.act(observation)
    samples = planner.plan_batch([PlanRequest(observation.image, env.instruction, seed=5_000, num_samples=3)])[0]
    chosen = agent.log.plans[0].plan.frames
    assert any(np.array_equal(chosen, s.frames) for s in samples)
    np.testing.assert_array_equal(chosen, medoid(samples).frames)


def test_several_plans_per_replanning_are_refused_where_they_cannot_be_drawn(random_idm):
    with pytest.raises(InputError, match="plan_samples 3 needs a planner that draws several plans in one call"):
        Agent(FixedPlanner(), random_idm, ReplanRule(replan_every=8, plan_samples=3))
    with pytest.raises(InputError, match="--plan-samples above 1 runs with --workers 1"):
        ControlEvalSettings(tasks=("door-open",), plan_samples=3, workers=2)

"""The planner and the IDM as LeRobot's `video_planner` policy type: found through LeRobot's own registries and
plugin rule, exported by `vp export-lerobot`, loaded by LeRobot's factory, and run by LeRobot's own evaluation
loop on LeRobot's own MetaWorld env."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from foundation.errors import InputError
from inverse_dynamics.config import InverseDynamicsConfig
from inverse_dynamics.model import InverseDynamics
from robot_io.safety import UnsafeActionError
from video_planner.cli import main
from video_planner.model.planner import VideoPlanner

IDM_CONFIG = InverseDynamicsConfig(image_size=32, chunk_size=4, encoder_channels=(8, 16), hidden_dim=32)
DOOR_OPEN = "Open a door with a revolving joint"  # LeRobot's MetaWorld description of door-open-v3


@pytest.fixture(scope="module")
def policy_dir(tiny_models) -> Path:
    output = tiny_models / "policy"
    argv = ["export-lerobot", "--planner", str(tiny_models / "planner"), "--idm", str(tiny_models / "idm")]
    assert main([*argv, "--output", str(output), "--replan-every", "8", "--seed", "3"]) == 0
    return output


def load_with_lerobot(directory: Path):
    """The policy and its processors as LeRobot's commands load them: by the type name in config.json."""
    from lerobot.configs import PreTrainedConfig
    from lerobot.policies.factory import get_policy_class, make_pre_post_processors

    config = PreTrainedConfig.from_pretrained(directory)
    policy = get_policy_class(config.type).from_pretrained(directory)
    return policy, *make_pre_post_processors(policy.config, pretrained_path=str(directory))


def camera_frames(steps: int, height: int = 480, width: int = 480) -> list[dict]:
    """LeRobot-style observations: (3, H, W) float images in [0, 1], a 4-d state, a task description."""
    rng = np.random.default_rng(0)
    return [
        {
            "observation.image": torch.from_numpy(rng.random((3, height, width), dtype=np.float32)),
            "observation.state": torch.from_numpy(rng.normal(0, 0.1, 4).astype(np.float32)),
            "task": DOOR_OPEN,
        }
        for _ in range(steps)
    ]


def run_policy(policy, preprocessor, postprocessor, frames: list[dict]) -> torch.Tensor:
    policy.reset()
    return torch.cat([postprocessor(policy.select_action(preprocessor(frame))) for frame in frames])  # (T, A)


def test_lerobot_finds_the_policy_type_through_its_plugin_rule():
    """A fresh process that imports nothing of ours: LeRobot's plugin discovery alone must register the type."""
    script = (
        "from lerobot.utils.import_utils import register_third_party_plugins\n"
        "register_third_party_plugins()\n"
        "from lerobot.policies.factory import get_policy_class\n"
        "from lerobot.processor import ProcessorStepRegistry\n"
        "steps = ProcessorStepRegistry.list()\n"
        "print(get_policy_class('video_planner').__name__, 'video_planner_square_image' in steps)"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["VideoPlannerPolicy", "True"]


def test_the_exported_directory_holds_both_models_and_lerobots_files(policy_dir):
    names = {path.name for path in policy_dir.iterdir()}
    assert {"config.json", "policy_preprocessor.json", "policy_postprocessor.json", "planner", "idm"} <= names
    config = json.loads((policy_dir / "config.json").read_text())
    assert config["type"] == "video_planner" and config["image_size"] == 32 and config["replan_every"] == 8
    assert config["output_features"]["action"]["shape"] == [4]
    assert config["instructions"][DOOR_OPEN] == "open the door"
    preprocessor = json.loads((policy_dir / "policy_preprocessor.json").read_text())
    steps = [step["registry_name"] for step in preprocessor["steps"]]
    assert {"device_processor", "rename_observations_processor"} <= set(steps)  # the steps lerobot-eval overrides


def test_a_loaded_policy_repeats_the_exported_ones_actions_bit_for_bit(tiny_models, policy_dir):
    from video_planner.lerobot_policy.export import build_policy

    built = build_policy(
        VideoPlanner.from_pretrained(tiny_models / "planner"),
        InverseDynamics.from_pretrained(tiny_models / "idm"),
        replan_every=8,
        seed=3,
        device="cpu",
    )
    loaded, preprocessor, postprocessor = load_with_lerobot(policy_dir)
    frames = camera_frames(10)
    expected = run_policy(built, preprocessor, postprocessor, frames)
    actions = run_policy(loaded, preprocessor, postprocessor, frames)
    assert actions.shape == (10, 4) and torch.equal(actions, expected)
    assert len(loaded._agents[0].log.plans) == 2  # planned at step 0 and again after replan_every = 8 steps
    assert not torch.equal(run_policy(loaded, preprocessor, postprocessor, frames), actions)  # a new episode seed


def test_predict_action_chunk_gives_the_idm_chunk_per_env(policy_dir):
    policy, preprocessor, _ = load_with_lerobot(policy_dir)
    policy.reset()
    batch = preprocessor(camera_frames(1)[0])
    chunk = policy.predict_action_chunk(batch)
    assert chunk.shape == (1, IDM_CONFIG.chunk_size, 4) and torch.isfinite(chunk).all()


def test_the_preprocessor_crops_a_wide_camera_square_and_maps_the_task(policy_dir):
    _, preprocessor, postprocessor = load_with_lerobot(policy_dir)
    image = torch.zeros(3, 480, 640)
    image[1, :, 80:560] = 1.0  # the centred 480×480 square is green; the 80 columns on each side are black
    frame = {"observation.image": image, "observation.state": torch.zeros(4), "task": f"{DOOR_OPEN}\n"}
    batch = preprocessor(frame)
    assert batch["observation.image"].shape == (1, 3, 32, 32)
    assert torch.allclose(batch["observation.image"][0, 1], torch.ones(32, 32))  # nothing of the sides left
    assert batch["task"] == ["open the door"]
    assert preprocessor({**frame, "task": "stack the cups"})["task"] == ["stack the cups"]  # unlisted: unchanged

    clipped = postprocessor(torch.tensor([[5.0, -5.0, 0.5, 0.0]]))
    assert torch.equal(clipped, torch.tensor([[1.0, -1.0, 0.5, 0.0]]))
    with pytest.raises(UnsafeActionError, match="non-finite action"):
        postprocessor(torch.tensor([[float("nan"), 0.0, 0.0, 0.0]]))


def test_a_missing_camera_or_instruction_is_named(policy_dir):
    policy, preprocessor, _ = load_with_lerobot(policy_dir)
    frame = camera_frames(1)[0]
    named = r"no 'observation.image' \(cameras: \['observation.images.front'\]\).*rename_map"
    with pytest.raises(InputError, match=named):
        preprocessor({"observation.images.front": frame["observation.image"], "observation.state": torch.zeros(4)})
    with pytest.raises(InputError, match="one non-empty instruction per env"):
        policy.select_action(preprocessor({**frame, "task": " "}))


def test_a_policy_directory_with_a_missing_or_mismatched_model_is_refused(policy_dir, tmp_path):
    from video_planner.lerobot_policy.modeling_video_planner import VideoPlannerPolicy

    broken = tmp_path / "no_idm"
    shutil.copytree(policy_dir, broken)
    shutil.rmtree(broken / "idm")
    with pytest.raises(InputError, match="has no idm/ directory"):
        VideoPlannerPolicy.from_pretrained(broken)

    six_joint = tmp_path / "six_joint"
    shutil.copytree(policy_dir, six_joint)
    shutil.rmtree(six_joint / "idm")
    InverseDynamics(InverseDynamicsConfig(**{**vars(IDM_CONFIG), "action_dim": 6})).save_pretrained(six_joint / "idm")
    with pytest.raises(InputError, match="disagree on action dimension: config 4, models 6"):
        VideoPlannerPolicy.from_pretrained(six_joint)


def test_an_arm_policy_sees_its_named_camera_and_acts_in_its_own_units(tiny_planner_config, text_encoder):
    """A 6-joint arm: the IDM's sizes and bounds become the policy's features, its 640×480 `front` camera is the
    planner's, and the unlisted task reaches the planner as typed."""
    from lerobot.policies.factory import make_pre_post_processors

    from video_planner.lerobot_policy.export import build_policy

    arm_idm = InverseDynamics(
        InverseDynamicsConfig(
            **{**vars(IDM_CONFIG), "state_dim": 6, "action_dim": 6, "action_low": -100.0, "action_high": 100.0}
        )
    )
    planner = VideoPlanner(tiny_planner_config, text_encoder=text_encoder)
    policy = build_policy(planner, arm_idm, image_key="observation.images.front", task_descriptions="none")
    preprocessor, postprocessor = make_pre_post_processors(policy.config)
    frame = {
        "observation.images.front": torch.rand(3, 480, 640),
        "observation.state": torch.full((6,), 40.0),
        "task": "put the cube in the bowl",
    }
    action = postprocessor(policy.select_action(preprocessor(frame)))
    assert action.shape == (1, 6) and action.abs().max() <= 100
    assert policy._agents[0].log.plans[0].plan.context_frame.shape == (32, 32, 3)
    assert policy._agents[0].instruction == "put the cube in the bowl"


def test_push_to_hub_goes_through_lerobots_hub_path(policy_dir, folder_hub, monkeypatch):
    """LeRobot's `push_to_hub` with the network replaced by a folder: what lands there loads again."""
    import lerobot.utils.hub

    monkeypatch.setattr(lerobot.utils.hub, "HfApi", lambda token=None: folder_hub)
    policy, preprocessor, postprocessor = load_with_lerobot(policy_dir)
    policy.push_to_hub("someone/door-planner")
    pushed, *_ = load_with_lerobot(folder_hub.root / "someone/door-planner")
    frames = camera_frames(3)
    assert torch.equal(
        run_policy(pushed, preprocessor, postprocessor, frames), run_policy(policy, preprocessor, postprocessor, frames)
    )


def test_lerobots_evaluation_loop_runs_the_policy_on_its_metaworld_env(policy_dir):
    """LeRobot's `eval_policy_all` (what `lerobot-eval` calls) on LeRobot's MetaWorld env at 480 px. The one
    change: 12 steps instead of the env's fixed 500 (the full command runs in the slow test below)."""
    from lerobot.envs.configs import MetaworldEnv
    from lerobot.envs.factory import make_env, make_env_pre_post_processors
    from lerobot.scripts.lerobot_eval import eval_policy_all

    policy, preprocessor, postprocessor = load_with_lerobot(policy_dir)
    env_config = MetaworldEnv(task="door-open-v3")
    envs = make_env(env_config, n_envs=1)
    envs["door-open-v3"][0].envs[0]._max_episode_steps = 12
    env_preprocessor, env_postprocessor = make_env_pre_post_processors(env_config, policy.config)
    info = eval_policy_all(envs, policy, env_preprocessor, env_postprocessor, preprocessor, postprocessor, 1)
    assert info["overall"]["n_episodes"] == 1 and 0.0 <= info["overall"]["pc_success"] <= 100.0
    assert len(policy._agents[0].log.plans) == 2 and policy._agents[0].instruction == "open the door"


@pytest.mark.slow
def test_lerobot_eval_and_vp_eval_score_an_exported_policy_side_by_side(policy_dir, tmp_path):
    """scripts/lerobot_vs_eval.py: the real `lerobot-eval` command on one 500-step MetaWorld episode (about
    3 minutes on 2 cores) and `vp eval` on one scene with the policy's own replanning interval, both written
    as `vp eval` results; a rerun reuses the finished `lerobot-eval`."""
    script = Path(__file__).parents[1] / "scripts" / "lerobot_vs_eval.py"
    command = [sys.executable, str(script), "--policy", str(policy_dir), "--tasks", "door-open", "--episodes", "1"]
    command += ["--vp-runs", "corner2", "--output", str(tmp_path / "out")]
    first = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "lerobot-eval door-open: 1 episodes" in first.stdout
    lerobot = json.loads((tmp_path / "out" / "lerobot_eval" / "results.json").read_text())
    assert [(r["task"], r["seed"]) for r in lerobot["episodes"]] == [("door-open", 1000)]
    assert lerobot["summary"]["tasks"]["door-open"]["episodes"] == 1
    info = json.loads((tmp_path / "out" / "lerobot_eval" / "door-open" / "eval_info.json").read_text())
    assert "--env.task=door-open-v3" in info["command"] and info["overall"]["n_episodes"] == 1
    assert [Path(p).is_file() for p in info["overall"]["video_paths"]] == [True]  # in the finished folder
    vp_eval = json.loads((tmp_path / "out" / "vp_eval_corner2" / "results.json").read_text())
    assert vp_eval["run"]["settings"]["replan_every"] == 8  # the exported policy's rule, not vp eval's default
    assert [(r["task"], r["camera"]) for r in vp_eval["episodes"]] == [("door-open", "corner2")]
    again = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "lerobot-eval door-open" not in again.stdout

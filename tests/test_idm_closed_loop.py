"""The end-to-end check that a learned inverse-dynamics model acts: trained for seconds on expert and exploration
demos, it solves button-press-topdown in closed loop when the plans are right (oracle plans). A file of its own
so the test runners can balance it against the other long files."""

from dataclasses import replace

from inverse_dynamics.config import InverseDynamicsConfig
from inverse_dynamics.model import InverseDynamics
from inverse_dynamics.train import InverseDynamicsTrainer
from inverse_dynamics.train_config import IDMTrainConfig
from robot_io.collect import collect
from video_planner.control.closed_loop_eval import evaluate_control
from video_planner.control.settings import ControlEvalSettings
from video_planner.model.oracle_planner import Oracle


def test_oracle_plans_with_a_trained_idm_press_the_button(tmp_path, tiny_recipe):
    """Oracle plans isolate the IDM + executor: a small IDM trained for seconds on clean and exploration
    demos of button-press-topdown must succeed on most held-out scenes (an untrained one never does)."""
    demos = replace(tiny_recipe, name="bpt", tasks=("button-press-topdown",), cameras=("corner", "corner2", "corner3"))
    demos = replace(demos, episodes_per_camera=2, image_size=32)
    explore = replace(
        demos, name="bpt_explore", seed=100, action_noise_std=0.3, exploration_prob=0.05, keep_failed=True
    )
    collect(demos, tmp_path / "clean", show_progress=False)
    collect(explore, tmp_path / "explore", show_progress=False)
    config = InverseDynamicsConfig(image_size=32, chunk_size=4, encoder_channels=(16, 32), hidden_dim=128)
    train = IDMTrainConfig(
        datasets=(str(tmp_path / "clean"), str(tmp_path / "explore")),
        steps=600,
        batch_size=32,
        learning_rate=1e-3,
        warmup_steps=20,
        shift_pixels=2,
    )
    checkpoint = InverseDynamicsTrainer(config, train, tmp_path / "idm", show_progress=False).run()
    settings = ControlEvalSettings(tasks=("button-press-topdown",), seeds=2, max_episode_steps=150, replan_every=8)
    idm = InverseDynamics.from_pretrained(checkpoint)
    summary = evaluate_control(Oracle(), idm, settings, tmp_path / "eval", show_progress=False)
    assert summary["episodes"] == 6
    assert summary["mean_success"] >= 0.5

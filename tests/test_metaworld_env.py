import numpy as np
import pytest
import torch

from foundation.errors import InputError
from foundation.frames import resize_frames
from robot_io.metaworld_env import MetaWorldEnv
from robot_io.metaworld_expert import expert_policy
from robot_io.metaworld_tasks import AVDC11_TASKS, INSTRUCTIONS, resolve_task, resolve_tasks


def expert_rollout(seed: int, steps: int = 15, camera: str = "corner"):
    policy = expert_policy("door-open")
    with MetaWorldEnv("door-open", camera, image_size=32, seed=seed) as env:
        obs = env.reset()
        states, images = [obs.state], [obs.image]
        for _ in range(steps):
            obs = env.step(policy.get_action(obs.env_state)).observation
            states.append(obs.state)
            images.append(obs.image)
    return np.stack(states), np.stack(images)


def test_same_seed_gives_same_trajectory_and_frames():
    states_a, images_a = expert_rollout(seed=7)
    states_b, images_b = expert_rollout(seed=7)
    np.testing.assert_array_equal(states_a, states_b)
    np.testing.assert_array_equal(images_a, images_b)


@pytest.mark.parametrize("task", AVDC11_TASKS)
def test_restoring_a_snapshot_replays_the_episode_bit_for_bit(task):
    policy = expert_policy(task)
    with MetaWorldEnv(task, "corner", image_size=32, seed=3) as env:
        obs = env.reset()
        for _ in range(10):
            obs = env.step(policy.get_action(obs.env_state)).observation
        snapshot, start = env.snapshot(), obs

        def roll():
            o, out = start, []
            for _ in range(30):
                result = env.step(policy.get_action(o.env_state))
                o = result.observation
                out.append((o.env_state, o.image, result.success))
            return out

        first, second = roll(), (env.restore(snapshot), roll())[1]
        assert env.steps == 40
    for (state_a, image_a, success_a), (state_b, image_b, success_b) in zip(first, second, strict=True):
        np.testing.assert_array_equal(state_a, state_b)
        np.testing.assert_array_equal(image_a, image_b)
        assert success_a == success_b


def test_experts_leave_the_observation_they_act_on_unchanged():
    with MetaWorldEnv("door-open", "corner", image_size=32, seed=3) as env:
        obs = env.reset(render=False)
        before = obs.env_state.copy()
        expert_policy("door-open").get_action(obs.env_state)
    np.testing.assert_array_equal(obs.env_state, before)


def test_seed_changes_the_scene():
    with MetaWorldEnv("door-open", seed=1) as env:
        scene_1 = env.reset().env_state
        scene_2 = env.reset(seed=2).env_state
        scene_1_again = env.reset(seed=1).env_state
    assert not np.allclose(scene_1, scene_2)
    np.testing.assert_array_equal(scene_1, scene_1_again)


def dark_grey_fraction(image: np.ndarray) -> float:
    """Share of dark grey pixels: the robot's pedestal and the table's steel frame (not the black sky)."""
    channels = image.astype(int)
    brightest, darkest = channels.max(-1), channels.min(-1)
    return float(((brightest < 90) & (darkest > 20) & (abs(channels[..., 0] - channels[..., 2]) < 15)).mean())


@pytest.mark.parametrize("camera", ["corner", "corner2", "corner3"])
def test_corner_cameras_are_upright_pedestal_and_table_at_the_bottom(camera):
    with MetaWorldEnv("reach", camera, image_size=64, seed=0) as env:
        image = env.reset().image
    assert image.shape == (64, 64, 3) and image.dtype == np.uint8
    top, bottom = dark_grey_fraction(image[:32]), dark_grey_fraction(image[32:])
    assert bottom > 0.15
    assert bottom > 4 * top


def test_step_without_render_returns_state_only():
    with MetaWorldEnv("reach") as env:
        env.reset()
        result = env.step(np.zeros(4), render=False)
    assert result.observation.image is None
    assert result.observation.state.shape == (4,) and result.observation.state.dtype == np.float32
    assert result.observation.instruction == "reach the goal position"


def test_a_render_scale_gives_the_larger_render_area_resized_as_a_dataset_recorded_at_that_size_does():
    with MetaWorldEnv("door-open", "corner3", image_size=64, seed=3) as large:
        recorded = large.reset().image  # what a 64 px recipe records
    with MetaWorldEnv("door-open", "corner3", image_size=32, seed=3, render_scale=2) as scaled:
        image = scaled.reset().image
    with MetaWorldEnv("door-open", "corner3", image_size=32, seed=3) as direct:
        aliased = direct.reset().image
    loaded = resize_frames(torch.from_numpy(recorded).permute(2, 0, 1)[None], 32)[0].permute(1, 2, 0).numpy()
    assert image.shape == (32, 32, 3) and image.dtype == np.uint8
    np.testing.assert_array_equal(image, loaded)  # exactly the frame a model trained on that recording sees
    assert not np.array_equal(aliased, loaded)
    with pytest.raises(InputError, match="render_scale must be in \\[1, 8\\], got 0"):
        MetaWorldEnv("reach", render_scale=0)


def test_render_effects_grey_the_background_the_default_look_leaves_black_as_gymnasium_draws_it():
    images = []
    for effects in (False, True):
        with MetaWorldEnv("faucet-open", "corner4", image_size=32, seed=3, render_effects=effects) as env:
            images.append(env.reset().image)
    plain, drawn = images
    sky = (slice(0, 3), slice(-6, None))  # corner4's top right corner: no geometry, only the background
    assert plain[sky].max() == 0 and drawn[sky].min() > 60  # what LeRobot's MetaWorld env shows a policy
    assert plain.shape == drawn.shape and np.abs(plain.astype(int) - drawn).mean() > 5


def test_episode_limit_truncates():
    with MetaWorldEnv("reach", max_episode_steps=3) as env:
        env.reset(render=False)
        flags = [env.step(np.zeros(4), render=False).truncated for _ in range(3)]
        assert flags == [False, False, True]
        with pytest.raises(RuntimeError, match="reset"):
            env.step(np.zeros(4))


def test_unknown_task_names_closest_valid_names():
    with pytest.raises(InputError, match="unknown MetaWorld task 'door-opne'.*door-open"):
        MetaWorldEnv("door-opne")


def test_unknown_camera_lists_valid_cameras():
    with pytest.raises(InputError, match="unknown camera 'corner9'.*corner2"):
        MetaWorldEnv("door-open", camera="corner9")


def test_task_names_accept_version_suffix_and_benchmark_alias():
    assert resolve_task("door-open-v3") == "door-open"
    assert resolve_tasks("avdc11") == list(AVDC11_TASKS)
    assert len(AVDC11_TASKS) == 11 and set(AVDC11_TASKS) <= set(INSTRUCTIONS)


def test_every_task_has_an_expert():
    for task in INSTRUCTIONS:
        assert hasattr(expert_policy(task), "get_action")

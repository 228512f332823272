"""A world point projected into a camera image lands where MuJoCo draws it: the gripper pads' pixels (MuJoCo's
own segmentation render of the same camera) centre on the projected hand position, upside-down cameras
included."""

import mujoco
import numpy as np
import pytest

from robot_io.fast_renderer import UPSIDE_DOWN_CAMERAS
from robot_io.metaworld_env import MetaWorldEnv


def pads_centre(env: MetaWorldEnv) -> np.ndarray:
    """The centre (column, row) of the pixels MuJoCo draws for the gripper pads, in our upright image."""
    model, data = env._env.model, env._env.data
    renderer = mujoco.Renderer(model, env.image_size, env.image_size)
    try:
        renderer.update_scene(data, camera=env.camera)
        renderer.enable_segmentation_rendering()
        geom_ids = renderer.render()[..., 0]  # (H, W)
    finally:
        renderer.close()
    pads = [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, name) for name in ("rightpad", "leftpad")]
    mask = np.isin(geom_ids, [g for g in range(model.ngeom) if model.geom_bodyid[g] in pads])
    if env.camera in UPSIDE_DOWN_CAMERAS:
        mask = mask[::-1, ::-1]
    rows, columns = np.nonzero(mask)
    assert len(rows) > 0, "the pads are out of view"
    return np.array([columns.mean() + 0.5, rows.mean() + 0.5])  # pixel centres


@pytest.mark.parametrize("camera", ["corner", "corner3"])
def test_the_projected_hand_lands_on_the_drawn_gripper_pads(camera):
    with MetaWorldEnv("button-press-topdown", camera, 64) as env:
        observation = env.reset(1_000_000, render=False)
        hand = observation.env_state[None, :3]  # MetaWorld's hand position: between the two pads
        np.testing.assert_allclose(env.pixel_coordinates(hand)[0], pads_centre(env), atol=1.5)

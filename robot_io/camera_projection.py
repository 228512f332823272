"""Where a point of a MuJoCo scene appears in a fixed camera's image: to score what a model draws around a
small object (its pixels in the frames), from the simulator states the demos record.

MuJoCo's camera frame has x to the right and y up, and the camera looks along its -z axis; `fovy` is the
vertical field of view. Cameras that render rotated by 180° (`fast_renderer.UPSIDE_DOWN_CAMERAS`) are flipped
upright in our images, so their pixels are mirrored here too.
"""

import mujoco
import numpy as np

from robot_io.fast_renderer import UPSIDE_DOWN_CAMERAS


def pixel_coordinates(
    model: mujoco.MjModel, data: mujoco.MjData, camera: str, points: np.ndarray, image_size: int
) -> np.ndarray:
    """The (column, row) pixel coordinates of world `points` (N, 3) in the upright square image of `camera`,
    `image_size` pixels wide; points behind the camera have no image and are refused. # (N, 2) float"""
    index = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, camera)
    position, rotation = data.cam_xpos[index], data.cam_xmat[index].reshape(3, 3)
    local = (np.asarray(points, dtype=np.float64) - position) @ rotation  # (N, 3) in the camera's frame
    depth = -local[:, 2]
    if (depth <= 0).any():
        raise ValueError(f"a point lies behind camera {camera}")
    focal = (image_size / 2) / np.tan(np.deg2rad(model.cam_fovy[index]) / 2)
    column = focal * local[:, 0] / depth + image_size / 2
    row = -focal * local[:, 1] / depth + image_size / 2
    if camera in UPSIDE_DOWN_CAMERAS:
        column, row = image_size - column, image_size - row
    return np.stack([column, row], axis=1)

"""An offscreen MuJoCo camera renderer tuned for small images on software OpenGL.

gymnasium's `render()` draws into the model's 640×480 multisampled offscreen buffer with shadows,
reflections and a skybox, then reads the whole buffer back: ~140–210 ms per frame under Mesa's llvmpipe
whatever the requested size. This renderer disables multisampling, sizes the offscreen buffer to the image
and, by default, turns those effects off (≈6 ms per 64×64 frame here; `scripts/bench_render.py` measures
it). They are not invisible at 64 px: the skybox greys the background that is black here, and shadows darken
the table, so a model trained on frames of one look and run on the other meets images it never saw
(docs/lerobot.md measures what that costs). `effects=True` draws them as gymnasium does.
"""

import mujoco
import numpy as np

from foundation.errors import InputError

# Cameras whose MetaWorld definitions render rotated by 180°; flipping both axes makes them upright.
UPSIDE_DOWN_CAMERAS = frozenset({"corner", "corner2", "corner3", "corner4"})

_EFFECTS = (mujoco.mjtRndFlag.mjRND_SHADOW, mujoco.mjtRndFlag.mjRND_REFLECTION, mujoco.mjtRndFlag.mjRND_SKYBOX)


def camera_names(model: mujoco.MjModel) -> list[str]:
    """Names of the fixed and tracking cameras defined in a model."""
    return [mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_CAMERA, i) for i in range(model.ncam)]


class FastRenderer:
    """Renders one named camera of a MuJoCo model at a fixed size, upright, as uint8 RGB.

    The renderer mutates the model's visual quality settings (offscreen buffer size, multisampling),
    which only affect rendering, never physics. Call `close()` (or use it as a context manager): an
    EGL context collected at interpreter exit prints an error.
    """

    def __init__(self, model: mujoco.MjModel, camera: str, height: int, width: int, effects: bool = False):
        valid = camera_names(model)
        if camera not in valid:
            raise InputError(f"unknown camera {camera!r}; valid cameras: {', '.join(valid)}")
        if height < 8 or width < 8:
            raise InputError(f"image size {height}x{width} is too small; use at least 8x8")
        model.vis.global_.offwidth = width
        model.vis.global_.offheight = height
        model.vis.quality.offsamples = 0
        self.camera = camera
        self._flip = camera in UPSIDE_DOWN_CAMERAS
        self._renderer = mujoco.Renderer(model, height=height, width=width)
        for flag in _EFFECTS:
            self._renderer.scene.flags[flag] = int(effects)

    def render(self, data: mujoco.MjData) -> np.ndarray:
        """Returns the camera image for the current simulation state. # (H, W, 3) uint8"""
        self._renderer.update_scene(data, camera=self.camera)
        image = self._renderer.render()
        if self._flip:
            image = image[::-1, ::-1]
        return np.ascontiguousarray(image)

    def close(self) -> None:
        self._renderer.close()

    def __enter__(self) -> "FastRenderer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

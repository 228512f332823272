"""Camera images in, model frames out: one rule for every model that looks at the robot's camera."""

import logging

import numpy as np
import torch
from einops import rearrange

from foundation.errors import InputError
from foundation.frames import resize_frames

logger = logging.getLogger(__name__)


def camera_image_to_frame(image: np.ndarray, size: int) -> torch.Tensor:
    """Validates a uint8 RGB camera image and brings it to the model's square resolution, with a logged
    warning when it had to be resized. # (H, W, 3) -> (1, 3, size, size) uint8"""
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise InputError(f"image must be uint8 RGB of shape (H, W, 3); got {image.dtype} {image.shape}")
    if image.shape[0] != image.shape[1]:
        raise InputError(f"image must be square (crop it first); got {image.shape[0]}x{image.shape[1]}")
    frame = rearrange(torch.from_numpy(np.array(image)), "h w c -> 1 c h w")
    if image.shape[0] != size:
        logger.warning("resizing the %dx%d image to the model's %dx%d", *image.shape[:2], size, size)
        frame = resize_frames(frame, size)
    return frame

"""Bytes in and out of the planning API: uploaded camera images to square uint8 frames, plans to PNG frames,
an mp4 or an npz. The API and `PlannerClient` share these, so both ends agree on one encoding."""

import base64
import binascii
import io

import numpy as np
from PIL import Image

from foundation.camera_image import MIN_IMAGE_SIZE, centre_square_image, decode_image
from foundation.errors import InputError
from foundation.video_io import encode_mp4

PLAN_FORMATS = ("png", "mp4", "npz")
VIDEO_FPS = 4


def decode_base64(text: str, what: str) -> bytes:
    """Standard base64, with or without a `data:...;base64,` prefix (what a browser's FileReader gives)."""
    if text.startswith("data:"):
        text = text.partition(",")[2]
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InputError(f"{what} is not valid base64") from None


def camera_image(data: bytes, max_pixels: int) -> np.ndarray:
    """An uploaded PNG/JPEG as the square image planners take: any 8-bit image of at least `MIN_IMAGE_SIZE`
    pixels a side, converted to RGB and cropped to its centred square (the rule of `foundation.frames`).
    # -> (S, S, 3) uint8"""
    image = decode_image(data, "the image", max_pixels)
    if min(image.shape[:2]) < MIN_IMAGE_SIZE:
        height, width = image.shape[:2]
        raise InputError(f"the image is {width}x{height}; send at least {MIN_IMAGE_SIZE}x{MIN_IMAGE_SIZE} pixels")
    return centre_square_image(image)


def png_base64(frame: np.ndarray) -> str:
    """(H, W, 3) uint8 -> base64 PNG."""
    buffer = io.BytesIO()
    Image.fromarray(frame).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def mp4_bytes(frames: np.ndarray, fps: int = VIDEO_FPS) -> bytes:
    """(T, H, W, 3) uint8 -> H.264 mp4 in yuv420p, which browsers play (H and W even: planner frames are)."""
    buffer = io.BytesIO()
    encode_mp4(buffer, frames, fps, pix_fmt="yuv420p", crf=12)
    return buffer.getvalue()


def npz_bytes(frames: np.ndarray, context_frame: np.ndarray) -> bytes:
    """The exact frames as a compressed npz: `frames` (K, H, W, 3) and `context_frame` (H, W, 3), uint8."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, frames=frames, context_frame=context_frame)
    return buffer.getvalue()


def read_npz(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """`npz_bytes` back to (frames, context_frame); never unpickles."""
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            return arrays["frames"], arrays["context_frame"]
    except (ValueError, KeyError, OSError) as err:
        raise InputError(f"the plan's npz is damaged: {err}") from None


def encode_plan(frames: np.ndarray, context_frame: np.ndarray, fmt: str) -> dict:
    """A plan's frames as the response carries them: `frames` (base64 PNGs, the context frame first) for png,
    `data` (base64 of the file) for mp4 (context frame first) and npz."""
    if fmt == "png":
        return {"frames": [png_base64(f) for f in (context_frame, *frames)]}
    if fmt == "mp4":
        return {"data": base64.b64encode(mp4_bytes(np.concatenate([context_frame[None], frames]))).decode()}
    return {"data": base64.b64encode(npz_bytes(frames, context_frame)).decode()}

"""Camera images in, model frames out: one rule for every model that looks at the robot's camera."""

import io
import logging
from pathlib import Path

import numpy as np
import torch
from einops import rearrange

from foundation.errors import InputError
from foundation.frames import centre_square, resize_frames

logger = logging.getLogger(__name__)
MIN_IMAGE_SIZE = 8  # pixels per side: smaller shows nothing a model could use


def camera_image_to_frame(image: np.ndarray, size: int) -> torch.Tensor:
    """Validates a uint8 RGB camera image and brings it to the model's square resolution, with a logged
    warning when it had to be resized. # (H, W, 3) -> (1, 3, size, size) uint8"""
    image = check_camera_image(image)
    frame = rearrange(torch.from_numpy(np.array(image)), "h w c -> 1 c h w")
    if image.shape[0] != size:
        logger.warning("resizing the %dx%d image to the model's %dx%d", *image.shape[:2], size, size)
        frame = resize_frames(frame, size)
    return frame


def centre_square_image(image: np.ndarray) -> np.ndarray:
    """The largest centred square of a camera image, by the rule of `foundation.frames.centre_square` (a
    640×480 image loses 80 columns a side). # (H, W, 3) -> (S, S, 3), S = min(H, W)"""
    square = centre_square(rearrange(torch.from_numpy(np.ascontiguousarray(image)), "h w c -> c h w"))
    return np.ascontiguousarray(rearrange(square, "c h w -> h w c").numpy())


def check_camera_image(image: np.ndarray) -> np.ndarray:
    """The image as an array, refused in one line unless it is a square uint8 RGB image of at least
    `MIN_IMAGE_SIZE` pixels a side. # (H, W, 3) uint8"""
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise InputError(f"image must be uint8 RGB of shape (H, W, 3); got {image.dtype} {image.shape}")
    if image.shape[0] != image.shape[1]:
        raise InputError(f"image must be square (crop it first); got {image.shape[0]}x{image.shape[1]}")
    if image.shape[0] < MIN_IMAGE_SIZE:
        raise InputError(f"image is {image.shape[0]}x{image.shape[1]}; give at least {MIN_IMAGE_SIZE}x{MIN_IMAGE_SIZE}")
    return image


EIGHT_BIT_MODES = ("1", "L", "LA", "P", "RGB", "RGBA", "CMYK", "YCbCr")  # PIL modes that convert to RGB losslessly


def read_image_file(path: str | Path) -> np.ndarray:
    """An image file (PNG, JPEG, ...) as uint8 RGB; see `decode_image`. # -> (H, W, 3) uint8"""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"image {path} does not exist")
    return decode_image(path.read_bytes(), f"image {path}")


def decode_image(data: bytes, name: str = "image", max_pixels: int | None = None) -> np.ndarray:
    """Encoded image bytes (PNG, JPEG, ...) as uint8 RGB, refusing in one line what is not an 8-bit image: empty,
    truncated or non-image bytes, 16-bit or float images (PIL would clip them to white), and, with
    `max_pixels`, an image whose header declares more pixels (checked before decoding, so a huge image costs
    no memory). `name` says in messages what the bytes are. # -> (H, W, 3) uint8"""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if max_pixels is not None and width * height > max_pixels:
                raise InputError(f"{name} is {width}x{height}, over the {max_pixels} pixels allowed; send it smaller")
            if image.mode not in EIGHT_BIT_MODES:
                raise InputError(f"{name} is {image.mode} (not 8 bits per channel); save it as 8-bit RGB")
            if 0 in image.size:
                raise InputError(f"{name} is empty ({width}x{height})")
            image.load()  # decodes now, so truncated data fails here
            return np.array(image.convert("RGB"))
    except Image.DecompressionBombError:  # PIL's own limit, met when opening, before ours
        limit = max_pixels or 2 * Image.MAX_IMAGE_PIXELS
        raise InputError(f"{name} is over the {limit} pixels allowed; send it smaller") from None
    except (UnidentifiedImageError, OSError, SyntaxError) as err:
        raise InputError(f"cannot read {name}: {str(err).splitlines()[0]}; give a PNG or JPEG image") from None

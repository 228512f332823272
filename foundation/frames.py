"""Frame arithmetic shared by datasets and models, free of LeRobot so planning imports stay light: resizing, and
the one mapping between uint8 frames and the [-1, 1] floats every network here sees."""

import numpy as np
import torch
import torch.nn.functional as F


def centre_square(frames: torch.Tensor) -> torch.Tensor:
    """The largest centred square of each frame, so a camera of another aspect (640×480) is cropped, never
    squeezed: it loses 80 columns on each side. Models and the policy's image processor share this rule.
    # (..., H, W) -> (..., S, S), S = min(H, W)"""
    height, width = frames.shape[-2:]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    return frames[..., top : top + side, left : left + side]


def resize_frames(frames: torch.Tensor, size: int) -> torch.Tensor:
    """Area-resamples uint8 frames to size×size. # (F, 3, H, W) -> (F, 3, size, size)"""
    resized = F.interpolate(frames.float(), size=(size, size), mode="area")
    return resized.round().clamp(0, 255).to(torch.uint8)


def resize_images(images: np.ndarray, size: int) -> np.ndarray:
    """`resize_frames` for channel-last uint8 images (camera images, plans), a no-op at their own size.
    # (..., H, W, 3) -> (..., size, size, 3)"""
    if images.shape[-3:-1] == (size, size):
        return images
    frames = torch.from_numpy(np.ascontiguousarray(images)).reshape(-1, *images.shape[-3:]).permute(0, 3, 1, 2)
    resized = resize_frames(frames, size).permute(0, 2, 3, 1)  # (F, size, size, 3)
    return np.ascontiguousarray(resized.reshape(*images.shape[:-3], size, size, 3).numpy())


def frames_to_unit(frames: torch.Tensor) -> torch.Tensor:
    """uint8 frames -> floats in [-1, 1]. # any shape"""
    return frames.float() / 127.5 - 1.0


def unit_to_frames(pixels: torch.Tensor) -> torch.Tensor:
    """Floats in [-1, 1] (clamped) -> uint8 frames, rounded. # any shape"""
    return ((pixels.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def random_shift(frames: torch.Tensor, targets: torch.Tensor, pixels: int, generator) -> tuple:
    """Shifts each sample's two frames by the same random offset of up to `pixels` (edges replicated),
    so the model learns the motion between them, not where the camera sits. # (B, 3, S, S) x2"""
    b, _, s, _ = frames.shape
    padded = torch.nn.functional.pad(torch.cat([frames, targets], 1).float(), [pixels] * 4, mode="replicate")
    offsets = torch.randint(0, 2 * pixels + 1, (b, 2), generator=generator)
    crops = torch.stack([padded[i, :, y : y + s, x : x + s] for i, (y, x) in enumerate(offsets.tolist())])
    return crops[:, :3].to(torch.uint8), crops[:, 3:].to(torch.uint8)

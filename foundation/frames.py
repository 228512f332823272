"""Frame arithmetic shared by datasets and models, free of LeRobot so planning imports stay light."""

import torch
import torch.nn.functional as F


def resize_frames(frames: torch.Tensor, size: int) -> torch.Tensor:
    """Area-resamples uint8 frames to size×size. # (F, 3, H, W) -> (F, 3, size, size)"""
    resized = F.interpolate(frames.float(), size=(size, size), mode="area")
    return resized.round().clamp(0, 255).to(torch.uint8)

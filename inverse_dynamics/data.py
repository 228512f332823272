"""Inverse-dynamics samples: frame t, frame t+s, the state at t, and the s actions that lead between them."""

from pathlib import Path

import torch

from foundation.errors import InputError
from robot_io.dataset_io import EpisodeWindows


class InverseDynamicsDataset(torch.utils.data.Dataset):
    """Samples from a LeRobotDataset, for every t with t + stride inside its episode (no padding)."""

    def __init__(self, root: str | Path, stride: int = 4, image_size: int | None = None, backend: str = "lerobot"):
        if stride < 1:
            raise InputError(f"stride must be >= 1, got {stride}")
        self.windows = EpisodeWindows(
            root, [0, stride], list(range(stride)), span=stride, backend=backend, image_size=image_size
        )

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, i: int) -> dict:
        window = self.windows.window(i)
        return {
            "frame": window["frames"][0],  # (3, H, W) uint8
            "target_frame": window["frames"][1],  # (3, H, W) uint8
            "state": window["state"],  # (S,) float32
            "actions": window["actions"],  # (stride, A) float32
            "episode_index": window["episode_index"],
            "frame_index": window["frame_index"],
        }

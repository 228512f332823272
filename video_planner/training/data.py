"""Training clips for the video planner: a first frame, K future frames at stride s, and the instruction."""

from pathlib import Path

import torch

from foundation.errors import InputError
from robot_io.dataset_io import EpisodeWindows


class PlannerClipDataset(torch.utils.data.Dataset):
    """Clips from a LeRobotDataset of episodes.

    A clip starts at any frame t that has at least one real future frame (t + stride inside the
    episode). Future frames past the episode end repeat its last frame (the task is done, the scene
    holds still) and are flagged in `future_is_pad`.
    """

    def __init__(
        self,
        root: str | Path,
        num_future_frames: int = 7,
        stride: int = 4,
        image_size: int | None = None,
        backend: str = "lerobot",
    ):
        if num_future_frames < 1 or stride < 1:
            raise InputError(f"num_future_frames ({num_future_frames}) and stride ({stride}) must be >= 1")
        offsets = [stride * k for k in range(num_future_frames + 1)]
        self.windows = EpisodeWindows(root, offsets, [], span=stride, backend=backend, image_size=image_size)

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, i: int) -> dict:
        window = self.windows.window(i)
        frames = window["frames"]  # (1 + K, 3, H, W) uint8
        return {
            "first_frame": frames[0],  # (3, H, W) uint8
            "future_frames": frames[1:],  # (K, 3, H, W) uint8
            "future_is_pad": window["frames_is_pad"][1:],  # (K,) bool
            "instruction": window["instruction"],
            "episode_index": window["episode_index"],
            "frame_index": window["frame_index"],
        }

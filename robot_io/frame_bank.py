"""All frames of a dataset decoded once into memory (with states and actions), for training and
evaluating on CPU.

Decoding video per sample would dominate a 0.26 s train step; the AVDC-11 demos are 11.7 k frames
(144 MiB at 64 px), so they are decoded once, resized to the model's resolution and indexed.
Clips follow `PlannerClipDataset`'s rule: offsets past the episode end repeat its last frame.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from foundation.frames import resize_frames
from robot_io.dataset_io import DecordEpisodeVideo, clamp_to_episode, open_dataset, window_starts
from robot_io.episode_format import ACTION_KEY, CAMERA_KEY, SEED_KEY, STATE_KEY, SUCCESS_KEY


@dataclass
class FrameBank:
    frames: torch.Tensor  # (N, 3, H, W) uint8, episodes back to back
    states: np.ndarray  # (N, S) float32
    actions: np.ndarray  # (N, A) float32, the action taken at each frame
    starts: np.ndarray  # (E,) index of each episode's first frame in `frames`
    lengths: np.ndarray  # (E,)
    instructions: list[str]  # (E,)
    cameras: list[str]  # (E,)
    seeds: list[int]  # (E,)
    successes: np.ndarray  # (E,) bool, whether each episode solved its task

    @classmethod
    def load(cls, root: str | Path, image_size: int, show_progress: bool = True) -> "FrameBank":
        dataset = open_dataset(root)
        video = DecordEpisodeVideo(dataset)
        episodes = dataset.meta.episodes
        lengths = np.asarray(episodes["length"])
        table = dataset.hf_dataset.with_format("numpy")
        starts = np.asarray(episodes["dataset_from_index"])
        solved = np.asarray(table[SUCCESS_KEY]).reshape(-1).astype(bool)  # (N,)
        chunks = []
        for episode in tqdm(range(len(lengths)), desc=f"decode {Path(root).name}", disable=not show_progress):
            frames = torch.from_numpy(video.frames(episode, np.arange(lengths[episode]))).permute(0, 3, 1, 2)
            chunks.append(resize_frames(frames, image_size) if frames.shape[-1] != image_size else frames)
        return cls(
            frames=torch.cat(chunks),
            states=np.asarray(table[STATE_KEY], dtype=np.float32),
            actions=np.asarray(table[ACTION_KEY], dtype=np.float32),
            starts=np.concatenate([[0], np.cumsum(lengths)[:-1]]),
            lengths=lengths,
            instructions=[row[0] for row in episodes["tasks"]],
            cameras=[str(table[CAMERA_KEY][s]) for s in starts],
            seeds=[int(np.asarray(table[SEED_KEY][s]).reshape(-1)[0]) for s in starts],
            successes=np.array([solved[s : s + n].any() for s, n in zip(starts, lengths, strict=True)], dtype=bool),
        )

    @classmethod
    def load_with_replay(cls, datasets, replay, image_size: int, show_progress: bool = True):
        """One bank of the `datasets`' episodes followed by the `replay` datasets' ones, and how many of
        its episodes are the former: `(bank, own_episodes)`."""
        own, replayed = (
            [cls.load(d, image_size, show_progress=show_progress) for d in group] for group in (datasets, replay)
        )
        return cls.merge(own + replayed), sum(len(bank.lengths) for bank in own)

    @classmethod
    def merge(cls, banks: list["FrameBank"]) -> "FrameBank":
        """One bank holding the episodes of `banks` in order."""
        lengths = np.concatenate([b.lengths for b in banks])
        return cls(
            frames=torch.cat([b.frames for b in banks]),
            states=np.concatenate([b.states for b in banks]),
            actions=np.concatenate([b.actions for b in banks]),
            starts=np.concatenate([[0], np.cumsum(lengths)[:-1]]),
            lengths=lengths,
            instructions=[i for b in banks for i in b.instructions],
            cameras=[c for b in banks for c in b.cameras],
            seeds=[s for b in banks for s in b.seeds],
            successes=np.concatenate([b.successes for b in banks]),
        )

    def clip_starts(self, stride) -> np.ndarray:
        """(episode, t) of every clip start with at least one real future frame; `stride` is one int or one
        per episode. # (M, 2)"""
        return np.array(window_starts(self.lengths, stride))

    def clip_indices(self, episode: int, t: int, num_future: int, stride: int) -> np.ndarray:
        """Indices in `frames` of a clip's first and K future frames. # (K+1,)"""
        positions, _ = clamp_to_episode(t + stride * np.arange(num_future + 1), self.lengths[episode])
        return self.starts[episode] + positions

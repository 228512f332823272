"""The data door of both trainers: a dataset's frames decoded once into memory (with states and actions), and
the two views the models train on.

    bank = FrameBank.load("outputs/datasets/metaworld_avdc11", image_size=64)
    clips = PlannerClips(bank, num_future_frames=7, stride=8)   # the planner's: first frame + K future frames
    chunks = ActionChunks(bank, chunk_size=8)                   # the IDM's: frame, frame k later, the k actions

Decoding video per sample would dominate a 0.26 s train step; the AVDC-11 demos are 11.7 k frames (144 MiB at
64 px), so they are decoded once, resized to the model's resolution and indexed. A clip starts at every frame
with at least one real frame `stride` later; its frames past the episode end repeat the last one (the task is
done, the scene holds still) and are flagged as padding.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from foundation.errors import InputError
from foundation.frames import centre_square, random_shift, resize_frames
from robot_io.dataset_io import (
    BACKENDS,
    DecordEpisodeVideo,
    LeRobotEpisodeVideo,
    clamp_to_episode,
    open_dataset,
    window_starts,
)
from robot_io.episode_format import ACTION_KEY, IMAGE_KEY, STATE_KEY, SUCCESS_KEY


@dataclass
class FrameBank:
    frames: torch.Tensor  # (N, 3, H, W) uint8, episodes back to back
    states: np.ndarray  # (N, S) float32
    actions: np.ndarray  # (N, A) float32, the action taken at each frame
    starts: np.ndarray  # (E,) index of each episode's first frame in `frames`
    lengths: np.ndarray  # (E,)
    instructions: list[str]  # (E,)
    # (E,) bool, whether each episode solved its task; None for datasets that record no outcome (`lerobot-record`)
    successes: np.ndarray | None

    @classmethod
    def load(
        cls,
        root: str | Path,
        image_size: int,
        show_progress: bool = True,
        backend: str = "auto",
        camera_key: str | None = None,
    ) -> "FrameBank":
        """Every episode of the dataset at `root`, frames of `camera_key` (`choose_camera`) centre-cropped square
        and resized to `image_size`. `backend` "decord" reads the raw mp4s (the path raw video corpora take),
        "lerobot" LeRobot's own reader (torchcodec); both give the same frames. "auto" takes decord for H.264
        (what `vp` records) and LeRobot's reader for other codecs (AV1, what `lerobot-record` writes)."""
        if backend not in (*BACKENDS, "auto"):
            raise InputError(f"unknown video backend {backend!r}; valid: auto, {', '.join(BACKENDS)}")
        dataset = open_dataset(root)
        key = choose_camera(dataset.meta, camera_key)
        if backend == "auto":
            backend = "decord" if dataset.meta.features[key]["info"]["video.codec"] == "h264" else "lerobot"
        video = DecordEpisodeVideo(dataset, key) if backend == "decord" else LeRobotEpisodeVideo(dataset, key)
        episodes = dataset.meta.episodes
        lengths = np.asarray(episodes["length"])
        table = dataset.hf_dataset.with_format("numpy")
        starts = np.asarray(episodes["dataset_from_index"])
        chunks = []
        bar = tqdm(range(len(lengths)), desc=f"decode {Path(root).name}", disable=not show_progress)
        with bar:  # closed on a damaged video too, so its line ends before the error line
            for episode in bar:
                frames = torch.from_numpy(video.frames(episode, np.arange(lengths[episode]))).permute(0, 3, 1, 2)
                frames = centre_square(frames)  # (T, 3, side, side)
                chunks.append(resize_frames(frames, image_size) if frames.shape[-1] != image_size else frames)
        return cls(
            frames=torch.cat(chunks),
            states=np.asarray(table[STATE_KEY], dtype=np.float32),
            actions=np.asarray(table[ACTION_KEY], dtype=np.float32),
            starts=np.concatenate([[0], np.cumsum(lengths)[:-1]]),
            lengths=lengths,
            instructions=[row[0] for row in episodes["tasks"]],
            successes=_episode_successes(table, starts, lengths) if SUCCESS_KEY in table.column_names else None,
        )

    @classmethod
    def load_with_replay(
        cls, datasets, replay, image_size: int, show_progress: bool = True, camera_key: str | None = None
    ):
        """One bank of the `datasets`' episodes followed by the `replay` datasets' ones, and how many of
        its episodes are the former: `(bank, own_episodes)`."""
        own, replayed = (
            [cls.load(d, image_size, show_progress=show_progress, camera_key=camera_key) for d in group]
            for group in (datasets, replay)
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
            successes=None if any(b.successes is None for b in banks) else np.concatenate([b.successes for b in banks]),
        )

    def clip_starts(self, stride) -> np.ndarray:
        """(episode, t) of every clip start with at least one real future frame; `stride` is one int or one
        per episode. # (M, 2)"""
        return np.array(window_starts(self.lengths, stride))

    def clip_indices(self, episode: int, t: int, num_future: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
        """Indices in `frames` of a clip's first and K future frames, and which of them repeat the episode's
        last frame. # (K+1,), (K+1,) bool"""
        positions, is_pad = clamp_to_episode(t + stride * np.arange(num_future + 1), self.lengths[episode])
        return self.starts[episode] + positions, is_pad


def choose_camera(meta, camera_key: str | None) -> str:
    """The camera a model learns from: `camera_key` when given, else `observation.image` (what `vp` records),
    else the dataset's only camera; a choice among several is the user's."""
    cameras = list(meta.video_keys)
    if camera_key is not None and camera_key not in cameras:
        raise InputError(f"{meta.root} has no camera {camera_key!r}; its cameras: {', '.join(cameras) or 'none'}")
    if camera_key is None and IMAGE_KEY not in cameras and len(cameras) != 1:
        raise InputError(
            f"{meta.root} has cameras {', '.join(cameras) or 'none'}; choose the one to learn from with --camera-key"
        )
    return camera_key or (IMAGE_KEY if IMAGE_KEY in cameras else cameras[0])


def _episode_successes(table, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Whether each episode was solved at any of its steps. # (E,) bool"""
    solved = np.asarray(table[SUCCESS_KEY]).reshape(-1).astype(bool)  # (N,)
    return np.array([solved[s : s + n].any() for s, n in zip(starts, lengths, strict=True)], dtype=bool)


class PlannerClips(torch.utils.data.Dataset):
    """The planner's training clips of a bank: a first frame, K future frames `stride` apart, the instruction.
    `stride` is one int or one per episode (SAIL paces slow rollouts with a longer one)."""

    def __init__(self, bank: FrameBank, num_future_frames: int, stride):
        if num_future_frames < 1 or np.min(stride) < 1:
            raise InputError(f"num_future_frames ({num_future_frames}) and stride ({stride}) must be >= 1")
        self.bank = bank
        strides = np.broadcast_to(stride, bank.lengths.shape)  # (E,)
        self.starts = bank.clip_starts(strides)  # (M, 2)
        clips = [bank.clip_indices(e, t, num_future_frames, strides[e]) for e, t in self.starts]
        self.index = np.stack([index for index, _ in clips])  # (M, K+1) rows of bank.frames
        self.is_pad = np.stack([pad for _, pad in clips])  # (M, K+1)
        self.instructions = [bank.instructions[e] for e in self.starts[:, 0]]  # (M,)

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> dict:
        frames = self.bank.frames[torch.from_numpy(self.index[i])]  # (1+K, 3, H, W) uint8
        return {
            "first_frame": frames[0],  # (3, H, W) uint8
            "future_frames": frames[1:],  # (K, 3, H, W) uint8
            "future_is_pad": torch.from_numpy(self.is_pad[i][1:]),  # (K,) bool
            "instruction": self.instructions[i],
            "episode_index": int(self.starts[i, 0]),
            "frame_index": int(self.starts[i, 1]),
        }


class ActionChunks(torch.utils.data.Dataset):
    """The IDM's samples of a bank: frame t, frame t+k, the state at t and the k actions that lead between
    them, for every t with t+k inside its episode (no padding). The first `own_rows` samples come from the
    bank's first `own_episodes` episodes (the rest: replayed demos)."""

    def __init__(self, bank: FrameBank, chunk_size: int, own_episodes: int | None = None):
        if chunk_size < 1:
            raise InputError(f"chunk_size must be >= 1, got {chunk_size}")
        self.bank, self.chunk_size = bank, chunk_size
        chunks = [bank.starts[e] + np.arange(max(0, n - chunk_size)) for e, n in enumerate(bank.lengths)]
        self.frame_index = np.concatenate(chunks)  # (M,) row of each sample's first frame
        self.own_rows = sum(len(c) for c in chunks[:own_episodes])
        if len(self.frame_index) == 0:
            raise InputError(f"no episode is longer than the chunk size {chunk_size}")

    def __len__(self) -> int:
        return len(self.frame_index)

    def __getitem__(self, i: int) -> dict:
        batch = self.batch(np.array([i]))
        episode = int(np.searchsorted(self.bank.starts, self.frame_index[i], side="right") - 1)
        return {
            "frame": batch["frames"][0],  # (3, H, W) uint8
            "target_frame": batch["targets"][0],  # (3, H, W) uint8
            "state": batch["states"][0],  # (S,) float32
            "actions": batch["actions"][0],  # (k, A) float32
            "episode_index": episode,
            "frame_index": int(self.frame_index[i] - self.bank.starts[episode]),
        }

    def batch(self, rows: np.ndarray, shift_pixels: int = 0, generator: torch.Generator | None = None) -> dict:
        """frames/targets (B, 3, S, S) uint8, states (B, S_dim), actions (B, k, A) for sample rows `rows`;
        `shift_pixels` shifts each sample's two frames alike (`random_shift`)."""
        index = self.frame_index[rows]
        frames, targets = self.bank.frames[index], self.bank.frames[index + self.chunk_size]
        if shift_pixels:
            frames, targets = random_shift(frames, targets, shift_pixels, generator)
        chunk = index[:, None] + np.arange(self.chunk_size)  # (B, k)
        return {
            "frames": frames,
            "targets": targets,
            "states": torch.from_numpy(self.bank.states[index]),
            "actions": torch.from_numpy(self.bank.actions[chunk]),
        }

"""Inverse-dynamics training samples drawn from an in-memory FrameBank."""

import numpy as np
import torch

from foundation.errors import InputError
from inverse_dynamics.config import InverseDynamicsConfig
from robot_io.frame_bank import FrameBank


def load_chunk_samples(
    datasets, config: InverseDynamicsConfig, show_progress: bool = True, replay=()
) -> "ChunkSampler":
    """Every chunk of the datasets, then of the `replay` ones, decoded once at the model's image size;
    refuses datasets whose state or action dimensions are not the model's."""
    bank, own_episodes = FrameBank.load_with_replay(datasets, replay, config.image_size, show_progress)
    if bank.states.shape[1] != config.state_dim or bank.actions.shape[1] != config.action_dim:
        raise InputError(
            f"the datasets hold states of dim {bank.states.shape[1]} and actions of dim {bank.actions.shape[1]}; "
            f"the inverse-dynamics model expects {config.state_dim} and {config.action_dim}"
        )
    return ChunkSampler(bank, config.chunk_size, own_episodes=own_episodes)


class ChunkSampler:
    """Every (frame t, frame t+k, state t, actions t..t+k-1) with t+k inside its episode, as bank indices.
    The first `own_rows` samples come from the first `own_episodes` episodes (the rest: replay demos)."""

    def __init__(self, bank: FrameBank, chunk_size: int, own_episodes: int | None = None):
        self.bank, self.chunk_size = bank, chunk_size
        chunks = [bank.starts[e] + np.arange(max(0, n - chunk_size)) for e, n in enumerate(bank.lengths)]
        self.frame_index = np.concatenate(chunks)  # (M,)
        self.own_rows = sum(len(c) for c in chunks[:own_episodes])
        if len(self.frame_index) == 0:
            raise ValueError(f"no episode is longer than the chunk size {chunk_size}")

    def __len__(self) -> int:
        return len(self.frame_index)

    def batch(self, rows: np.ndarray, shift_pixels: int = 0, generator: torch.Generator | None = None) -> dict:
        """frames/targets (B, 3, S, S) uint8, states (B, S_dim), actions (B, k, A) for sample rows `rows`."""
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


def random_shift(frames: torch.Tensor, targets: torch.Tensor, pixels: int, generator) -> tuple:
    """Shifts each sample's two frames by the same random offset of up to `pixels` (edges replicated),
    so the model learns the motion between them, not where the camera sits. # (B, 3, S, S) x2"""
    b, _, s, _ = frames.shape
    padded = torch.nn.functional.pad(torch.cat([frames, targets], 1).float(), [pixels] * 4, mode="replicate")
    offsets = torch.randint(0, 2 * pixels + 1, (b, 2), generator=generator)
    crops = torch.stack([padded[i, :, y : y + s, x : x + s] for i, (y, x) in enumerate(offsets.tolist())])
    return crops[:, :3].to(torch.uint8), crops[:, 3:].to(torch.uint8)

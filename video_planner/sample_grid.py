"""Sample videos that put ground truth next to generated plans, for training and evaluation reports."""

from pathlib import Path

import numpy as np

from video_planner.video_io import write_video


def sample_grid_frames(truth: list[np.ndarray], plans: list[np.ndarray], gap: int = 2) -> list[np.ndarray]:
    """One grid per time step: a row per clip, ground truth left, plan right.

    truth, plans: lists of (T, H, W, 3) uint8 of equal shapes -> list of T (rows·H, 2·W + gap, 3) uint8
    """
    grids = []
    for t in range(truth[0].shape[0]):
        rows = []
        for real, planned in zip(truth, plans, strict=True):
            spacer = np.full((real.shape[1], gap, 3), 255, np.uint8)
            rows.append(np.concatenate([real[t], spacer, planned[t]], axis=1))
        grids.append(np.concatenate(rows, axis=0))
    return grids


def write_sample_gif(path: Path, truth: list[np.ndarray], plans: list[np.ndarray], fps: int = 4) -> None:
    write_video(path, np.stack(sample_grid_frames(truth, plans)), fps=fps)

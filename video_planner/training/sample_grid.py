"""Samples that put ground truth next to generated plans, for training and evaluation reports: a GIF (one
grid per time step) and a still sheet (time runs left to right)."""

from pathlib import Path

import numpy as np
from PIL import Image

from foundation.video_io import write_video


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


def write_sample_sheet(path: Path, truth: list[np.ndarray], plans: list[np.ndarray], gap: int = 2) -> None:
    """A PNG with two rows per clip, the recorded frames above the plan, time running left to right; the
    first column is the conditioning frame both start from. truth, plans: lists of (T, H, W, 3) uint8"""
    t, h, w, _ = truth[0].shape
    sheet = np.full((len(truth) * (2 * h + 2 * gap), t * (w + gap), 3), 255, np.uint8)
    for i, (real, planned) in enumerate(zip(truth, plans, strict=True)):
        for j, frames in enumerate((real, planned)):
            top = i * (2 * h + 2 * gap) + j * h
            for k in range(t):
                sheet[top : top + h, k * (w + gap) : k * (w + gap) + w] = frames[k]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    Image.fromarray(sheet).save(tmp)
    tmp.rename(path)

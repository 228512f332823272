"""Crash-safe appends to a LeRobotDataset directory.

LeRobot keeps parquet writers open until `finalize()`; a process killed before that leaves files
without footers and a dataset that no longer loads. Each `append()` therefore works on a copy
(`.<name>.staging`), finalizes it, then swaps it in atomically (`foundation.atomic_dir`). A JSON
sidecar in `meta/` (e.g. collection progress) is committed in the same swap.
"""

import ctypes
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import av
from datasets import disable_progress_bars
from lerobot.configs.video import RGBEncoderConfig
from lerobot.datasets.lerobot_dataset import LeRobotDataset

from foundation.atomic_dir import commit_directory, recover_directory, staging_path
from foundation.config_io import read_json

# decord (used to read raw mp4 clips for pretraining) cannot decode LeRobot's default AV1: record H.264.
# At 64-128 px, chroma subsampling and lossy CRFs cost a lot (128 px, measured: yuv444p crf 18 gives
# 34.9 dB PSNR, max error 187/255); lossless 4:4:4 keeps 56 dB (RGB<->YUV rounding only) at 4.7 KiB/frame.
H264_ENCODER = dict(vcodec="h264", pix_fmt="yuv444p", g=2, crf=0)
FFMPEG_LOG_ERROR = 16  # AV_LOG_ERROR


def quiet_ffmpeg_logs() -> None:
    """Shows only FFmpeg errors from PyAV's bundled libavutil.

    LeRobot hands logging back to FFmpeg's default callback after each encode, and libx264 then prints
    a dozen lines of statistics per episode when its encoder is freed.
    """
    for lib in (Path(av.__file__).parent.parent / "av.libs").glob("libavutil*.so*"):
        ctypes.CDLL(str(lib)).av_log_set_level(FFMPEG_LOG_ERROR)


@dataclass
class Append:
    """An open append: add episodes to `dataset` and edit `sidecar`; both land together or not at all."""

    dataset: LeRobotDataset
    sidecar: dict = field(default_factory=dict)


class AtomicDatasetStore:
    """A LeRobotDataset directory that only ever changes by whole, finalized appends."""

    def __init__(self, root: Path, repo_id: str, fps: int, features: dict, robot_type: str, sidecar_name: str):
        self.root = Path(root)
        self.repo_id = repo_id
        self.fps = fps
        self.features = features
        self.robot_type = robot_type
        self.sidecar_path = Path("meta") / sidecar_name
        self._staging = staging_path(self.root)

    def recover(self) -> None:
        """Finishes or undoes a swap interrupted by a crash and drops an unfinished staging copy."""
        recover_directory(self.root)

    def read_sidecar(self) -> dict | None:
        """The committed sidecar (a JSON object), or None when the dataset or its sidecar does not exist."""
        path = self.root / self.sidecar_path
        return read_json(path, keys={}) if path.exists() else None

    @contextmanager
    def append(self) -> Iterator[Append]:
        quiet_ffmpeg_logs()
        disable_progress_bars()  # LeRobot maps each saved episode through Hugging Face datasets, a bar each
        self.recover()
        self.root.parent.mkdir(parents=True, exist_ok=True)
        encoder = RGBEncoderConfig(**H264_ENCODER)
        if self.root.exists():
            shutil.copytree(self.root, self._staging)
            dataset = LeRobotDataset.resume(self.repo_id, root=self._staging, rgb_encoder=encoder)
        else:
            dataset = LeRobotDataset.create(
                self.repo_id,
                fps=self.fps,
                features=self.features,
                root=self._staging,
                robot_type=self.robot_type,
                rgb_encoder=encoder,
            )
        txn = Append(dataset, self.read_sidecar() or {})
        episodes_before = dataset.meta.total_episodes
        try:
            yield txn
            dataset.finalize()
        except BaseException:
            shutil.rmtree(self._staging, ignore_errors=True)
            raise
        if dataset.meta.total_episodes == episodes_before:
            self._commit_sidecar_only(txn.sidecar)
            return
        (self._staging / self.sidecar_path).write_text(json.dumps(txn.sidecar, indent=2, sort_keys=True))
        commit_directory(self.root)

    def _commit_sidecar_only(self, sidecar: dict) -> None:
        """An append that recorded nothing: keep the dataset, update the sidecar if a dataset exists.

        LeRobot cannot load a dataset with no episodes, so none is created for an empty first append.
        """
        shutil.rmtree(self._staging)
        if self.root.exists():
            tmp = (self.root / self.sidecar_path).with_suffix(".tmp")
            tmp.write_text(json.dumps(sidecar, indent=2, sort_keys=True))
            os.rename(tmp, self.root / self.sidecar_path)

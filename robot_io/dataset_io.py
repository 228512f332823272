"""Reading the project's LeRobotDatasets: opening with clear errors, and fixed-offset frame windows.

Training loaders read windows "frame t plus frames t+o for a few offsets o" from within one episode.
Two backends give the same windows: LeRobot's own reader (`delta_timestamps`, torchcodec/pyav) and
decord straight on the episode's H.264 mp4, the path raw video corpora take.
"""

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from datasets.exceptions import DatasetsError
from lerobot.datasets.lerobot_dataset import LeRobotDataset, LeRobotDatasetMetadata

from foundation.errors import InputError
from robot_io.episode_format import (
    ACTION_KEY,
    CAMERA_KEY,
    ENV_STATE_KEY,
    IMAGE_KEY,
    PLAN_IMAGE_KEY,
    SEED_KEY,
    STATE_KEY,
    SUCCESS_KEY,
    Episode,
)

BACKENDS = ("lerobot", "decord")


def open_metadata(root: str | Path) -> LeRobotDatasetMetadata:
    """The index of a local LeRobotDataset (features, episodes), without its frame table; one line on a
    missing or corrupt dataset. Every file the index names is checked first: LeRobot would look a missing one
    up on the Hub and the error would blame the network."""
    root = Path(root)
    if not (root / "meta" / "info.json").is_file():
        raise InputError(f"no LeRobot dataset at {root} (meta/info.json missing); create one with `vp collect`")
    missing = [p for p in (Path("meta/tasks.parquet"), Path("meta/episodes")) if not (root / p).exists()]
    if not missing:
        meta = _read_index(root, lambda: LeRobotDatasetMetadata(f"local/{root.name}", root=root))
        missing = _missing_files(meta)
    if missing:
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        raise InputError(f"corrupt LeRobot dataset at {root}: {missing[0]}{more} missing; re-collect it")
    return meta


def open_dataset(root: str | Path) -> LeRobotDataset:
    """Opens a local LeRobotDataset (frames as uint8), failing in one line on a missing or corrupt one
    (`open_metadata`'s checks, then the frame table's)."""
    root = Path(root)
    open_metadata(root)
    dataset = _read_index(root, lambda: LeRobotDataset(f"local/{root.name}", root=root, return_uint8=True))
    _read_index(root, lambda: dataset.hf_dataset)  # loads the frame table now, so corruption surfaces here
    return dataset


def _read_index[T](root: Path, read: Callable[[], T]) -> T:
    """`read()`, with damaged index files (JSON, parquet) reported in one line (Hugging Face datasets would
    log each damaged file on its own as well)."""
    table_log = logging.getLogger("datasets")
    level = table_log.level
    table_log.setLevel(logging.CRITICAL)
    try:
        return read()
    except (OSError, ValueError, KeyError, DatasetsError) as err:
        while err.__cause__:  # the innermost error names the damage
            err = err.__cause__
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise InputError(f"corrupt LeRobot dataset at {root}: {reason}; re-collect it") from None
    finally:
        table_log.setLevel(level)


def _missing_files(meta: LeRobotDatasetMetadata) -> list[Path]:
    """The data and video files the dataset's index names that are not on disk."""
    needed = set()
    for episode in range(meta.total_episodes):
        needed.add(Path(meta.get_data_file_path(episode)))
        needed.update(Path(meta.get_video_file_path(episode, key)) for key in meta.video_keys)
    return sorted(path for path in needed if not (meta.root / path).is_file())


def dataset_dimensions(roots) -> dict[str, int]:
    """The state and action sizes the datasets' features give (`observation.state`, `action`), refused in one
    line when the datasets disagree: a model learns one robot's layout."""
    found = {}
    for root in roots:
        features = open_metadata(root).features
        dims = {"state_dim": features[STATE_KEY]["shape"][0], "action_dim": features[ACTION_KEY]["shape"][0]}
        if found and dims != found:
            raise InputError(f"{root} holds a robot of {dims}, the other datasets {found}; train on one robot's data")
        found = dims
    return found


def window_starts(lengths, span) -> list[tuple[int, int]]:
    """(episode, t) for every frame t with t + span still inside its episode; `span` is one int or one per
    episode."""
    spans = np.broadcast_to(span, np.shape(lengths))
    pairs = enumerate(zip(lengths, spans, strict=True))
    return [(episode, t) for episode, (n, s) in pairs for t in range(max(0, int(n) - int(s)))]


def clamp_to_episode(positions: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions past the episode's last frame repeat it, as LeRobot does. Returns (clamped, is_pad)."""
    last = length - 1
    return np.minimum(positions, last), positions > last


def episode_video(meta: LeRobotDatasetMetadata, episode: int, key: str) -> tuple[Path, int]:
    """Where an episode's frames lie: the video file (relative to the dataset root) and the position of the
    episode's first frame in it (LeRobot packs several episodes into one file)."""
    first = round(meta.episodes[episode][f"videos/{key}/from_timestamp"] * meta.fps)
    return Path(meta.get_video_file_path(episode, key)), first


def damaged_video(root: Path, episode: int, path: Path, reason: str) -> InputError:
    """The one-line error for an episode video that does not hold the frames the index promises."""
    return InputError(
        f"video {path} of episode {episode} is damaged ({reason}); `vp summary --verify {root}` lists every "
        "damaged episode; re-collect the dataset"
    )


class DecordEpisodeVideo:
    """Decodes frames of one episode straight from its mp4 with decord (H.264 only; decord has no AV1)."""

    def __init__(self, dataset: LeRobotDataset, key: str = IMAGE_KEY):
        try:
            import decord
        except ImportError:
            raise InputError(
                "the decord backend needs decord, which ships wheels for x86_64 Linux and Windows only; "
                "use backend='lerobot'"
            ) from None
        self._decord = decord
        self.dataset = dataset
        self.key = key
        self._readers: dict[Path, object] = {}

    def frames(self, episode: int, frame_indices: np.ndarray) -> np.ndarray:
        """Frames at positions `frame_indices` of `episode`. # (N, H, W, 3) uint8"""
        video, first = episode_video(self.dataset.meta, episode, self.key)
        path = self.dataset.root / video
        positions = [first + int(i) for i in frame_indices]
        try:
            if path not in self._readers:
                self._readers[path] = self._decord.VideoReader(str(path), ctx=self._decord.cpu(0))
            reader = self._readers[path]
            if positions and max(positions) >= len(reader):
                raise damaged_video(self.dataset.root, episode, path, f"holds {len(reader)} frames")
            return reader.get_batch(positions).asnumpy()
        except RuntimeError:  # decord's own error type derives from RuntimeError
            raise damaged_video(self.dataset.root, episode, path, "does not decode") from None


class LeRobotEpisodeVideo:
    """Frames of one episode through LeRobot's own reader (torchcodec), the same interface as
    `DecordEpisodeVideo`: the reference the decord path is tested against."""

    def __init__(self, dataset: LeRobotDataset, key: str = IMAGE_KEY):
        self.dataset, self.key = dataset, key

    def frames(self, episode: int, frame_indices: np.ndarray) -> np.ndarray:
        """Frames at positions `frame_indices` of `episode`. # (N, H, W, 3) uint8"""
        first = int(self.dataset.meta.episodes[episode]["dataset_from_index"])
        try:
            frames = [self.dataset[first + int(i)][self.key] for i in frame_indices]  # (3, H, W) uint8 each
        except RuntimeError:  # torchcodec's decoding errors
            path = self.dataset.root / self.dataset.meta.get_video_file_path(episode, self.key)
            raise damaged_video(self.dataset.root, episode, path, "does not decode") from None
        return torch.stack(frames).permute(0, 2, 3, 1).numpy()


def read_episodes(root: str | Path, indices: list[int] | None = None) -> list[Episode]:
    """Whole episodes back from a dataset this project wrote (all, or those at `indices`), with their
    planned frames when it holds rollouts: what a filter needs to copy chosen episodes into another dataset."""
    dataset = open_dataset(root)
    video = DecordEpisodeVideo(dataset)
    plans = DecordEpisodeVideo(dataset, PLAN_IMAGE_KEY) if PLAN_IMAGE_KEY in dataset.meta.video_keys else None
    table = dataset.hf_dataset.with_format("numpy")
    episodes = dataset.meta.episodes
    chosen = range(dataset.meta.total_episodes) if indices is None else indices
    result = []
    for episode in chosen:
        first, length = int(episodes["dataset_from_index"][episode]), int(episodes["length"][episode])
        rows = table[first : first + length]
        positions = np.arange(length)
        result.append(
            Episode(
                images=video.frames(episode, positions),
                states=np.asarray(rows[STATE_KEY], dtype=np.float32),
                env_states=np.asarray(rows[ENV_STATE_KEY], dtype=np.float32)
                if ENV_STATE_KEY in rows
                else np.zeros((length, 0), np.float32),  # a real arm's episode: no simulator state
                actions=np.asarray(rows[ACTION_KEY], dtype=np.float32),
                successes=np.asarray(rows[SUCCESS_KEY]).reshape(-1).astype(bool) if SUCCESS_KEY in rows else None,
                instruction=episodes["tasks"][episode][0],
                camera=str(rows[CAMERA_KEY][0]),
                seed=int(np.asarray(rows[SEED_KEY][0]).reshape(-1)[0]),
                plan_images=None if plans is None else plans.frames(episode, positions),
            )
        )
    return result


def read_end_frames(root: str | Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The first and last camera frame of every episode, and its instruction: what a success filter judges,
    without decoding the frames between. -> firsts (E, H, W, 3), lasts (E, H, W, 3) uint8, instructions"""
    dataset = open_dataset(root)
    video = DecordEpisodeVideo(dataset)
    episodes = dataset.meta.episodes
    ends = [video.frames(e, np.array([0, int(episodes["length"][e]) - 1])) for e in range(dataset.meta.total_episodes)]
    return np.stack([f for f, _ in ends]), np.stack([last for _, last in ends]), [t[0] for t in episodes["tasks"]]

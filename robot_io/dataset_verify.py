"""Checking a dataset's videos against its index: every episode's frames must decode.

LeRobot's index says where each episode's frames lie in which mp4 (`from_timestamp` and `length`); a
truncated, emptied or swapped video is only found when a loader reaches it, often hours into training.
`verify_videos` decodes every video file once and names each episode whose frames are not all there.
"""

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import av

from robot_io.dataset_io import episode_video, open_dataset


@dataclass(frozen=True)
class BrokenEpisode:
    """An episode whose frames cannot all be decoded, and why."""

    episode: int
    video: Path  # relative to the dataset root
    reason: str


def decoded_frame_count(path: Path) -> int:
    """How many frames the video at `path` decodes to; raises av.FFmpegError on a damaged file."""
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def verify_videos(root: str | Path) -> list[BrokenEpisode]:
    """Decodes every video of the dataset at `root` and returns the episodes whose frames are missing or
    undecodable (an empty list for a sound dataset)."""
    dataset = open_dataset(root)
    meta = dataset.meta
    needed: dict[Path, list[tuple[int, int, int]]] = defaultdict(list)  # video -> (episode, first, end)
    for key in meta.video_keys:
        for episode in range(meta.total_episodes):
            video, first = episode_video(meta, episode, key)
            needed[video].append((episode, first, first + int(meta.episodes[episode]["length"])))
    broken = []
    for video, spans in sorted(needed.items()):
        try:
            count = decoded_frame_count(dataset.root / video)
        except (av.FFmpegError, OSError) as err:
            reason = f"does not decode ({err.strerror or type(err).__name__})"
            broken += [BrokenEpisode(episode, video, reason) for episode, _, _ in spans]
            continue
        for episode, _, end in spans:
            if end > count:
                broken.append(BrokenEpisode(episode, video, f"holds {count} frames, the index needs {end}"))
    return sorted(broken, key=lambda b: (b.episode, str(b.video)))


def broken_episodes_line(root: str | Path, broken: list[BrokenEpisode]) -> str:
    """One line naming the damaged episodes of the dataset at `root` (the first three in full) and the fix."""
    shown = "; ".join(f"episode {b.episode}: {b.video} {b.reason}" for b in broken[:3])
    more = f"; and {len(broken) - 3} more" if len(broken) > 3 else ""
    episodes = len({b.episode for b in broken})
    return f"{episodes} episode(s) of {root} have damaged videos ({shown}{more}); re-collect the dataset"

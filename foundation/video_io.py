"""Writing short videos (plans, rollouts) as GIF or H.264 mp4, atomically."""

from pathlib import Path

import av
import numpy as np
from PIL import Image

from foundation.errors import InputError

VIDEO_SUFFIXES = (".gif", ".mp4")


def check_video_output(path: str | Path, fps: int) -> Path:
    """Refuses, in one line, a video file name or frame rate `write_video` cannot write; callers that compute
    the frames first (the CLI) check here before the work."""
    path = Path(path)
    if not isinstance(fps, int) or not 1 <= fps <= 240:
        raise InputError(f"fps must be an integer in [1, 240], got {fps!r}")
    if path.suffix not in VIDEO_SUFFIXES:
        raise InputError(f"cannot write {path}: use a {' or '.join(VIDEO_SUFFIXES)} file name")
    return path


def write_video(path: str | Path, frames: np.ndarray, fps: int = 4) -> Path:
    """Writes frames (T, H, W, 3) uint8 to `path`; the suffix picks the format. The video is written beside
    `path` and renamed into place, so `path` never holds half a video (a full disk leaves nothing)."""
    path = check_video_output(path, fps)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{path.suffix}")
    try:
        if path.suffix == ".gif":
            images = [Image.fromarray(frame) for frame in frames]
            images[0].save(tmp, save_all=True, append_images=images[1:], duration=round(1000 / fps), loop=0)
        else:
            encode_mp4(str(tmp), frames, fps)
        tmp.rename(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def encode_mp4(target, frames: np.ndarray, fps: int, pix_fmt: str = "yuv444p", crf: int = 0) -> None:
    """H.264 mp4 of frames (T, H, W, 3) uint8 into `target` (a path or a binary file object). The default is
    lossless 4:4:4; browsers play only yuv420p (even H and W)."""
    with av.open(target, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = pix_fmt
        stream.options = {"crf": str(crf)}
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())

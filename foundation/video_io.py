"""Writing short videos (plans, rollouts) as GIF or H.264 mp4, atomically."""

from pathlib import Path

import av
import numpy as np
from PIL import Image

from foundation.errors import InputError

VIDEO_SUFFIXES = (".gif", ".mp4")


def write_video(path: str | Path, frames: np.ndarray, fps: int = 4) -> Path:
    """Writes frames (T, H, W, 3) uint8 to `path`; the suffix picks the format."""
    path = Path(path)
    if not 1 <= fps <= 240:
        raise InputError(f"fps must be in [1, 240], got {fps}")
    if path.suffix not in VIDEO_SUFFIXES:
        raise InputError(f"cannot write {path}: use a {' or '.join(VIDEO_SUFFIXES)} file name")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{path.suffix}")
    if path.suffix == ".gif":
        images = [Image.fromarray(frame) for frame in frames]
        images[0].save(tmp, save_all=True, append_images=images[1:], duration=round(1000 / fps), loop=0)
    else:
        with av.open(str(tmp), "w") as container:
            stream = container.add_stream("libx264", rate=fps)
            stream.height, stream.width = frames.shape[1:3]
            stream.pix_fmt = "yuv444p"
            stream.options = {"crf": "0"}
            for frame in frames:
                container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
            container.mux(stream.encode())
    tmp.rename(path)
    return path

"""Preview video: a run's ``frames/*.png`` encoded as an H.264 MP4 with imageio-ffmpeg.

The video is written to a temporary name in the destination folder and renamed into place, so
a reader never sees a half-written ``preview.mp4`` (the run directory's atomic-write contract).
"""

from __future__ import annotations

import os
from pathlib import Path

import imageio.v2 as imageio
import numpy as np


def write_video(frames_dir: Path, out_path: Path, fps: float) -> None:
    """Encode ``frames_dir/*.png`` in name order into an H.264 MP4 at ``out_path``.

    fps: frames per second [1/s] of the video (the scene's frame rate).
    Frames must share one size; an odd width or height is padded by one edge pixel because
    H.264 in the widely playable yuv420p format needs even dimensions.
    """
    frames_dir, out_path = Path(frames_dir), Path(out_path)
    if fps <= 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    frames = sorted(frames_dir.glob("*.png"))
    if not frames:
        raise FileNotFoundError(f"no PNG frames in {frames_dir}; render the run's frames first")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    # Keep the .mp4 suffix: ffmpeg picks the container from it.
    tmp = out_path.with_name(f".{out_path.stem}.{os.getpid()}.tmp.mp4")
    size = None
    try:
        # macro_block_size=1: pad here instead of letting imageio rescale the image.
        with imageio.get_writer(tmp, format="FFMPEG", mode="I", fps=float(fps), codec="libx264",
                                quality=8, macro_block_size=1, ffmpeg_log_level="error") as writer:
            for path in frames:
                image = np.asarray(imageio.imread(path))
                if image.ndim == 2:
                    image = np.repeat(image[:, :, None], 3, axis=2)
                image = image[:, :, :3]
                if size is None:
                    size = image.shape[:2]
                elif image.shape[:2] != size:
                    raise ValueError(f"frame {path.name} is {image.shape[1]}x{image.shape[0]}, "
                                     f"the first frame is {size[1]}x{size[0]}; all frames must match")
                pad = ((0, image.shape[0] % 2), (0, image.shape[1] % 2), (0, 0))
                writer.append_data(np.pad(image, pad, mode="edge"))
        os.replace(tmp, out_path)
    finally:
        tmp.unlink(missing_ok=True)

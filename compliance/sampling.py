"""Which decoded frames the likeness and protected-works checks look at.

A regular grid (a few per second) plus the first frame after every scene cut, so a shot
shorter than the grid step is still seen. Cuts are found on tiny thumbnails of every frame
(cheap), as a jump in the colour histogram: unlike a pixel difference, a histogram barely
moves when the camera pans or zooms within one shot.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
from PIL import Image

from foundation.frames import probe, read_clip

# histogram distance (0..1, half the L1 of per-channel 16-bin histograms) of consecutive
# frames above which we call it a cut: fast pans over our test photos stay under 0.05, cuts
# between them are 0.29 and more
CUT_HISTOGRAM_DISTANCE = 0.15
_THUMB = 64  # thumbnail long side


@dataclass(frozen=True)
class Sample:
    index: int  # frame index in the clip
    frame: np.ndarray  # RGB uint8, possibly downscaled (see scale)
    scale: float  # analysed size / original size
    why: str  # "grid" | "cut"


def open_frames(
    frames: Iterable[np.ndarray] | Path | str, fps: float | None, *, long_side: int | None = None
) -> tuple[Iterator[np.ndarray], float, float | None]:
    """(frames, fps, scale): a path is decoded with the bundled ffmpeg, scaled there to
    `long_side` when larger (scale known); arrays are scaled later, per sample (scale None)."""
    if isinstance(frames, (str, Path)):
        w, h, file_fps = probe(Path(frames))
        fps = fps or file_fps
        if not fps or fps <= 0:
            raise ValueError(f"{frames}: cannot read the frame rate; pass fps")
        scale = 1.0
        size = None
        if long_side is not None and max(w, h) > long_side:
            scale = long_side / max(w, h)
            size = (2 * round(w * scale / 2), 2 * round(h * scale / 2))  # even sizes for the scaler
            scale = size[0] / w
        return read_clip(Path(frames), size=size), float(fps), scale
    if fps is None or not fps > 0:
        raise ValueError(f"fps must be > 0 for frame input, got {fps!r}")
    return iter(frames), float(fps), None


def samples(
    frames: Iterable[np.ndarray] | Path | str,
    fps: float | None,
    *,
    per_second: float,
    long_side: int | None = None,
) -> Iterator[Sample]:
    """Frames on a `per_second` grid plus the first frame of every new shot, downscaled so the
    long side is at most `long_side`. Consumes the whole input (a decoder behind it must finish)."""
    it, fps, scale = open_frames(frames, fps, long_side=long_side)
    step = max(1, round(fps / per_second))
    prev: np.ndarray | None = None
    for i, frame in enumerate(it):
        if frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"frame {i}: expected RGB (h, w, 3), got shape {frame.shape}")
        hist = _histogram(frame)
        cut = prev is not None and 0.5 * float(np.abs(hist - prev).sum()) / 3 > CUT_HISTOGRAM_DISTANCE
        prev = hist
        if i % step and not cut:
            continue
        out, s = frame, 1.0 if scale is None else scale
        if scale is None and long_side is not None and max(frame.shape[:2]) > long_side:
            s = long_side / max(frame.shape[:2])
            h, w = frame.shape[:2]
            out = np.asarray(Image.fromarray(frame).resize((round(w * s), round(h * s)), Image.Resampling.BILINEAR))
        yield Sample(index=i, frame=np.ascontiguousarray(out), scale=s, why="grid" if i % step == 0 else "cut")


def _histogram(frame: np.ndarray) -> np.ndarray:
    """Per-channel 16-bin histograms of a strided thumbnail, each summing to 1."""
    k = max(1, max(frame.shape[:2]) // _THUMB)
    px = frame[::k, ::k].reshape(-1, 3)
    return np.concatenate([np.bincount(px[:, c] >> 4, minlength=16) for c in range(3)]) / len(px)

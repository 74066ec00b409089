"""Lossless clip files: raw RGB frames in, raw RGB frames out, through the bundled ffmpeg.

Base clips are stored losslessly (H.264 RGB, qp 0) so the single lossy encode of a
variant happens once, at the very end of composition.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Iterable, Iterator

import ffmpeg
import imageio_ffmpeg
import numpy as np


def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary that imageio-ffmpeg ships (libx264, libass, drawtext)."""
    return imageio_ffmpeg.get_ffmpeg_exe()


class ClipError(RuntimeError):
    pass


def write_clip(frames: Iterable[np.ndarray], path: Path, *, fps: int) -> int:
    """Write RGB uint8 frames losslessly to `path` (atomically); returns the frame count."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp{path.suffix}")
    proc = None
    count = 0
    try:
        for frame in frames:
            if proc is None:
                h, w = frame.shape[:2]
                proc = (
                    ffmpeg.input("pipe:", format="rawvideo", pix_fmt="rgb24", s=f"{w}x{h}", r=fps)
                    .output(str(tmp), vcodec="libx264rgb", qp=0, preset="ultrafast", r=fps, an=None)
                    .global_args("-loglevel", "error", "-nostdin")
                    .overwrite_output()
                    .run_async(pipe_stdin=True, pipe_stderr=True, cmd=ffmpeg_exe())
                )
            proc.stdin.write(np.ascontiguousarray(frame, dtype=np.uint8).tobytes())
            count += 1
        if proc is None:
            raise ClipError(f"{path}: no frames to write")
        proc.stdin.close()
        err = proc.stderr.read().decode(errors="replace")
        if proc.wait() != 0:
            raise ClipError(f"{path}: ffmpeg failed: {err.strip()}")
        os.replace(tmp, path)
        return count
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        tmp.unlink(missing_ok=True)


def probe(path: Path) -> tuple[int, int, float]:
    """(width, height, fps) of the first video stream, read with ffmpeg (no ffprobe is shipped)."""
    import re

    if not Path(path).is_file():
        raise ClipError(f"{path}: no such file")
    out = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr
    m = re.search(r"Stream #\S+.*Video: .*?(\d{2,5})x(\d{2,5})", out)
    if not m:
        raise ClipError(f"{path}: no video stream found")
    fps_m = re.search(r"(\d+(?:\.\d+)?) fps", out)
    return int(m.group(1)), int(m.group(2)), float(fps_m.group(1)) if fps_m else 0.0


def duration_s(path: Path) -> float:
    """Container duration in seconds, read from ffmpeg's banner (no ffprobe is shipped)."""
    import re

    out = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr
    m = re.search(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)", out)
    if not m:
        raise ClipError(f"{path}: no duration found")
    return int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3))


def read_clip(path: Path, *, size: tuple[int, int] | None = None,
              max_seconds: float | None = None) -> Iterator[np.ndarray]:
    """Yield RGB uint8 frames of any video file, optionally scaled to size=(w, h); with max_seconds,
    only that much from the start (ffmpeg stops by itself: a reader that stops early makes it fail)."""
    w, h, _ = probe(path)
    stream = ffmpeg.input(str(path))
    if size is not None:
        w, h = size
        stream = stream.filter("scale", w, h)
    out_args = {"format": "rawvideo", "pix_fmt": "rgb24"}
    if max_seconds is not None:
        out_args["t"] = f"{max_seconds:.3f}"
    proc = (
        stream.output("pipe:", **out_args)
        .global_args("-loglevel", "error", "-nostdin")
        .run_async(pipe_stdout=True, pipe_stderr=True, cmd=ffmpeg_exe())
    )
    frame_bytes = w * h * 3
    try:
        while True:
            buf = proc.stdout.read(frame_bytes)
            if len(buf) < frame_bytes:
                break
            yield np.frombuffer(buf, np.uint8).reshape(h, w, 3)
    finally:
        proc.stdout.close()
        err = proc.stderr.read().decode(errors="replace")
        code = proc.wait()
        if code != 0 and code != -9:
            raise ClipError(f"{path}: ffmpeg could not decode: {err.strip()}")

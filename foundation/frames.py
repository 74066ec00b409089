"""Frame I/O through the bundled ffmpeg: raw RGB frames in, raw RGB frames out.

Base clips are stored losslessly (H.264 RGB, qp 0) so the single lossy encode of a
variant happens once, at the very end of composition. ffmpeg's stderr always goes to a
temporary file, never to a pipe nobody reads: a corrupt stream makes ffmpeg write tens of
KB of errors before any frame, and a full pipe would block it (and us) for ever.
"""
from __future__ import annotations

import io
import re
import subprocess
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import cast

import ffmpeg
import imageio_ffmpeg
import numpy as np

from foundation.primitives import atomic_path

__all__ = ["ClipError", "ffmpeg_exe", "write_clip", "read_clip", "read_frames", "probe", "duration_s", "picture_box",
           "audio_duration_s"]


def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary that imageio-ffmpeg ships (libx264, libass, drawtext)."""
    return imageio_ffmpeg.get_ffmpeg_exe()


class ClipError(RuntimeError):
    pass


def _stderr_text(f) -> str:
    f.seek(0)
    return f.read().decode(errors="replace").strip()


def write_clip(frames: Iterable[np.ndarray], path: Path, *, fps: int) -> int:
    """Write RGB uint8 frames losslessly to `path` (atomically); returns the frame count."""
    path = Path(path)
    proc = None
    count = 0
    with atomic_path(path, suffix=path.suffix) as tmp, tempfile.TemporaryFile() as err:
        try:
            for frame in frames:
                if proc is None:
                    h, w = frame.shape[:2]
                    args = (
                        ffmpeg.input("pipe:", format="rawvideo", pix_fmt="rgb24", s=f"{w}x{h}", r=fps)
                        .output(str(tmp), vcodec="libx264rgb", qp=0, preset="ultrafast", r=fps, an=None)
                        .global_args("-loglevel", "error", "-nostdin")
                        .overwrite_output()
                        .compile(cmd=ffmpeg_exe())
                    )
                    proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=err)
                assert proc.stdin is not None
                proc.stdin.write(np.ascontiguousarray(frame, dtype=np.uint8).tobytes())
                count += 1
            if proc is None or proc.stdin is None:
                raise ClipError(f"{path}: no frames to write")
            proc.stdin.close()
            if proc.wait() != 0:
                raise ClipError(f"{path}: ffmpeg failed: {_stderr_text(err)}")
        finally:
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
    return count


def _banner(path: Path) -> str:
    """ffmpeg's description of the file's streams (no ffprobe is shipped)."""
    if not Path(path).is_file():
        raise ClipError(f"{path}: no such file")
    return subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path)], capture_output=True,
                          text=True, errors="replace", stdin=subprocess.DEVNULL).stderr


def probe(path: Path) -> tuple[int, int, float]:
    """(width, height, fps) of the first video stream."""
    out = _banner(path)
    m = re.search(r"Stream #\S+.*Video: .*?(\d{2,5})x(\d{2,5})", out)
    if not m:
        raise ClipError(f"{path}: no video stream found")
    fps_m = re.search(r"(\d+(?:\.\d+)?) fps", out)
    return int(m.group(1)), int(m.group(2)), float(fps_m.group(1)) if fps_m else 0.0


def audio_duration_s(path: Path) -> float:
    """Seconds of the first audio stream, after decoding all of it (a damaged file fails here, not in a render)."""
    if not re.search(r"Stream #\S+.*Audio: ", _banner(path)):
        raise ClipError(f"{path}: no audio stream found")
    with tempfile.TemporaryFile() as err:
        proc = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-xerror", "-i", str(path),
                               "-map", "0:a:0", "-f", "null", "-"], stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=err)
        err.seek(0)
        lines = [line.strip() for line in err.read().decode("utf-8", "replace").splitlines() if line.strip()]
    if proc.returncode != 0:
        raise ClipError(f"{path}: the audio does not decode ({lines[-1] if lines else 'ffmpeg failed'})")
    return duration_s(path)


def duration_s(path: Path) -> float:
    """Container duration in seconds."""
    m = re.search(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)", _banner(path))
    if not m:
        raise ClipError(f"{path}: no duration found")
    return int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3))


def picture_box(path: Path, *, max_seconds: float = 12.0) -> tuple[int, int, int, int] | None:
    """(x, y, w, h) of the picture inside black letterbox/pillarbox bars (ffmpeg's cropdetect over
    the first `max_seconds`, union of every frame's picture), or None when there are no bars."""
    width, height, _ = probe(path)
    with tempfile.TemporaryFile() as err:
        proc = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-t", f"{max_seconds:.3f}", "-i", str(path),
                               "-vf", "cropdetect=limit=24:round=2:reset=0", "-f", "null", "-"],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        text = _stderr_text(err)
    if proc.returncode != 0:
        raise ClipError(f"{path}: ffmpeg cropdetect failed: {text[-500:]}")
    found = re.findall(r"crop=(\d+):(\d+):(\d+):(\d+)", text)
    if not found:
        return None
    w, h, x, y = (int(v) for v in found[-1])
    # Bars: at least 2 % of a side is black; a picture that fills the frame (or nearly) has none.
    if w <= 0 or h <= 0 or (w >= 0.98 * width and h >= 0.98 * height):
        return None
    return x, y, w, h


def _decode_args(path: Path, size: tuple[int, int] | None, max_seconds: float | None = None,
                 crop: tuple[int, int, int, int] | None = None) -> list[str]:
    stream = ffmpeg.input(str(path))
    if crop is not None:
        x, y, w, h = crop
        stream = stream.filter("crop", w, h, x, y)
    if size is not None:
        stream = stream.filter("scale", *size)       # ffmpeg's scaler, in the decoder
    out_args = {"format": "rawvideo", "pix_fmt": "rgb24"}
    if max_seconds is not None:
        out_args["t"] = f"{max_seconds:.3f}"
    return stream.output("pipe:", **out_args).global_args("-loglevel", "error", "-nostdin").compile(cmd=ffmpeg_exe())


def read_frames(path: Path, count: int, *, size: tuple[int, int] | None = None) -> np.ndarray:
    """All `count` RGB frames of a video file in one (count, h, w, 3) uint8 array, optionally scaled
    to size=(w, h). ffmpeg writes straight into the array (no copy per frame); a file with another
    number of frames, or one ffmpeg cannot decode, raises ClipError."""
    w, h, _ = probe(path)               # a missing file is named as such
    w, h = size if size is not None else (w, h)
    frames = np.empty((count, h, w, 3), np.uint8)
    view = frames.reshape(-1).data
    frame_bytes = w * h * 3
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(_decode_args(path, size), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err)
        stdout = cast(io.BufferedReader, proc.stdout)      # bufsize=-1: a buffered reader, with readinto
        got = 0
        try:
            while got < count * frame_bytes:
                n = stdout.readinto(view[got:])
                if not n:
                    break
                got += n
            extra = len(stdout.read(1)) if got == count * frame_bytes else 0
        finally:
            if proc.poll() is None and (got < count * frame_bytes or extra):
                proc.kill()                # more frames than expected: not waited on to finish
            stdout.close()
            code = proc.wait()
        if extra:
            raise ClipError(f"{path}: more frames than the {count} recorded")
        if code != 0:
            raise ClipError(f"{path}: ffmpeg could not decode: {_stderr_text(err)}")
        if got != count * frame_bytes:
            raise ClipError(f"{path}: decoded {got // frame_bytes} frames, the clip records {count}")
    return frames


def read_clip(path: Path, *, size: tuple[int, int] | None = None, max_seconds: float | None = None,
              crop: tuple[int, int, int, int] | None = None) -> Iterator[np.ndarray]:
    """Yield RGB uint8 frames of any video file, optionally cut to crop=(x, y, w, h) and then scaled
    to size=(w, h); with max_seconds, only that much from the start (ffmpeg stops by itself: a
    reader that stops early makes it fail)."""
    w, h, _ = probe(path)               # a missing file is named as such
    if crop is not None:
        w, h = crop[2], crop[3]
    w, h = size if size is not None else (w, h)
    args = _decode_args(path, size, max_seconds, crop)
    frame_bytes = w * h * 3
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err)
        stdout = proc.stdout
        assert stdout is not None
        finished = False
        try:
            while True:
                buf = stdout.read(frame_bytes)
                if len(buf) < frame_bytes:
                    break
                yield np.frombuffer(buf, np.uint8).reshape(h, w, 3)
            finished = True
        finally:
            if not finished and proc.poll() is None:
                proc.kill()            # the reader stopped early: ffmpeg is not waited on to finish
            stdout.close()
            code = proc.wait()
        if finished and code != 0:
            raise ClipError(f"{path}: ffmpeg could not decode: {_stderr_text(err)}")

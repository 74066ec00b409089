"""Web previews of takes: a small H.264 file a browser plays, and a poster frame, made once per clip.

Base clips are stored losslessly (H.264 RGB, qp 0), which browsers do not decode. A reviewer's page
plays a preview instead: 4:2:0 H.264 with the index at the front (faststart), no audio, scaled so
that its short side is PREVIEW_SHORT_SIDE (or at the clip's own size, for comparing takes full
size). A preview is named after the clip's content key, so it is made once and every later page,
render or set that shows the same take reuses it.
"""
from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from foundation.frames import ClipError, ffmpeg_exe, probe
from foundation.primitives import atomic_path

__all__ = ["PREVIEW_SHORT_SIDE", "Preview", "web_preview"]

PREVIEW_SHORT_SIDE = 240        # small enough for 100 takes on one page, large enough to judge motion


@dataclass(frozen=True)
class Preview:
    video: Path                 # H.264 yuv420p, faststart
    poster: Path                # JPEG of the first frame


def web_preview(clip: Path, folder: Path, key: str, *, full_size: bool = False) -> Preview:
    """The preview of `clip` in `folder` as `<key>[.full].mp4` and `.jpg`, encoded only when absent.

    ClipError: the clip is missing or ffmpeg could not encode it (nothing is left half-written)."""
    folder = Path(folder)
    stem = f"{key}.full" if full_size else key
    preview = Preview(folder / f"{stem}.mp4", folder / f"{stem}.jpg")
    if preview.video.is_file() and preview.poster.is_file():
        return preview
    if not Path(clip).is_file():
        raise ClipError(f"{clip}: the take's clip is not in the cache (render the product again)")
    folder.mkdir(parents=True, exist_ok=True)
    scale = "scale=trunc(iw/2)*2:trunc(ih/2)*2" if full_size else _scale(clip)
    _ffmpeg(clip, preview.video, ["-vf", f"{scale},format=yuv420p", "-c:v", "libx264", "-preset", "veryfast",
                                  "-crf", "28", "-movflags", "+faststart", "-an", "-f", "mp4"])
    _ffmpeg(clip, preview.poster, ["-vf", scale, "-frames:v", "1", "-q:v", "4", "-f", "image2"])
    return preview


def _scale(clip: Path) -> str:
    """An ffmpeg scale filter that makes the short side PREVIEW_SHORT_SIDE (never larger than the clip)."""
    w, h, _ = probe(clip)
    side = min(PREVIEW_SHORT_SIDE, w, h)
    return f"scale=-2:{side}" if w >= h else f"scale={side}:-2"


def _ffmpeg(src: Path, dst: Path, args: list[str]) -> None:
    # stderr to a file: a pipe nobody reads would block ffmpeg once it fills
    with atomic_path(dst, suffix=dst.suffix) as tmp, tempfile.TemporaryFile() as err:
        done = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
                               "-i", str(src), *args, str(tmp)], stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=err)
        if done.returncode != 0:
            err.seek(0)
            raise ClipError(f"{src}: preview encode failed: {err.read().decode(errors='replace').strip()}")

"""Real test media for the compliance-gate tests: labelled frames drawn with Pillow, H.264 files from the bundled ffmpeg."""
from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Iterable

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from skimage import data

from foundation.frames import ffmpeg_exe

NOTO_LATIN = Path("/usr/share/fonts/truetype/noto/NotoSans-Bold.ttf")
NOTO_CJK = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc")
NOTO_CJK_SC = 2  # face index of "Noto Sans CJK SC" in the collection


def photo(name: str, size: tuple[int, int]) -> Image.Image:
    """A skimage sample photo (RGB) resized to size=(w, h)."""
    img = getattr(data, name)()
    if img.ndim == 2:
        img = np.stack([img] * 3, axis=-1)
    return Image.fromarray(img[..., :3]).resize(size, Image.Resampling.BICUBIC)


def pan(image: Image.Image, size: tuple[int, int], n: int, *, travel: float = 0.08) -> list[np.ndarray]:
    """n frames of size=(w, h) panning slowly across `image` (scaled up so there is room to move)."""
    w, h = size
    big = image.resize((round(w * (1 + travel)), round(h * (1 + travel))), Image.Resampling.BICUBIC)
    dx, dy = big.width - w, big.height - h
    frames = []
    for i in range(n):
        t = i / max(1, n - 1)
        x, y = round(dx * t), round(dy * t * 0.5)
        frames.append(np.asarray(big.crop((x, y, x + w, y + h))))
    return frames


def burn_label(
    frame: np.ndarray,
    text: str,
    *,
    font_path: Path,
    face_index: int = 0,
    font_px: int,
    corner: str = "top-right",
    style: str = "plate",
) -> np.ndarray:
    """Draw `text` in a corner: white on a dark translucent plate, or white with a dark outline."""
    img = Image.fromarray(frame).convert("RGBA")
    font = ImageFont.truetype(str(font_path), font_px, index=face_index)
    left, top, right, bottom = font.getbbox(text)
    w, h = right - left, bottom - top
    margin = round(0.03 * min(img.size))
    pad = max(2, round(0.25 * h))
    x = img.width - margin - pad - w if corner.endswith("right") else margin + pad
    y = margin + pad if corner.startswith("top") else img.height - margin - pad - h
    layer = Image.new("RGBA", img.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    if style == "plate":
        draw.rectangle([x - pad, y - pad, x + w + pad, y + h + pad], fill=(0, 0, 0, 170))
        draw.text((x - left, y - top), text, font=font, fill=(255, 255, 255, 255))
    elif style == "outline":
        stroke = max(1, round(font_px * 0.08))
        draw.text((x - left, y - top), text, font=font, fill=(255, 255, 255, 255), stroke_width=stroke, stroke_fill=(0, 0, 0, 255))
    else:
        raise ValueError(f"style must be 'plate' or 'outline', got {style!r}")
    return np.asarray(Image.alpha_composite(img, layer).convert("RGB"))


def encode_h264(frames: Iterable[np.ndarray], path: Path, *, fps: float, crf: int = 23, extra: tuple[str, ...] = ()) -> Path:
    """A real lossy H.264 (yuv420p) MP4 through the bundled ffmpeg, as a shipped variant would be."""
    frames = list(frames)
    h, w = frames[0].shape[:2]
    cmd = [
        ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}",
        "-r", str(fps), "-i", "pipe:", "-c:v", "libx264", "-preset", "veryfast", "-crf", str(crf),
        "-pix_fmt", "yuv420p", *extra, str(path),
    ]
    subprocess.run(cmd, input=b"".join(np.ascontiguousarray(f).tobytes() for f in frames), check=True)
    return path


def astronaut_pan(n: int, size: tuple[int, int] = (360, 640)) -> list[np.ndarray]:
    """n portrait frames panning across the public-domain astronaut photo; her face stays whole (~130 px)."""
    w, h = size
    big = Image.fromarray(data.astronaut()).resize((2 * w, 2 * w), Image.Resampling.BICUBIC)
    top = (big.height - h) // 2 - w // 20
    xs = np.linspace(w // 6, 2 * w // 3, n).round().astype(int)
    return [np.asarray(big.crop((x, top, x + w, top + h))) for x in xs]

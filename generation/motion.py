"""CPU base clips: a slow virtual-camera move (push-in with an eased drift) over one product photo.

The clip is square and locale-agnostic; the composer places it per aspect ratio.
The seed picks the motion path, so the same seed always gives the same frames.
Clips are cached by a content key over every input that shapes the pixels.
"""
from __future__ import annotations

import io
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms, ImageEnhance, ImageFilter, ImageOps

from foundation.frames import write_clip
from foundation.primitives import SourceType, canonical_json, sha256_file, sha256_text, write_text_atomic
from foundation.records import BaseClip

BACKEND = "motion"
MOTION_VERSION = "1"    # bump whenever the pixels for the same inputs would change
# The backend's own record of its clips; no manifest claims it. What a variant made from the photo is
# follows the photo's own provenance (provenance/inputs.py, pipeline.manifest.source_type_of): the camera
# move is an edit, recorded as an action by the provenance stage.
DIGITAL_CAPTURE = SourceType.DIGITAL_CAPTURE.value


@dataclass(frozen=True)
class MotionParams:
    """One camera path; offsets are fractions of the photo's side, from its centre."""
    zoom_start: float
    zoom_end: float
    pan_start: tuple[float, float]
    pan_end: tuple[float, float]
    zoom_easing: str = "cubic-in-out"
    pan_easing: str = "sine-in-out"   # eases unlike the zoom, so the drift leads and trails the push-in


def motion_params(seed: int) -> MotionParams:
    """The camera path a seed picks: push-in by 12-28 %, drifting across the frame in a random direction."""
    rng = np.random.default_rng(seed)
    zoom_start = round(float(rng.uniform(1.02, 1.06)), 4)
    zoom_end = round(float(rng.uniform(1.12, 1.28)), 4)
    angle = float(rng.uniform(0.0, 2 * math.pi))
    reach_start, reach_end = (float(r) for r in rng.uniform(0.3, 0.9, size=2))
    # Start on one side of the centre and end on the other, within the margin each zoom leaves.
    start = _margin(zoom_start) * reach_start
    end = _margin(zoom_end) * reach_end
    return MotionParams(
        zoom_start=zoom_start,
        zoom_end=zoom_end,
        pan_start=(round(-start * math.cos(angle), 4), round(-start * math.sin(angle), 4)),
        pan_end=(round(end * math.cos(angle), 4), round(end * math.sin(angle), 4)),
    )


def make_base_clip(photo: Path, *, cache_dir: Path, size: int, fps: int, duration_s: float, seed: int) -> BaseClip:
    """A size x size clip of `photo` with a seeded camera move; reused from `cache_dir` when already made."""
    # 1. Check inputs.
    photo, cache_dir = Path(photo), Path(cache_dir)
    if not photo.is_file():
        raise FileNotFoundError(f"photo {photo}: no such file")
    if size < 16:
        raise ValueError(f"size {size}: must be at least 16")
    if not 1 <= fps <= 120:
        raise ValueError(f"fps {fps}: expected 1..120")
    n_frames = round(duration_s * fps)
    if not 0 < duration_s <= 600 or n_frames < 1:
        raise ValueError(f"duration_s {duration_s}: expected a positive duration of at least one frame")
    if seed < 0:
        raise ValueError(f"seed {seed}: must be >= 0")

    # 2. Content key over everything that shapes the pixels (the photo by its bytes, not its name).
    params = motion_params(seed)
    inputs = {
        "backend": BACKEND, "version": MOTION_VERSION, "photo_sha256": sha256_file(photo), "size": size,
        "fps": fps, "duration_s": float(duration_s), "frames": n_frames, "seed": seed, "motion": asdict(params),
    }
    params_json = canonical_json(inputs)
    key = sha256_text(params_json)
    clip_path, sidecar = cache_dir / f"{key}.mp4", cache_dir / f"{key}.json"

    # 3. Cache hit: the sidecar says what the clip is; nothing is decoded or rendered.
    cached = _read_sidecar(sidecar, key)
    if cached is not None and clip_path.is_file() and clip_path.stat().st_size > 0:
        return _base_clip(clip_path, key, cached)

    # 4. Render: square source once, then one eased crop per frame, written losslessly (atomic).
    cache_dir.mkdir(parents=True, exist_ok=True)
    source = _square_source(photo, math.ceil(size * params.zoom_end))
    count = write_clip(_frames(source, params, n_frames, size), clip_path, fps=fps)
    meta = {"key": key, "params_json": params_json, "width": size, "height": size, "fps": fps, "frames": count}
    write_text_atomic(sidecar, json.dumps(meta, indent=1, sort_keys=True, ensure_ascii=False))
    return _base_clip(clip_path, key, meta)


def camera_boxes(params: MotionParams, n_frames: int, source_side: int) -> list[tuple[float, float, float, float]]:
    """Per frame, the crop box (left, top, right, bottom) in source pixels, always inside the source."""
    boxes = []
    for i in range(n_frames):
        t = i / (n_frames - 1) if n_frames > 1 else 0.0
        u_zoom = _cubic_in_out(t)
        u_pan = 0.5 - 0.5 * math.cos(math.pi * t)   # sine ease-in-out
        zoom = params.zoom_start + (params.zoom_end - params.zoom_start) * u_zoom
        side = source_side / zoom
        half = side / 2
        centre = []
        for start, end in zip(params.pan_start, params.pan_end):
            c = source_side / 2 + (start + (end - start) * u_pan) * source_side
            centre.append(min(max(c, half), source_side - half))   # the easings differ: keep the crop inside
        boxes.append((centre[0] - half, centre[1] - half, centre[0] + half, centre[1] + half))
    return boxes


def _frames(source: Image.Image, params: MotionParams, n_frames: int, size: int):
    # resize(box=...) takes sub-pixel boxes (smooth motion) and filters properly when it shrinks (no aliasing).
    for box in camera_boxes(params, n_frames, source.width):
        yield np.asarray(source.resize((size, size), Image.Resampling.BICUBIC, box=box))


def _square_source(photo: Path, side: int) -> Image.Image:
    """The photo as an sRGB square: a non-square photo sits whole on a blurred, dimmed copy of itself."""
    with Image.open(photo) as opened:
        img = ImageOps.exif_transpose(opened)
        icc = img.info.get("icc_profile")
        if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
            white = Image.new("RGBA", img.size, (255, 255, 255, 255))
            img = Image.alpha_composite(white, img.convert("RGBA"))
        img = img.convert("RGB")
        if icc:
            # Photos in Adobe RGB or Display P3 would look dull or garish if read as sRGB.
            img = ImageCms.profileToProfile(img, ImageCms.ImageCmsProfile(io.BytesIO(icc)),
                                            ImageCms.createProfile("sRGB"), outputMode="RGB")
    if img.width == img.height:
        return img.resize((side, side), Image.Resampling.LANCZOS)
    back = ImageOps.fit(img, (side, side), Image.Resampling.LANCZOS)
    back = ImageEnhance.Brightness(back.filter(ImageFilter.GaussianBlur(side * 0.03))).enhance(0.8)
    front = ImageOps.contain(img, (side, side), Image.Resampling.LANCZOS)
    back.paste(front, ((side - front.width) // 2, (side - front.height) // 2))
    return back


def _read_sidecar(path: Path, key: str) -> dict | None:
    # An unreadable or foreign sidecar is a cache miss: the clip is rendered again and both are replaced.
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) and meta.get("key") == key else None


def _base_clip(path: Path, key: str, meta: dict) -> BaseClip:
    return BaseClip(path=path, key=key, width=meta["width"], height=meta["height"], fps=meta["fps"],
                    frames=meta["frames"], backend=BACKEND, digital_source_type=DIGITAL_CAPTURE,
                    params_json=meta["params_json"])


def _margin(zoom: float) -> float:
    """How far (fraction of the side) the crop centre may move from the image centre at this zoom."""
    return (1 - 1 / zoom) / 2


def _cubic_in_out(t: float) -> float:
    return 4 * t**3 if t < 0.5 else 1 - (-2 * t + 2) ** 3 / 2


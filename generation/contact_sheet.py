"""A PNG grid of frames from several videos, one row per video, to eyeball output."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from foundation.primitives import write_json_atomic
from foundation.frames import probe, read_clip
from foundation.records import VariantSpec
from generation.compose import shipped_frames
from generation.fonts import font_for_locale
from generation.layout import output_size

THUMB_HEIGHT = 320
SMALL_THUMB_HEIGHT = 120     # the smallest thumbnail, for 40-100 takes
ROWS_PER_COLUMN = 25         # videos per column before the sheet grows sideways
_GAP = 8
_CAPTION = 28   # px of caption strip above each row
PREVIEWS = "previews"   # a candidate set's web previews, beside takes.json
SHEET_SHORT_SIDE = 288  # the size the takes are composed at for the sheet (layouts scale with the frame)


def contact_sheet(video_paths: list[Path], out_png: Path, frames_per_clip: int = 3,
                  labels: list[str] | None = None) -> Path:
    """Write a grid of `frames_per_clip` evenly spaced frames per video (first to last), labelled with file names.

    One row per video up to ROWS_PER_COLUMN videos; more (a director's 40-100 takes) are laid out in
    several columns of rows with smaller thumbnails, so the sheet stays a picture one can open."""
    if not video_paths:
        raise ValueError("contact_sheet: no videos given")
    if frames_per_clip < 1:
        raise ValueError(f"frames_per_clip {frames_per_clip}: must be at least 1")
    thumb_h = _thumb_height(len(video_paths))
    # 1. Thumbnails: decode each clip once at thumbnail size, keep evenly spaced frames.
    rows: list[tuple[str, list[np.ndarray]]] = []
    for k, path in enumerate(map(Path, video_paths)):
        w, h, _ = probe(path)
        tw = max(2, round(w * thumb_h / h))
        frames = list(read_clip(path, size=(tw, thumb_h)))
        if not frames:
            raise ValueError(f"{path}: no frames decoded")
        name = labels[k] if labels else path.name
        rows.append((f"{name}  ({len(frames)} frames, {w}x{h})", [frames[i] for i in spread(len(frames), frames_per_clip)]))
    return _grid(rows, thumb_h, Path(out_png))


def spread(n_frames: int, count: int) -> list[int]:
    """`count` evenly spaced frame indices from the first to the last of n_frames."""
    return [int(i) for i in np.linspace(0, n_frames - 1, count).round().astype(int)]


def _thumb_height(n: int) -> int:
    return THUMB_HEIGHT if n <= 16 else max(SMALL_THUMB_HEIGHT, THUMB_HEIGHT * 16 // n)


def _grid(rows: list[tuple[str, list[np.ndarray]]], thumb_h: int, out_png: Path) -> Path:
    """The sheet: one labelled row of thumbnails per video, filling column after column; a column is as
    wide as its widest row."""
    # Noto Sans CJK draws Latin and CJK labels.
    face = font_for_locale("ja", bold=False).faces[0]
    font = ImageFont.truetype(str(face.path), 18, index=face.index)
    n = len(rows)
    columns = -(-n // ROWS_PER_COLUMN)
    per_column = -(-n // columns)
    chunks = [rows[c * per_column:(c + 1) * per_column] for c in range(columns)]
    widths = [max(sum(f.shape[1] for f in thumbs) + _GAP * (len(thumbs) + 1) for _, thumbs in chunk)
              for chunk in chunks]
    height = per_column * (thumb_h + _CAPTION + _GAP) + _GAP
    sheet = Image.new("RGB", (sum(widths), height), (24, 24, 24))
    draw = ImageDraw.Draw(sheet)
    x0 = 0
    for chunk, width in zip(chunks, widths):
        y = _GAP
        for label, thumbs in chunk:
            draw.text((x0 + _GAP, y), label, font=font, fill=(235, 235, 235))
            x = x0 + _GAP
            for thumb in thumbs:
                sheet.paste(Image.fromarray(thumb), (x, y + _CAPTION))
                x += thumb.shape[1] + _GAP
            y += thumb_h + _CAPTION + _GAP
        x0 += width
    sheet.save(out_png)
    return out_png


def shipped_sheet(clips: list, spec: VariantSpec, out_png: Path, frames_per_clip: int = 4,
                  labels: list[str] | None = None) -> Path:
    """Like contact_sheet, but each take as it ships in one variant: `spec`'s framing, plates, copy,
    price and CTA composed over the take's frames (generation.compose.shipped_frames), at a small size."""
    thumb_h = _thumb_height(len(clips))
    width, height = output_size(spec.aspect, SHEET_SHORT_SIDE)
    small = dataclasses.replace(spec, width=width, height=height)
    rows = []
    for k, clip in enumerate(clips):
        frames = shipped_frames(clip, small, spread(clip.frames, frames_per_clip))
        thumbs = [np.asarray(Image.fromarray(f).resize((max(2, round(width * thumb_h / height)), thumb_h),
                                                   Image.Resampling.LANCZOS)) for f in frames]
        name = labels[k] if labels else clip.path.name
        rows.append((f"{name}  (as {spec.locale} {spec.aspect}, {clip.frames} frames)", thumbs))
    return _grid(rows, thumb_h, Path(out_png))


def write_candidate_sheets(folder: Path, clips: list, product_sku: str, spec: VariantSpec) -> Path:
    """For a reviewer: one row per take (take 0, 1, ...) in takes.png, each take as it ships in the
    variant `spec` (one locale and aspect of the product: its framing, plates and copy; the region's labels
    are decided later, for the picked take), a web preview of each take in previews/ (made once per clip,
    generation.previews), and takes.json with each take's clip key, parameters and preview. Returns the folder."""
    import json

    from generation.previews import web_preview

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    seeds = [json.loads(c.params_json).get("seed", "unknown") for c in clips]
    shipped_sheet(clips, spec, folder / "takes.png", frames_per_clip=4,
                  labels=[f"{product_sku} take {i} seed {seed}" for i, seed in enumerate(seeds)])
    listing = []
    for i, c in enumerate(clips):
        preview = web_preview(c.path, folder / PREVIEWS, c.key)
        listing.append({"take": i, "clip_key": c.key, "backend": c.backend, "params": json.loads(c.params_json),
                        "preview": f"{PREVIEWS}/{preview.video.name}", "poster": f"{PREVIEWS}/{preview.poster.name}"})
    write_json_atomic(folder / "takes.json", {"sku": product_sku, "takes": listing})
    return folder

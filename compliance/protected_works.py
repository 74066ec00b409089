"""Copies of protected works (artworks, photos, key visuals we may not use) in a variant.

A work is registered as 64-bit perceptual hashes (imagehash pHash) of several views of it:
the whole image, centre crops (90 %, 80 %, 65 %), 90 % corner crops, centre crops at the aspect ratios we render
(9:16, 1:1, 16:9, 4:5) and its quadrants, so a video that shows a crop or a reframing of the
work still meets a view of it. Sampled frames (2 per second plus scene cuts), with flat
borders (letterbox bars) trimmed, are hashed whole and as 90 % / 80 % centre crops; any
frame view within `threshold` bits of any work view is a match. Only hashes are stored.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable

import numpy as np
from PIL import Image, UnidentifiedImageError
from sqlalchemy import JSON, Column, DateTime, Integer, MetaData, String, Table, delete, insert, select
from sqlalchemy.engine import Engine

from compliance.sampling import samples

# Hamming distance (of 64 bits) at or under which two views are the same picture. Calibrated
# in tests/compliance/test_protected_works.py: H.264 frames of a panned registered work, of a
# 90 % crop of it or of a 9:16 reframing are <= 12 from a stored view (most <= 8); 16
# unrelated skimage photos are >= 18 from every view of the work.
DEFAULT_THRESHOLD = 12
SAMPLES_PER_SECOND = 2.0
ANALYSIS_LONG_SIDE = 512
WORK_CROPS = (0.9, 0.8, 0.65)
WORK_ASPECTS = {"9x16": 9 / 16, "1x1": 1.0, "16x9": 16 / 9, "4x5": 4 / 5}
FRAME_CROPS = (0.9, 0.8)
# a view this flat (grey std) hashes to noise and would match other flat views: skipped
MIN_VIEW_STD = 6.0
# trimmed as letterbox: edge rows/columns with a grey std under this
BORDER_STD = 4.0

protected_metadata = MetaData()

protected_works_table = Table(
    "protected_works",
    protected_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("title", String(300), nullable=False),
    Column("owner", String(300), nullable=False),
    Column("phashes", JSON, nullable=False),  # {view name: 64-bit pHash as an int}
    Column("added_at", DateTime(timezone=True), nullable=False),
)


class ProtectedWorkError(ValueError):
    """A work cannot be registered (unreadable or featureless image)."""


@dataclass(frozen=True)
class ProtectedWork:
    id: int
    title: str
    owner: str
    phashes: tuple[tuple[str, int], ...]  # (view, hash)
    added_at: datetime


@dataclass(frozen=True)
class ProtectedMatch:
    work_id: int
    title: str
    owner: str
    frame_indices: tuple[int, ...]
    distance: int  # best Hamming distance seen
    view: str  # the work's view that matched best, e.g. "crop90"


@dataclass(frozen=True)
class ProtectedResult:
    blocked: bool
    matches: tuple[ProtectedMatch, ...]
    reasons: tuple[str, ...] = ()
    frames_checked: int = 0


class ProtectedWorksRegistry:
    """Registered protected works, kept in the database behind `engine`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        protected_metadata.create_all(engine)

    def add_work(self, image_path: Path, title: str, owner: str) -> int:
        """Hash the views of the image at image_path and store them (not the image)."""
        for field, value in (("title", title), ("owner", owner)):
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"{field} must be a non-empty string, got {value!r}")
        try:
            with Image.open(image_path) as img:
                rgb = img.convert("RGB")
        except (OSError, UnidentifiedImageError) as exc:
            raise ProtectedWorkError(f"{image_path}: not a readable image: {exc}") from exc
        views = work_hashes(rgb)
        if not views:
            raise ProtectedWorkError(f"{image_path}: image is flat, nothing to recognise it by")
        row = dict(title=title.strip(), owner=owner.strip(), phashes=dict(views), added_at=datetime.now(timezone.utc))
        with self.engine.begin() as conn:
            return int(conn.execute(insert(protected_works_table).values(**row)).inserted_primary_key[0])

    def list(self) -> tuple[ProtectedWork, ...]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(protected_works_table).order_by(protected_works_table.c.id)).mappings().all()
        return tuple(
            ProtectedWork(r["id"], r["title"], r["owner"], tuple((k, int(v)) for k, v in r["phashes"].items()), r["added_at"])
            for r in rows
        )

    def remove(self, work_id: int) -> None:
        with self.engine.begin() as conn:
            if conn.execute(delete(protected_works_table).where(protected_works_table.c.id == work_id)).rowcount != 1:
                raise KeyError(f"no protected work with id {work_id}")


def work_hashes(image: Image.Image) -> tuple[tuple[str, int], ...]:
    """(view, pHash) for the views of a work we store; flat views are left out.

    Views are cut from the work with flat borders trimmed, as frames are, so a work with a
    plain sky or frame hashes the same way on both sides; the untrimmed whole is kept too."""
    trimmed = _trim_borders(image)
    views: dict[str, Image.Image] = {"whole": trimmed}
    if trimmed.size != image.size:
        views["untrimmed"] = image
    image = trimmed
    w, h = image.size
    for f in WORK_CROPS:
        views[f"crop{round(f * 100)}"] = _center(image, w * f, h * f)
    cw, ch = round(w * WORK_CROPS[0]), round(h * WORK_CROPS[0])
    for name, (x, y) in {"nw": (0, 0), "ne": (w - cw, 0), "sw": (0, h - ch), "se": (w - cw, h - ch)}.items():
        views[f"crop90{name}"] = image.crop((x, y, x + cw, y + ch))  # off-centre crops and pans
    for name, aspect in WORK_ASPECTS.items():
        if abs(np.log((w / h) / aspect)) > 0.05:  # the same as "whole" otherwise
            cw, ch = (h * aspect, h) if w / h > aspect else (w, w / aspect)
            views[f"aspect{name}"] = _center(image, cw, ch)
    for r in range(2):
        for c in range(2):
            views[f"tile{r}{c}"] = image.crop((c * w // 2, r * h // 2, (c + 1) * w // 2, (r + 1) * h // 2))
    return tuple((name, _phash(v)) for name, v in views.items() if _textured(v))


def check_protected(
    frames: Iterable[np.ndarray] | Path | str,
    registry: ProtectedWorksRegistry,
    threshold: int = DEFAULT_THRESHOLD,
    *,
    fps: float | None = None,
) -> ProtectedResult:
    """Block when sampled frames show a registered work. frames: RGB uint8 frames (give fps) or a video path."""
    if not 0 <= threshold < 32:
        raise ValueError(f"threshold must be in 0..31 bits, got {threshold}")
    works = registry.list()
    names = [w for w in works for _ in w.phashes]
    views = [v for w in works for v, _ in w.phashes]
    table = np.array([h for w in works for _, h in w.phashes], dtype=np.uint64)
    found: dict[int, list] = {}  # work id -> [frames, best distance, best view]
    checked = 0
    for sample in samples(frames, fps, per_second=SAMPLES_PER_SECOND, long_side=ANALYSIS_LONG_SIDE):
        checked += 1
        if not len(table):
            continue
        for h in frame_hashes(sample.frame):
            dist = _hamming(table, h)
            for i in np.flatnonzero(dist <= threshold):
                work = names[i]
                entry = found.setdefault(work.id, [set(), 64, ""])
                entry[0].add(sample.index)
                if dist[i] < entry[1]:
                    entry[1], entry[2] = int(dist[i]), views[i]
    if checked == 0:
        return ProtectedResult(True, (), ("no frames decoded: protected works cannot be checked",), 0)
    by_id = {w.id: w for w in works}
    matches = tuple(
        ProtectedMatch(wid, by_id[wid].title, by_id[wid].owner, tuple(sorted(fr)), d, view)
        for wid, (fr, d, view) in sorted(found.items())
    )
    reasons = tuple(
        f"frames {', '.join(map(str, m.frame_indices[:8]))}{' ...' if len(m.frame_indices) > 8 else ''} show "
        f"'{m.title}' ({m.owner}; view {m.view}, {m.distance} bits apart)"
        for m in matches
    )
    return ProtectedResult(bool(matches), matches, reasons, checked)


def frame_hashes(frame: np.ndarray) -> list[int]:
    """pHashes of a frame's views: letterbox trimmed, whole and centre crops; flat views left out."""
    full = Image.fromarray(frame)
    img = _trim_borders(full)
    w, h = img.size
    views = [img] + [_center(img, w * f, h * f) for f in FRAME_CROPS] + ([full] if img.size != full.size else [])
    return [_phash(v) for v in views if _textured(v)]


def _center(img: Image.Image, cw: float, ch: float) -> Image.Image:
    w, h = img.size
    left, top = round((w - cw) / 2), round((h - ch) / 2)
    return img.crop((left, top, left + round(cw), top + round(ch)))


def _trim_borders(img: Image.Image) -> Image.Image:
    grey = np.asarray(img.convert("L"), dtype=np.float32)
    rows = np.flatnonzero(grey.std(axis=1) >= BORDER_STD)
    cols = np.flatnonzero(grey.std(axis=0) >= BORDER_STD)
    if len(rows) < grey.shape[0] // 4 or len(cols) < grey.shape[1] // 4:
        return img  # mostly flat: nothing sensible to trim to
    return img.crop((int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1))


def _textured(img: Image.Image) -> bool:
    return img.width >= 16 and img.height >= 16 and float(np.asarray(img.convert("L"), dtype=np.float32).std()) >= MIN_VIEW_STD


def _phash(img: Image.Image) -> int:
    import imagehash   # (scipy) when hashing, not when a plan reads the registry's table

    return int(str(imagehash.phash(img)), 16)


def _hamming(table: np.ndarray, h: int) -> np.ndarray:
    x = np.bitwise_xor(table, np.uint64(h))
    return np.unpackbits(x.view(np.uint8).reshape(-1, 8), axis=1).sum(axis=1)

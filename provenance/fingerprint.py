"""Perceptual video fingerprints (64-bit pHash of sampled frames) and an in-memory index over
millions of them, queried by Hamming distance with vectorised popcount; text prints (256-bit pHash
of each text region of the same frames) that tell locale siblings apart.

A fingerprint survives what the watermark may not be asked to survive (screen capture, heavy
re-editing); it finds *which* assets a copy looks like by voting: the asset whose stored frames
match the most query frames ranks first. Locale siblings share the picture and differ only in
their text, which a 64-bit whole-frame hash barely sees: the text prints of the candidates then
rank them (`text_distance`). A look-alike is a candidate, never proof of origin.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import ffmpeg
import imagehash
import numpy as np
from PIL import Image
from scipy import fft as sfft

from foundation.frames import ClipError, ffmpeg_exe, probe, read_clip
from foundation.primitives import atomic_path

__all__ = ["FingerprintMatch", "FingerprintIndex", "FingerprintRecorder", "Region", "TextPrints", "fingerprint_file",
           "fingerprint_frames", "text_distance", "text_prints_file"]

_DECODE_SIZE = 128   # frames are squashed to a square before hashing anyway (pHash works on 32x32)
TEXT_SHORT_SIDE = 360   # a frame is scaled to this short side (aspect kept) before its text regions are cut
TEXT_HASH_SIZE = 16     # pHash of each text region: 16 x 16 DCT coefficients, 256 bits

Region = tuple[float, float, float, float]   # x0, y0, x1, y1 as fractions of the frame's width and height


def _phash(frame: np.ndarray) -> int:
    bits = imagehash.phash(Image.fromarray(np.ascontiguousarray(frame))).hash.flatten()
    return int.from_bytes(np.packbits(bits).tobytes(), "big")


def fingerprint_frames(frames: Iterable[np.ndarray], fps: float, *, per_second: float = 2) -> tuple[int, ...]:
    """pHash (as unsigned 64-bit ints) of the frames at times 0, 1/per_second, 2/per_second, ..."""
    if fps <= 0 or per_second <= 0:
        raise ValueError(f"fps and per_second must be > 0, got fps={fps!r} per_second={per_second!r}")
    hashes = []
    k = 0
    for i, frame in enumerate(frames):
        if i == round(k * fps / per_second):
            hashes.append(_phash(frame))
            k += 1
    return tuple(hashes)


@dataclass(frozen=True)
class TextPrints:
    """The text regions of a variant (where its copy, price, CTA and labels go) and, per sampled
    frame, one 256-bit pHash of each region."""
    regions: tuple[Region, ...]
    hashes: tuple[tuple[int, ...], ...]

    def to_json(self) -> dict:
        return {"regions": [list(r) for r in self.regions],
                "hashes": [[f"{h:064x}" for h in row] for row in self.hashes]}

    @classmethod
    def from_json(cls, d: dict) -> TextPrints:
        regions = tuple(_region(r) for r in d["regions"])
        hashes = tuple(tuple(int(h, 16) for h in row) for row in d["hashes"])
        if any(len(row) != len(regions) for row in hashes):
            raise ValueError(f"text prints: expected {len(regions)} hashes per frame")
        return cls(regions, hashes)


def _region(r: Sequence[float]) -> Region:
    x0, y0, x1, y1 = (float(v) for v in r)
    if not (0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1):
        raise ValueError(f"text region {list(r)}: expected 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1")
    return (x0, y0, x1, y1)


def _text_hashes(frame: np.ndarray, regions: Sequence[Region]) -> tuple[int, ...]:
    """A 256-bit pHash of each region, cut from the frame's green channel (the luma's main part, and
    a third of the work of converting it) scaled to a 360 px short side: the same for a raw frame in
    the render and a decoded frame of any size in an audit. Each crop is squashed to 64 x 64, its
    16 x 16 lowest DCT coefficients are compared with their median (imagehash's pHash, batched)."""
    h, w = frame.shape[:2]
    scale = TEXT_SHORT_SIDE / min(w, h)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    green = Image.fromarray(np.ascontiguousarray(frame[:, :, 1])).resize(size, Image.BICUBIC, reducing_gap=1.0)
    side = 4 * TEXT_HASH_SIZE
    crops = []
    for x0, y0, x1, y1 in regions:
        left, top = round(x0 * size[0]), round(y0 * size[1])
        box = (left, top, max(round(x1 * size[0]), left + 1), max(round(y1 * size[1]), top + 1))
        crops.append(np.asarray(green.crop(box).resize((side, side), Image.BILINEAR), np.float32))
    if not crops:
        return ()
    low = sfft.dctn(np.stack(crops), axes=(1, 2))[:, :TEXT_HASH_SIZE, :TEXT_HASH_SIZE].reshape(len(crops), -1)
    bits = low > np.median(low, axis=1, keepdims=True)
    return tuple(int.from_bytes(np.packbits(b).tobytes(), "big") for b in bits)


def text_distance(query: Sequence[Sequence[int]], stored: Sequence[Sequence[int]]) -> float | None:
    """How far a copy's text regions are from an asset's: per query frame, the mean share of
    differing bits over the regions against the closest stored frame (no time alignment is assumed:
    a copy may be cut), then the median over query frames. 0 is identical; None: nothing to compare.
    Measured on the 54 demo variants: a stripped copy 0.002-0.061 from its own prints, other assets of
    the same layout 0.144 and more (docs/watermark.md, Text prints)."""
    bits = TEXT_HASH_SIZE * TEXT_HASH_SIZE
    per_frame = []
    for q in query:
        dists = [sum((a ^ b).bit_count() for a, b in zip(q, s)) / (bits * len(q)) for s in stored if len(s) == len(q)]
        if dists and q:
            per_frame.append(min(dists))
    return float(np.median(per_frame)) if per_frame else None


class FingerprintRecorder:
    """A frame hook that fingerprints final frames while they are composed (no decode afterwards),
    sampling them as `fingerprint_file` does with a decoded file and squashing them to the same
    128 x 128 (bicubic). With `reducing_gap=1` PIL first box-reduces by the largest integer factor
    that keeps the frame at least 128 px: ~4x faster on a 720p frame (1.3 ms instead of 5.3), and
    the hashes stay within 0-2 bits of a plain bicubic squash (measured on the 9 sample variant
    layouts), far inside the index's match distance of 10. With `regions`, the same frames'
    text regions are hashed too (`text_prints`)."""

    def __init__(self, fps: float, *, per_second: float = 2, regions: Sequence[Region] = ()):
        if fps <= 0 or per_second <= 0:
            raise ValueError(f"fps and per_second must be > 0, got fps={fps!r} per_second={per_second!r}")
        self.fps, self.per_second = fps, per_second
        self.regions = tuple(_region(r) for r in regions)
        self.hashes: list[int] = []
        self.text: list[tuple[int, ...]] = []

    def __call__(self, index: int, frame: np.ndarray) -> np.ndarray:
        if index == round(len(self.hashes) * self.fps / self.per_second):
            small = Image.fromarray(np.ascontiguousarray(frame)).resize(
                (_DECODE_SIZE, _DECODE_SIZE), Image.BICUBIC, reducing_gap=1.0)
            self.hashes.append(_phash(np.asarray(small)))
            if self.regions:
                self.text.append(_text_hashes(frame, self.regions))
        return frame

    def text_prints(self) -> TextPrints | None:
        """The text prints recorded, or None when no text regions were given."""
        return TextPrints(self.regions, tuple(self.text)) if self.regions else None


def fingerprint_file(path: Path, *, per_second: float = 2) -> tuple[int, ...]:
    """Fingerprint any video file ffmpeg can read (same sampling as `fingerprint_frames`)."""
    path = Path(path)
    _, _, fps = probe(path)
    if fps <= 0:
        raise ClipError(f"{path}: no frame rate found")
    size = _DECODE_SIZE
    proc = (
        ffmpeg.input(str(path))
        .filter("scale", size, size)
        .output("pipe:", format="rawvideo", pix_fmt="rgb24")
        .global_args("-loglevel", "error", "-nostdin")
        .run_async(pipe_stdout=True, pipe_stderr=True, cmd=ffmpeg_exe())
    )
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise ClipError(f"{path}: ffmpeg could not decode: {err.decode(errors='replace').strip()}")
    frames = np.frombuffer(out, np.uint8)
    frames = frames[: frames.size // (size * size * 3) * (size * size * 3)].reshape(-1, size, size, 3)
    return fingerprint_frames(frames, fps, per_second=per_second)


def text_prints_file(path: Path, region_sets: Sequence[tuple[Region, ...]], *,
                     per_second: float = 2) -> dict[tuple[Region, ...], tuple[tuple[int, ...], ...]]:
    """The text hashes of a video file's sampled frames (same moments as `fingerprint_file`) for
    each set of regions: one decode at the file's own size, frames streamed, only sampled ones hashed."""
    path = Path(path)
    _, _, fps = probe(path)
    if fps <= 0:
        raise ClipError(f"{path}: no frame rate found")
    sets = list(dict.fromkeys(tuple(s) for s in region_sets))
    out: dict[tuple[Region, ...], list[tuple[int, ...]]] = {s: [] for s in sets}
    if not sets:
        return {}
    k = 0
    for i, frame in enumerate(read_clip(path)):
        if i == round(k * fps / per_second):
            for regions in sets:
                out[regions].append(_text_hashes(frame, regions))
            k += 1
    return {s: tuple(rows) for s, rows in out.items()}


@dataclass(frozen=True)
class FingerprintMatch:
    asset_id: str
    best_distance: int   # smallest Hamming distance between any query hash and any stored hash
    votes: int           # query hashes that matched at least one stored hash of the asset


class FingerprintIndex:
    """64-bit hashes with their owning asset, queried by Hamming distance.

    Stored as one uint64 array and one int32 owner array (ids in a separate list), so a query is a
    few vectorised passes over memory: XOR, popcount, compare. ~8 ms per query hash per million
    stored hashes on one core; the ledger holds the hashes durably and this index is rebuilt from
    it (or from `save`/`load`)."""

    def __init__(self) -> None:
        self._asset_ids: list[str] = []
        self._owner_of: dict[str, int] = {}
        self._hashes = np.zeros(0, np.uint64)
        self._owners = np.zeros(0, np.int32)
        self._pending: list[tuple[np.ndarray, np.ndarray]] = []   # appended chunks, merged on use

    def __len__(self) -> int:
        return self._hashes.size + sum(h.size for h, _ in self._pending)

    def add(self, asset_id: str, hashes: Sequence[int] | np.ndarray) -> None:
        """Store `hashes` (unsigned 64-bit ints) as frames of `asset_id`."""
        if not asset_id:
            raise ValueError("asset_id is empty")
        values = np.asarray(hashes, dtype=np.uint64).ravel() if len(hashes) else np.zeros(0, np.uint64)
        owner = self._owner_of.setdefault(asset_id, len(self._asset_ids))
        if owner == len(self._asset_ids):
            self._asset_ids.append(asset_id)
        self._pending.append((values, np.full(values.size, owner, np.int32)))

    def _merged(self) -> tuple[np.ndarray, np.ndarray]:
        if self._pending:
            self._hashes = np.concatenate([self._hashes] + [h for h, _ in self._pending])
            self._owners = np.concatenate([self._owners] + [o for _, o in self._pending])
            self._pending = []
        return self._hashes, self._owners

    def query(self, hashes: Sequence[int], max_distance: int = 10) -> list[FingerprintMatch]:
        """Assets with stored hashes within `max_distance` bits of the query hashes, best first
        (most query hashes matched, then smallest distance)."""
        if not 0 <= max_distance <= 64:
            raise ValueError(f"max_distance must be in 0..64, got {max_distance!r}")
        stored, owners = self._merged()
        best: dict[int, int] = {}
        votes: dict[int, int] = {}
        for q in np.asarray(hashes, dtype=np.uint64).ravel():
            # 1. distance to every stored hash: XOR + popcount, one pass each
            dist = np.bitwise_count(np.bitwise_xor(stored, q))
            hit = np.flatnonzero(dist <= max_distance)
            if hit.size == 0:
                continue
            # 2. per asset: smallest distance for this query hash
            hit_owner, hit_dist = owners[hit], dist[hit]
            order = np.lexsort((hit_dist, hit_owner))
            first = np.concatenate([[True], hit_owner[order][1:] != hit_owner[order][:-1]])
            for owner, d in zip(hit_owner[order][first].tolist(), hit_dist[order][first].tolist()):
                votes[owner] = votes.get(owner, 0) + 1
                best[owner] = min(best.get(owner, 64), d)
        ranked = sorted(votes, key=lambda o: (-votes[o], best[o], self._asset_ids[o]))
        return [FingerprintMatch(self._asset_ids[o], best[o], votes[o]) for o in ranked]

    def save(self, path: Path) -> None:
        """Write the index to an .npz file atomically (temp file in the same folder, then rename)."""
        path = Path(path)
        stored, owners = self._merged()
        with atomic_path(path, fsync=True) as tmp, open(tmp, "wb") as f:
            np.savez(f, hashes=stored, owners=owners, asset_ids=np.array(self._asset_ids, dtype=str))

    @classmethod
    def load(cls, path: Path) -> FingerprintIndex:
        with np.load(Path(path), allow_pickle=False) as data:
            hashes, owners, asset_ids = data["hashes"], data["owners"], data["asset_ids"].tolist()
        if hashes.dtype != np.uint64 or owners.shape != hashes.shape or (owners.size and owners.max() >= len(asset_ids)):
            raise ValueError(f"{path}: not a fingerprint index (bad arrays)")
        index = cls()
        index._asset_ids = list(asset_ids)
        index._owner_of = {a: i for i, a in enumerate(index._asset_ids)}
        index._hashes, index._owners = hashes, owners.astype(np.int32)
        return index

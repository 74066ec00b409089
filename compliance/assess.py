"""What a base clip shows, once per base clip and for every region: faces with their embeddings,
the registry entries near them, protected works. No region decision (that is compliance.decide).

Why the base clip and not each variant is checked for faces and protected works: every variant
shows the whole base clip (scaled; the composer places the square clip, it never crops it) under
our own text layers, so the pictures a variant can show are the base clip's. One decode and one
face pass per product instead of one per locale x aspect ratio (see benchmarks/gate_bench.py).

Protected works: each sampled frame is checked as decoded and without soft (blurred) borders
(`_soft_trim`), so a non-square photo shown whole on a blurred copy of itself is still recognised.

Fail closed: missing face models raise LikenessModelError (the run cannot check anything and says
so); a clip with no decoded frame is assessed with frames_checked 0, which decide() blocks.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace

import numpy as np
from PIL import Image
from sqlalchemy.engine import Engine

from compliance.likeness import (
    ANALYSIS_LONG_SIDE as FACE_LONG_SIDE,
    SAMPLES_PER_SECOND,
    UNCERTAIN_DISTANCE,
    FaceModels,
    _faces,  # same package: the detector + 5-point + embedding pass, shared with check_likeness
)
from compliance.protected_works import ANALYSIS_LONG_SIDE as WORKS_LONG_SIDE
from compliance.protected_works import ProtectedMatch, ProtectedWorksRegistry, check_protected
from compliance.registry import ConsentEntry, LikenessRegistry, WatchEntry
from compliance.sampling import samples
from foundation.records import BaseClip

__all__ = ["BaseAssessment", "FaceSighting", "Registries", "assess_base_clip", "open_registries"]

# The render runs base clips in threads sharing one FaceModels; dlib's ResNet keeps per-network
# buffers, so one face pass at a time (the CPU path is compute-bound: nothing is lost).
_DLIB_LOCK = threading.Lock()


@dataclass(frozen=True)
class Registries:
    likeness: LikenessRegistry
    protected: ProtectedWorksRegistry


def open_registries(engine: Engine) -> Registries:
    """Both registries in the ledger database behind `engine` (Ledger(url).engine); tables made if missing."""
    return Registries(likeness=LikenessRegistry(engine), protected=ProtectedWorksRegistry(engine))



@dataclass(frozen=True)
class FaceSighting:
    frame_index: int                    # frame of the base clip
    box: tuple[int, int, int, int]      # left, top, right, bottom in base clip pixels
    detection_score: float              # HOG score; < CONFIDENT_FACE_SCORE: probably not a face
    embedding: bytes                    # dlib ResNet float32[128]

    @property
    def vector(self) -> np.ndarray:
        return np.frombuffer(self.embedding, dtype=np.float32)


@dataclass(frozen=True)
class BaseAssessment:
    """What a base clip shows, independent of region: faces (with embeddings), registry entries
    near them (a snapshot, so `decide` needs no database), protected-work matches."""
    base_key: str
    fps: float
    frames: int
    frames_checked: int
    faces: tuple[FaceSighting, ...]
    watch: tuple[WatchEntry, ...]       # watch-list entries within UNCERTAIN_DISTANCE of some face
    consents: tuple[ConsentEntry, ...]  # consent records within UNCERTAIN_DISTANCE of some face
    protected: tuple[ProtectedMatch, ...]   # frame indices are base clip frames
    registry_sizes: tuple[int, int, int]    # watch-list, consents, protected works at assessment time
    seconds: float

    @property
    def duration_s(self) -> float:
        return self.frames / self.fps


def assess_base_clip(base: BaseClip, *, registries: Registries, models: FaceModels | None) -> BaseAssessment:
    """Decode the base clip ONCE (2 frames per second plus scene cuts, at 640 px), find faces and
    their embeddings and run the protected-works check on the same frames. No region decision."""
    t0 = time.perf_counter()
    # 1. Models (LikenessModelError when missing: nothing can be checked) and registry snapshots
    models = models or FaceModels.load()
    watch: tuple[WatchEntry, ...] = registries.likeness.list("watch")  # type: ignore[assignment]
    consents: tuple[ConsentEntry, ...] = registries.likeness.list("consent")  # type: ignore[assignment]

    # 2. One decode: faces on each sampled frame; the frame, smaller, kept for the works check, and
    #    again without soft borders (see _soft_trim)
    faces: list[FaceSighting] = []
    indices: list[int] = []
    views: list[np.ndarray] = []
    owner: list[int] = []   # views[i] shows sampled frame owner[i]
    for sample in samples(base.path, float(base.fps), per_second=SAMPLES_PER_SECOND, long_side=FACE_LONG_SIDE):
        indices.append(sample.index)
        with _DLIB_LOCK:
            found = _faces(sample.frame, models)
        for face in found:
            box = tuple(int(round(v / sample.scale)) for v in face.box)
            faces.append(FaceSighting(sample.index, box, float(face.score), face.embedding.astype(np.float32).tobytes()))
        small = _shrink(sample.frame, WORKS_LONG_SIDE)
        for view in (small, _soft_trim(small)):
            if view is not None:
                views.append(view)
                owner.append(sample.index)

    # 3. Protected works on the same frames (every view given is taken: fps = the sampling rate)
    matches: tuple[ProtectedMatch, ...] = ()
    if views:
        result = check_protected(views, registries.protected, fps=SAMPLES_PER_SECOND)
        matches = tuple(replace(m, frame_indices=tuple(sorted({owner[i] for i in m.frame_indices})))
                        for m in result.matches)

    # 4. Keep only the registry entries near some face: small, and all decide() needs
    near_watch = _near(watch, faces)
    near_consents = _near(consents, faces)
    return BaseAssessment(
        base_key=base.key, fps=float(base.fps), frames=base.frames, frames_checked=len(indices), faces=tuple(faces),
        watch=near_watch, consents=near_consents, protected=matches,
        registry_sizes=(len(watch), len(consents), len(registries.protected.list())),
        seconds=time.perf_counter() - t0,
    )


def _shrink(frame: np.ndarray, long_side: int) -> np.ndarray:
    h, w = frame.shape[:2]
    if max(h, w) <= long_side:
        return frame
    s = long_side / max(h, w)
    return np.asarray(Image.fromarray(frame).resize((round(w * s), round(h * s)), Image.Resampling.BILINEAR))


# rows/columns whose mean gradient is under this share of the sharp rows' typical one are soft border
SOFT_BORDER_RATIO = 0.35


def _soft_trim(frame: np.ndarray) -> np.ndarray | None:
    """The frame without soft borders, or None when there are none.

    The motion backend shows a non-square photo whole on a blurred, dimmed copy of itself; the
    works check trims only flat (letterbox) borders, so without this view a clip of a registered
    landscape photo was 14-20 bits from it (not matched) on our samples; with it, <= 10.
    Measured on 20 skimage photos as motion clips (tests/compliance/test_gate_assess.py):
    unrelated photos stay >= 14 bits from every work view either way.
    """
    grey = np.asarray(Image.fromarray(frame).convert("L"), np.float32)
    rows = np.abs(np.diff(grey, axis=1)).mean(axis=1)
    cols = np.abs(np.diff(grey, axis=0)).mean(axis=0)

    def span(energy: np.ndarray) -> tuple[int, int]:
        sharp = np.median(energy[energy >= np.median(energy)])
        keep = np.flatnonzero(energy >= SOFT_BORDER_RATIO * sharp)
        return (int(keep[0]), int(keep[-1]) + 1) if len(keep) else (0, len(energy))

    (r0, r1), (c0, c1) = span(rows), span(cols)
    h, w = grey.shape
    if (r0, r1, c0, c1) == (0, h, 0, w) or r1 - r0 < h // 4 or c1 - c0 < w // 4:
        return None
    return np.ascontiguousarray(frame[r0:r1, c0:c1])


def _near(entries: tuple, faces: list[FaceSighting]) -> tuple:
    if not entries or not faces:
        return ()
    vecs = np.stack([e.vector for e in entries])
    keep = np.zeros(len(entries), bool)
    for f in faces:
        keep |= np.linalg.norm(vecs - f.vector, axis=1) < UNCERTAIN_DISTANCE
    return tuple(e for e, k in zip(entries, keep) if k)

"""Real people's likeness in a variant: watch-list, consent records, synthetic performers.

CPU path: sampled frames (2 per second plus scene cuts) downscaled to a 640 px long side,
dlib's HOG face detector, dlib's 5-point landmarks (not the 68-point model: its training
data is non-commercial) and dlib's ResNet 128-d face embedding. Euclidean distance between
embeddings: < 0.5 is the same person, 0.5-0.6 is uncertain (a human looks), >= 0.6 is
someone else.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Literal

import numpy as np

from compliance.registry import ConsentEntry, LikenessRegistry, WatchEntry
from compliance.sampling import samples

MATCH_DISTANCE = 0.5  # below: the same person
UNCERTAIN_DISTANCE = 0.6  # MATCH..UNCERTAIN: review by a human
SAMPLES_PER_SECOND = 2.0
ANALYSIS_LONG_SIDE = 640
# HOG upsampling once finds faces down to ~40 px on the 640 px frame
UPSAMPLE = 1
# HOG detections scoring under this (textures, helmets in our sample frames scored ~0.1) are
# still checked against the watch-list and consents, but matching no one they do not count as
# a person
CONFIDENT_FACE_SCORE = 0.3

SHAPE_MODEL = "shape_predictor_5_face_landmarks.dat"
EMBEDDING_MODEL = "dlib_face_recognition_resnet_model_v1.dat"

Verdict = Literal["block", "review", "pass"]
Outcome = Literal["watch_listed", "consent_problem", "consented", "uncertain", "unknown_person", "synthetic", "ignored"]


class LikenessModelError(RuntimeError):
    """dlib or its model files are missing: the likeness check cannot run (fail closed)."""


class NoSingleFaceError(ValueError):
    """A registration photo must show exactly one face."""


@dataclass(frozen=True)
class FaceModels:
    detector: Any  # dlib.fhog_object_detector
    shape_predictor: Any  # dlib.shape_predictor (5 points)
    encoder: Any  # dlib.face_recognition_model_v1
    models_dir: Path

    @classmethod
    def load(cls, models_dir: Path | None = None) -> "FaceModels":
        """Load dlib's detector and the two model files once per folder (cached).

        models_dir defaults to the `face_recognition_models` package's models folder.
        """
        return _load(Path(models_dir) if models_dir is not None else _default_models_dir())


def _default_models_dir() -> Path:
    # find_spec without importing: the package's __init__ needs pkg_resources, gone from new setuptools
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise LikenessModelError("face model files not found: install face-recognition-models (pip install face-recognition-models)")
    return Path(next(iter(spec.submodule_search_locations))) / "models"


@lru_cache(maxsize=4)
def _load(models_dir: Path) -> FaceModels:
    try:
        import dlib
    except ImportError as exc:
        raise LikenessModelError(f"dlib is not importable ({exc}): install dlib-bin") from exc
    paths = {name: models_dir / name for name in (SHAPE_MODEL, EMBEDDING_MODEL)}
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        raise LikenessModelError(f"face model file(s) missing: {', '.join(missing)}")
    try:
        return FaceModels(
            detector=dlib.get_frontal_face_detector(),
            shape_predictor=dlib.shape_predictor(str(paths[SHAPE_MODEL])),
            encoder=dlib.face_recognition_model_v1(str(paths[EMBEDDING_MODEL])),
            models_dir=models_dir,
        )
    except RuntimeError as exc:  # dlib raises RuntimeError on unreadable/corrupt model files
        raise LikenessModelError(f"cannot load face models from {models_dir}: {exc}") from exc


@dataclass(frozen=True)
class FaceMatch:
    frame_index: int
    box: tuple[int, int, int, int]  # left, top, right, bottom in the original frame's pixels
    detection_score: float
    distance: float | None  # to the nearest registry entry; None when the registries are empty
    entry_kind: Literal["watch", "consent"] | None
    entry_id: int | None
    name: str | None
    outcome: Outcome


@dataclass(frozen=True)
class LikenessResult:
    verdict: Verdict
    faces: tuple[FaceMatch, ...]
    synthetic_performer: bool  # realistic AI-made face matching no one: performer labels apply
    reasons: tuple[str, ...]
    frames_checked: int = 0


@dataclass(frozen=True)
class _Face:
    box: tuple[int, int, int, int]
    score: float
    embedding: np.ndarray


def face_embedding(image: np.ndarray, models: FaceModels | None = None) -> np.ndarray:
    """The 128-d embedding of the one face in a registration photo (RGB uint8)."""
    models = models or FaceModels.load()
    faces = [f for f in _faces(np.ascontiguousarray(image, dtype=np.uint8), models) if f.score >= CONFIDENT_FACE_SCORE]
    if len(faces) != 1:
        raise NoSingleFaceError(f"registration photo must show exactly one face, found {len(faces)}")
    return faces[0].embedding


def _faces(image: np.ndarray, models: FaceModels) -> list[_Face]:
    rects, scores, _ = models.detector.run(image, UPSAMPLE, 0.0)
    faces = []
    for rect, score in zip(rects, scores):
        shape = models.shape_predictor(image, rect)
        vec = np.asarray(models.encoder.compute_face_descriptor(image, shape), dtype=np.float32)
        box = (int(rect.left()), int(rect.top()), int(rect.right()), int(rect.bottom()))
        faces.append(_Face(box=box, score=float(score), embedding=vec))
    return faces


def check_likeness(
    frames: Iterable[np.ndarray] | Path | str,
    *,
    registry: LikenessRegistry,
    region: str,
    sku: str,
    as_of: date,
    ai_generated: bool,
    fps: float | None = None,
    models: FaceModels | None = None,
) -> LikenessResult:
    """Who appears in the frames, and may they? Verdict block > review > pass.

    frames: RGB uint8 frames (give fps) or a video path. Watch-list match -> block; consent
    match covering region, sku and as_of -> pass; consent that does not -> block; uncertain
    distance -> review; in AI-generated content a realistic face matching no one is a
    synthetic performer (pass, labels apply); in other content it is a real person without a
    consent record -> block. No face -> pass.
    """
    # 1. models and registries (a missing model raises LikenessModelError: fail closed)
    models = models or FaceModels.load()
    watch: tuple[WatchEntry, ...] = registry.list("watch")  # type: ignore[assignment]
    consents: tuple[ConsentEntry, ...] = registry.list("consent")  # type: ignore[assignment]
    watch_vecs = np.stack([w.vector for w in watch]) if watch else np.zeros((0, 128), np.float32)
    consent_vecs = np.stack([c.vector for c in consents]) if consents else np.zeros((0, 128), np.float32)

    # 2. faces in sampled frames
    matches: list[FaceMatch] = []
    issues: dict[tuple[str, str], list[int]] = {}  # (verdict, reason) -> frame indices
    checked = 0
    for sample in samples(frames, fps, per_second=SAMPLES_PER_SECOND, long_side=ANALYSIS_LONG_SIDE):
        checked += 1
        for face in _faces(sample.frame, models):
            match, issue = _judge(face, sample.index, sample.scale, watch, watch_vecs, consents, consent_vecs,
                                  region=region, sku=sku, as_of=as_of, ai_generated=ai_generated)
            matches.append(match)
            if issue is not None:
                issues.setdefault(issue, []).append(sample.index)

    # 3. verdict
    if checked == 0:
        return LikenessResult("block", (), False, ("no frames decoded: likeness cannot be checked",), 0)
    reasons = tuple(f"{reason} (frames {_frame_list(idx)})" for (_, reason), idx in issues.items())
    kinds = {v for v, _ in issues}
    verdict: Verdict = "block" if "block" in kinds else "review" if "review" in kinds else "pass"
    synthetic = any(m.outcome == "synthetic" for m in matches)
    return LikenessResult(verdict, tuple(matches), synthetic, reasons, checked)


def _judge(
    face: _Face,
    index: int,
    scale: float,
    watch: tuple[WatchEntry, ...],
    watch_vecs: np.ndarray,
    consents: tuple[ConsentEntry, ...],
    consent_vecs: np.ndarray,
    *,
    region: str,
    sku: str,
    as_of: date,
    ai_generated: bool,
) -> tuple[FaceMatch, tuple[str, str] | None]:
    box = tuple(int(round(v / scale)) for v in face.box)
    dw = np.linalg.norm(watch_vecs - face.embedding, axis=1) if len(watch) else np.zeros(0)
    dc = np.linalg.norm(consent_vecs - face.embedding, axis=1) if len(consents) else np.zeros(0)

    def match(distance, kind, entry, outcome) -> FaceMatch:
        return FaceMatch(index, box, face.score, None if distance is None else float(distance), kind,
                         None if entry is None else entry.id, None if entry is None else entry.name, outcome)

    # watch-list first: it wins over any consent
    if len(dw) and dw.min() < UNCERTAIN_DISTANCE:
        w = watch[int(dw.argmin())]
        d = float(dw.min())
        if d < MATCH_DISTANCE:
            return match(d, "watch", w, "watch_listed"), ("block", f"face matches watch-list entry '{w.name}' (#{w.id}, distance {d:.2f}): {w.reason}")
        return match(d, "watch", w, "uncertain"), ("review", f"face is close to watch-list entry '{w.name}' (#{w.id}, distance {d:.2f})")
    same = [(float(dc[i]), consents[i]) for i in np.argsort(dc) if dc[i] < MATCH_DISTANCE]
    for d, c in same:
        if not c.scope_problems(region=region, sku=sku, as_of=as_of):
            return match(d, "consent", c, "consented"), None
    if same:
        d, c = same[0]
        why = "; ".join(c.scope_problems(region=region, sku=sku, as_of=as_of))
        return match(d, "consent", c, "consent_problem"), ("block", f"face matches '{c.name}' (consent #{c.id}, {c.record_ref}) but {why}")
    if len(dc) and dc.min() < UNCERTAIN_DISTANCE:
        c = consents[int(dc.argmin())]
        d = float(dc.min())
        return match(d, "consent", c, "uncertain"), ("review", f"face is close to consented '{c.name}' (#{c.id}, distance {d:.2f}) but not a sure match")
    nearest = float(min(np.concatenate([dw, dc]))) if len(dw) + len(dc) else None
    if face.score < CONFIDENT_FACE_SCORE:
        return match(nearest, None, None, "ignored"), None
    if ai_generated:
        return match(nearest, None, None, "synthetic"), None
    return match(nearest, None, None, "unknown_person"), ("block", "real person with no consent record")


def _frame_list(indices: list[int]) -> str:
    shown = ", ".join(str(i) for i in indices[:8])
    return shown + (f", ... {len(indices)} in all" if len(indices) > 8 else "")

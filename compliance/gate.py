"""The compliance gate: what a variant must carry for its region, whether it may ship, and what ships.

Where it sits in the life of a variant (flows/render.py wires it):

    base clip ──► assess_base_clip (ONCE per base clip: decode, sample, faces + embeddings,
                  protected works; no region decision)
    per variant ─► decide (likeness verdict for region/sku/date, content facts, rules in force ->
                  visible labels, MP4 metadata, C2PA assertions, verdict so far)
                ─► compose + encode with the decision's labels and metadata (generation.compose)
                ─► verify_shipped (on the encoded file: metadata read back, labels on decoded frames)
                ─► pass: sign and publish | review: hold_for_review | block: quarantine (never signed)

Why the base clip and not each variant is checked for faces and protected works: every variant
shows the whole base clip (scaled; the composer places the square clip, it never crops it) under
our own text layers, so the pictures a variant can show are the base clip's. One decode and one
face pass per product instead of one per locale x aspect ratio (see benchmarks/gate_bench.py).
Labels and metadata are per variant and are verified on the encoded file that ships.

Protected works: each sampled frame is checked as decoded and without soft (blurred) borders
(`_soft_trim`), so a non-square photo shown whole on a blurred copy of itself is still recognised.

Fail closed: a check that cannot decide (no frames decoded, unreadable metadata, a label font
that cannot render the text) makes the variant "block" with the reason; missing face models
raise LikenessModelError (the run cannot check anything and says so).

Quarantine and review folders hold an unsigned media file and a JSON report next to it
(`<asset id>.mp4` + `<asset id>.json`, both written atomically). Blocked variants live in the
quarantine folder and can never be approved; "review" variants wait in the review folder for a
human decision (approve / reject), which is written into the report.
"""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
from PIL import Image
from sqlalchemy.engine import Engine

from compliance.labels import START_TOLERANCE_S, LabelFontError, check_visible_label
from compliance.likeness import (
    ANALYSIS_LONG_SIDE as FACE_LONG_SIDE,
    CONFIDENT_FACE_SCORE,
    MATCH_DISTANCE,
    SAMPLES_PER_SECOND,
    UNCERTAIN_DISTANCE,
    FaceModels,
    _faces,  # same package: the detector + 5-point + embedding pass, shared with check_likeness
)
from compliance.mp4meta import Mp4MetaError, metadata_items
from compliance.protected_works import ANALYSIS_LONG_SIDE as WORKS_LONG_SIDE
from compliance.protected_works import ProtectedMatch, ProtectedWorksRegistry, check_protected
from compliance.registry import ConsentEntry, LikenessRegistry, WatchEntry
from compliance.rules import (
    CN_AIGC_FIELDS,
    DEFAULT_RULES_DIR,
    ContentFacts,
    LabelRequirement,
    Profile,
    Rule,
    applicable_rules,
    cn_aigc_metadata,
    load_profiles,
    visible_labels,
)
from compliance.sampling import samples
from foundation.frames import ClipError, probe, read_clip
from generation.fonts import FontFace, GlyphError, face_for_labels
from foundation.records import BaseClip, VariantSpec
from provenance.spec import Action, C2paReport, Ingredient, ManifestSpec, ModelIngredient
from foundation.primitives import IPTC_SOURCE_TYPES, SourceType, canonical_json, move_atomic, sha256_text, write_json_atomic

__all__ = [
    "AI_SOURCE_TYPES",
    "BaseAssessment",
    "FaceSighting",
    "FaceVerdict",
    "GateError",
    "MetadataRequirement",
    "Registries",
    "ReviewDecision",
    "ReviewError",
    "ReviewItem",
    "RuleCheck",
    "VariantDecision",
    "Verification",
    "ai_flags",
    "apply_labels",
    "approve",
    "assess_base_clip",
    "check_rules_on_file",
    "decide",
    "gate_report",
    "held_items",
    "hold_for_review",
    "open_registries",
    "mark_published",
    "pending_reviews",
    "publish_block",
    "supersede_review",
    "publish_manifest",
    "profile_for",
    "quarantine",
    "reject",
    "rules_digest",
    "verify_shipped",
    "with_compliance",
]

# The render runs base clips in threads sharing one FaceModels; dlib's ResNet keeps per-network
# buffers, so one face pass at a time (the CPU path is compute-bound: nothing is lost).
_DLIB_LOCK = threading.Lock()
# Bump when what the gate derives from the same rules changes (labels, metadata, assertions):
# it is part of rules_digest, so every variant re-renders.
GATE_VERSION = "1"
IPTC = IPTC_SOURCE_TYPES
# IPTC digital source types that say a generative model made the pixels.
AI_SOURCE_TYPES = frozenset(t.value for t in SourceType if t.is_ai)
# MP4 metadata key of the IPTC digital source type (the IPTC Extension property's qualified name).
SOURCE_TYPE_KEY = "Iptc4xmpExt:DigitalSourceType"
COMPLIANCE_LABEL = "com.tessera.compliance"      # C2PA assertion: profile, rules applied, facts, labels
LATENT_LABEL = "com.tessera.latent_disclosure"   # C2PA assertion: California SB 942 latent disclosure
REPORT_SCHEMA = "tessera.gate.report/1"
# decoded beyond the longest at-start label minimum, so the end of a too-short label is seen
LABEL_DECODE_MARGIN_S = 0.5

Verdict = Literal["pass", "review", "block"]
_RANK = {"pass": 0, "review": 1, "block": 2}
_STATUS_RANK = {"not_applicable": 0, "ok": 1, "too_short": 2, "too_small": 3, "missing": 4}


class GateError(ValueError):
    """The gate cannot be applied as asked (unknown profile, a rule it has no filler for); names the value."""


class ReviewError(ValueError):
    """A review action is not allowed (unknown item, blocked variant, no approver name)."""


# ---------------------------------------------------------------- 1. rules digest


def rules_digest(profile_id: str, as_of: date, *, rules_dir: Path = DEFAULT_RULES_DIR) -> str:
    """sha256 over the rules of `profile_id` in force on `as_of` (ids, effective dates, triggers,
    label and metadata requirements) and GATE_VERSION.

    Goes into the variant key: a rule taking effect (or changing) re-renders; a new day alone does
    not. Notes and source citations are left out (they change no requirement).
    """
    profile = profile_for(profile_id, rules_dir)
    if not isinstance(as_of, date):
        raise TypeError(f"as_of must be a date, got {as_of!r}")
    rules = []
    for r in profile.rules:
        if not r.in_force(as_of):
            continue
        d = asdict(r)
        d.pop("note")
        d.pop("sources")
        d["machine_readable"] = [{k: v for k, v in m.items() if k != "note"} for m in d["machine_readable"]]
        rules.append(d)
    doc = {"gate": GATE_VERSION, "profile": profile.code, "baseline": profile.baseline, "rules": rules}
    return sha256_text(canonical_json(doc))


def profile_for(profile_id: str, rules_dir: Path = DEFAULT_RULES_DIR) -> Profile:
    """The rule profile `profile_id` (GateError naming the known ones when there is none)."""
    profiles = _profiles(Path(rules_dir), _dir_stamp(Path(rules_dir)))
    if profile_id not in profiles:
        raise GateError(f"rule profile {profile_id!r} is not one of {', '.join(sorted(profiles))} ({rules_dir})")
    return profiles[profile_id]


def _dir_stamp(rules_dir: Path) -> tuple:
    return tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in sorted(rules_dir.glob("*.json")))


@lru_cache(maxsize=8)
def _profiles(rules_dir: Path, stamp: tuple) -> dict[str, Profile]:
    return load_profiles(rules_dir)   # re-read whenever a file changes (stamp is part of the key)


# ---------------------------------------------------------------- 2. registries


@dataclass(frozen=True)
class Registries:
    likeness: LikenessRegistry
    protected: ProtectedWorksRegistry


def open_registries(engine: Engine) -> Registries:
    """Both registries in the ledger database behind `engine` (Ledger(url).engine); tables made if missing."""
    return Registries(likeness=LikenessRegistry(engine), protected=ProtectedWorksRegistry(engine))


# ---------------------------------------------------------------- 3. assessment of a base clip


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


# ---------------------------------------------------------------- 4. the decision for one variant


@dataclass(frozen=True)
class FaceVerdict:
    frame_index: int
    box: tuple[int, int, int, int]
    outcome: str           # watch_listed | consent_problem | consented | uncertain | synthetic | unknown_person | ignored
    verdict: Verdict
    name: str | None
    entry: str | None      # "watch #3", "consent #7"
    distance: float | None
    reason: str            # "" when nothing is wrong


@dataclass(frozen=True)
class MetadataRequirement:
    rule_id: str
    key: str
    fields: tuple[str, ...]
    value: str             # exactly what we write (and expect to read back)


@dataclass(frozen=True)
class VariantDecision:
    asset_id: str
    sku: str
    region_profile: str
    region: str
    language: str
    as_of: date
    rules_digest: str
    verdict: Verdict
    reasons: tuple[str, ...]
    facts: ContentFacts
    rules: tuple[Rule, ...]                         # the profile's rules in force on as_of
    rules_applied: tuple[str, ...]
    labels: tuple[LabelRequirement, ...]            # visible labels to burn in
    metadata: tuple[tuple[str, str], ...]           # MP4 metadata items (sorted by key)
    required_metadata: tuple[MetadataRequirement, ...]
    c2pa_assertions: tuple[tuple[str, str], ...]    # (label, JSON) extra assertions for the manifest
    faces: tuple[FaceVerdict, ...]
    protected: tuple[ProtectedMatch, ...]

    @property
    def rules_in_force(self) -> tuple[str, ...]:
        return tuple(r.id for r in self.rules)

    @property
    def mp4_metadata(self) -> dict[str, str]:
        """The metadata for render_variant(metadata=...)."""
        return dict(self.metadata)

    @property
    def label_texts(self) -> tuple[str, ...]:
        return tuple(req.text for req in self.labels)

    @property
    def label_min_heights(self) -> tuple[float, ...]:
        return tuple(req.min_height_frac for req in self.labels)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (for reports)."""
        return {
            "asset_id": self.asset_id, "sku": self.sku, "region_profile": self.region_profile, "region": self.region,
            "language": self.language, "as_of": self.as_of.isoformat(), "rules_digest": self.rules_digest,
            "verdict": self.verdict, "reasons": list(self.reasons), "facts": asdict(self.facts),
            "rules_in_force": list(self.rules_in_force), "rules_applied": list(self.rules_applied),
            "labels": [_label_json(r) for r in self.labels], "metadata_keys": [k for k, _ in self.metadata],
            "faces": [asdict(f) for f in self.faces],
            "protected_works": [{"work_id": m.work_id, "title": m.title, "owner": m.owner,
                                 "frames": list(m.frame_indices), "distance": m.distance, "view": m.view}
                                for m in self.protected],
        }


def ai_flags(digital_source_type: str | None) -> tuple[bool, bool]:
    """(ai_generated, ai_modified) from a base clip's IPTC digital source type."""
    if digital_source_type is None:
        return False, False
    iri = digital_source_type if "://" in digital_source_type else IPTC + digital_source_type
    return iri in AI_SOURCE_TYPES, False


def decide(
    assessment: BaseAssessment,
    *,
    region_profile: str,
    region: str,
    language: str,
    sku: str,
    as_of: date,
    ai_generated: bool,
    asset_id: str,
    provider: str,
    system: str,
    system_version: str,
    ai_modified: bool = False,
    digital_source_type: str | None = None,
    created_at: datetime | None = None,
    rules_dir: Path = DEFAULT_RULES_DIR,
) -> VariantDecision:
    """Everything the region asks of one variant, and whether it may ship so far.

    region_profile: rule profile ("EU", "CN", "US-CA"); region: the market ("DE"); a consent
    covers the variant when it names either. digital_source_type, when given, is written into the
    MP4 metadata as well (SOURCE_TYPE_KEY). created_at: the latent disclosure's creation time
    (default: now, UTC).
    """
    # 1. Inputs
    for name, value in (("region", region), ("language", language), ("sku", sku), ("asset_id", asset_id),
                        ("provider", provider), ("system", system), ("system_version", system_version)):
        if not isinstance(value, str) or not value.strip():
            raise GateError(f"{name} must be a non-empty string, got {value!r}")
    profile = profile_for(region_profile, rules_dir)
    created_at = created_at or datetime.now(timezone.utc)
    reasons: dict[str, Verdict] = {}

    # 2. Likeness for this region, product and date
    faces = tuple(_judge(f, assessment, profile=region_profile, region=region, sku=sku, as_of=as_of,
                         ai_generated=ai_generated) for f in assessment.faces)
    for verdict, reason in _grouped(faces):
        reasons[reason] = verdict
    if assessment.frames_checked == 0:
        reasons["no frames decoded from the base clip: likeness and protected works cannot be checked"] = "block"

    # 3. Protected works
    for m in assessment.protected:
        shown = ", ".join(map(str, m.frame_indices[:8])) + (" ..." if len(m.frame_indices) > 8 else "")
        reasons[f"frames {shown} show protected work '{m.title}' ({m.owner}; work #{m.work_id}, view {m.view}, "
                f"{m.distance} bits apart)"] = "block"

    # 4. What the content is -> the rules that apply
    is_ai = ai_generated or ai_modified
    synthetic = any(f.outcome == "synthetic" for f in faces)
    real_likeness = any(f.outcome == "consented" for f in faces)
    facts = ContentFacts(
        ai_generated=ai_generated, ai_modified=ai_modified,
        realistic_people=any(f.outcome != "ignored" for f in faces),
        synthetic_performer=synthetic,
        # an AI-made realistic person, or a real person's likeness in AI content, could pass as authentic
        deepfake=is_ai and (synthetic or real_likeness),
    )
    in_force = tuple(r for r in profile.rules if r.in_force(as_of))
    rules = applicable_rules(profile, as_of=as_of, content=facts)

    # 5. Visible labels: compose draws them top right on every frame from the first
    labels = visible_labels(rules, language)
    for req in labels:
        if req.position != "top-right":
            reasons[f"rule {req.rule_id} asks for its label at {req.position}; labels are drawn top-right only"] = "block"
        if req.min_duration_s > assessment.duration_s + 1e-6:
            reasons[f"rule {req.rule_id} asks for {req.min_duration_s:g} s of {req.text!r}; the clip is "
                    f"{assessment.duration_s:.2f} s"] = "block"

    # 6. Machine-readable: MP4 metadata and C2PA assertions
    required_meta = tuple(_metadata_requirements(rules, provider=provider, asset_id=asset_id))
    metadata = {m.key: m.value for m in required_meta}
    if digital_source_type is not None:
        metadata[SOURCE_TYPE_KEY] = digital_source_type if "://" in digital_source_type else IPTC + digital_source_type
    digest = rules_digest(region_profile, as_of, rules_dir=rules_dir)
    assertions = [(COMPLIANCE_LABEL, canonical_json({
        "gate": GATE_VERSION, "rule_profile": profile.code, "region": region, "language": language,
        "as_of": as_of.isoformat(), "rules_digest": digest, "rules_in_force": [r.id for r in in_force],
        "rules_applied": [r.id for r in rules], "content": asdict(facts),
        "visible_labels": [_label_json(r) for r in labels], "mp4_metadata": sorted(metadata),
    }))]
    latent = _latent_disclosure(rules, provider=provider, system=system, system_version=system_version,
                                created_at=created_at, asset_id=asset_id)
    if latent is not None:
        assertions.append((LATENT_LABEL, canonical_json(latent)))

    # 7. Verdict so far: block > review > pass
    verdict: Verdict = max(reasons.values(), key=_RANK.__getitem__, default="pass")
    ordered = tuple(sorted(reasons, key=lambda r: -_RANK[reasons[r]]))
    return VariantDecision(
        asset_id=asset_id, sku=sku, region_profile=profile.code, region=region, language=language, as_of=as_of,
        rules_digest=digest, verdict=verdict, reasons=ordered, facts=facts,
        rules=in_force, rules_applied=tuple(r.id for r in rules), labels=labels,
        metadata=tuple(sorted(metadata.items())), required_metadata=required_meta,
        c2pa_assertions=tuple(assertions), faces=faces, protected=assessment.protected,
    )


def _judge(face: FaceSighting, a: BaseAssessment, *, profile: str, region: str, sku: str, as_of: date,
           ai_generated: bool) -> FaceVerdict:
    """One face against the snapshot: watch-list first, then consents in scope, then the uncertain band."""
    v = face.vector

    def out(outcome, verdict, entry=None, kind=None, distance=None, reason=""):
        return FaceVerdict(face.frame_index, face.box, outcome, verdict, None if entry is None else entry.name,
                           None if entry is None else f"{kind} #{entry.id}", distance, reason)

    dw = [(float(np.linalg.norm(w.vector - v)), w) for w in a.watch]
    if dw:
        d, w = min(dw, key=lambda t: t[0])
        if d < MATCH_DISTANCE:
            return out("watch_listed", "block", w, "watch", d,
                       f"face matches watch-list entry '{w.name}' (#{w.id}, distance {d:.2f}): {w.reason}")
        if d < UNCERTAIN_DISTANCE:
            return out("uncertain", "review", w, "watch", d,
                       f"face is close to watch-list entry '{w.name}' (#{w.id}, distance {d:.2f})")
    dc = sorted(((float(np.linalg.norm(c.vector - v)), c) for c in a.consents), key=lambda t: t[0])
    same = [(d, c) for d, c in dc if d < MATCH_DISTANCE]
    for d, c in same:
        if not _consent_problems(c, profile=profile, region=region, sku=sku, as_of=as_of):
            return out("consented", "pass", c, "consent", d)
    if same:
        d, c = same[0]
        why = "; ".join(_consent_problems(c, profile=profile, region=region, sku=sku, as_of=as_of))
        return out("consent_problem", "block", c, "consent", d,
                   f"face matches '{c.name}' (consent #{c.id}, {c.record_ref}) but {why}")
    if dc and dc[0][0] < UNCERTAIN_DISTANCE:
        d, c = dc[0]
        return out("uncertain", "review", c, "consent", d,
                   f"face is close to consented '{c.name}' (#{c.id}, distance {d:.2f}) but not a sure match")
    if face.detection_score < CONFIDENT_FACE_SCORE:
        return out("ignored", "pass")
    if ai_generated:
        return out("synthetic", "pass")
    return out("unknown_person", "block", reason="real person with no consent record")


def _consent_problems(c: ConsentEntry, *, profile: str, region: str, sku: str, as_of: date) -> tuple[str, ...]:
    """Empty when the consent covers the variant; its regions may name the rule profile or the market."""
    problems = c.scope_problems(region=profile, sku=sku, as_of=as_of)
    if problems and not c.scope_problems(region=region, sku=sku, as_of=as_of):
        return ()
    return problems


def _grouped(faces: tuple[FaceVerdict, ...]) -> Iterator[tuple[Verdict, str]]:
    frames: dict[tuple[Verdict, str], list[int]] = {}
    for f in faces:
        if f.reason:
            frames.setdefault((f.verdict, f.reason), []).append(f.frame_index)
    for (verdict, reason), idx in frames.items():
        shown = ", ".join(map(str, idx[:8])) + (f", ... {len(idx)} in all" if len(idx) > 8 else "")
        yield verdict, f"{reason} (frames {shown})"


def _metadata_requirements(rules: Iterable[Rule], *, provider: str, asset_id: str) -> Iterator[MetadataRequirement]:
    for r in rules:
        for m in r.machine_readable:
            if m.kind != "mp4_metadata_json":
                continue
            if m.key != "AIGC":
                raise GateError(f"rule {r.id}: MP4 metadata key {m.key!r}: the gate only knows how to fill 'AIGC'")
            unknown = sorted(set(m.fields) - set(CN_AIGC_FIELDS))
            if unknown:
                raise GateError(f"rule {r.id}: AIGC fields {unknown} are not GB 45438-2025 fields {list(CN_AIGC_FIELDS)}")
            # Label "1": AI-generated synthetic content; we are its producer, not a propagator
            value = cn_aigc_metadata(content_producer=provider, produce_id=asset_id, label="1")
            yield MetadataRequirement(r.id, m.key, m.fields, value)


def _latent_disclosure(rules: Iterable[Rule], *, provider: str, system: str, system_version: str,
                       created_at: datetime, asset_id: str) -> dict[str, Any] | None:
    values = {"provider": provider, "system_name": system, "system_version": system_version,
              "created_at": created_at.astimezone(timezone.utc).isoformat(), "unique_id": asset_id}
    out: dict[str, Any] = {}
    ids = []
    for r in rules:
        for m in r.machine_readable:
            if m.kind != "c2pa_assertion":
                continue
            unknown = sorted(set(m.fields) - set(values))
            if unknown:
                raise GateError(f"rule {r.id}: latent disclosure fields {unknown}: the gate fills only {sorted(values)}")
            out.update({f: values[f] for f in m.fields})
            ids.append(r.id)
    return {**out, "rule_ids": ids} if ids else None


def _label_json(r: LabelRequirement) -> dict[str, Any]:
    return {"rule_id": r.rule_id, "text": r.text, "position": r.position, "min_height_frac": r.min_height_frac,
            "min_duration_s": r.min_duration_s, "at_start": r.at_start}


def apply_labels(spec: VariantSpec, decision: VariantDecision) -> VariantSpec:
    """`spec` with the decision's visible labels and their minimum heights (what compose burns in)."""
    if spec.asset_id != decision.asset_id:
        raise GateError(f"decision is for {decision.asset_id}, spec is {spec.asset_id}")
    return replace(spec, labels=decision.label_texts, label_min_height=decision.label_min_heights)


def with_compliance(manifest: ManifestSpec, decision: VariantDecision) -> ManifestSpec:
    """A provenance.ManifestSpec with the decision's C2PA assertions added (compliance record, latent disclosure)."""
    taken = {label for label, _ in manifest.assertions}
    clash = taken & {label for label, _ in decision.c2pa_assertions}
    if clash:
        raise GateError(f"manifest already has assertion(s) {sorted(clash)}")
    return replace(manifest, assertions=tuple(manifest.assertions) + decision.c2pa_assertions)


# ---------------------------------------------------------------- 5. verification of the shipped file


@dataclass(frozen=True)
class RuleCheck:
    rule_id: str
    status: str                 # ok | missing | too_small | too_short | not_applicable
    details: tuple[str, ...]    # one line per failed or uncheckable part


@dataclass(frozen=True)
class Verification:
    verdict: Verdict
    reasons: tuple[str, ...]
    labels: dict[str, str]      # rule id -> ok | missing | too_small | too_short | not_applicable
    checks: tuple[RuleCheck, ...] = ()
    seconds: float = 0.0


def verify_shipped(path: Path, decision: VariantDecision, *, spec: VariantSpec) -> Verification:
    """Check the encoded file against the decision: the MP4 metadata read back (exactly one AIGC
    object with its fields, equal to what was decided), every visible label on decoded frames
    (corner, ink height, from the start, long enough). Combined with the decision's verdict;
    anything missing or uncheckable blocks."""
    t0 = time.perf_counter()
    path = Path(path)
    reasons: list[str] = []
    # 1. The spec must carry what was decided (else the burn-in followed something else)
    if spec.asset_id != decision.asset_id:
        reasons.append(f"spec is for {spec.asset_id}, decision for {decision.asset_id}")
    if tuple(spec.labels) != decision.label_texts:
        reasons.append(f"spec labels {list(spec.labels)} differ from the required {list(decision.label_texts)}")

    # 2. Per rule in force: the parts that live in the file (C2PA parts are added by signing)
    applied = set(decision.rules_applied)
    rules = decision.rules
    checks = check_rules_on_file(
        path, [r for r in rules if r.id in applied], language=decision.language, locale=spec.locale,
        expected_metadata={m.key: m.value for m in decision.required_metadata}, c2pa=None,
    )
    by_id = {c.rule_id: c for c in checks}
    labels = {r.id: (by_id[r.id].status if r.id in by_id else "not_applicable") for r in rules}
    for c in checks:
        if c.status not in ("ok", "not_applicable"):
            reasons.extend(f"{c.rule_id}: {c.status}: {d}" for d in c.details)

    # 3. House metadata: the IPTC digital source type, when it was decided
    wanted = dict(decision.metadata).get(SOURCE_TYPE_KEY)
    if wanted is not None:
        try:
            found = [i.value for i in metadata_items(path) if i.key == SOURCE_TYPE_KEY]
        except (Mp4MetaError, OSError) as exc:
            found = [f"<unreadable: {exc}>"]
        if found != [wanted]:
            reasons.append(f"MP4 metadata {SOURCE_TYPE_KEY}: expected [{wanted}], found {found}")

    # 4. Combine: any failure here blocks; otherwise the decision's verdict stands
    verdict: Verdict = "block" if reasons else decision.verdict
    return Verification(verdict=verdict, reasons=tuple(decision.reasons) + tuple(reasons), labels=labels,
                        checks=tuple(checks), seconds=time.perf_counter() - t0)


def check_rules_on_file(
    path: Path,
    rules: Iterable[Rule],
    *,
    language: str,
    locale: str | None = None,
    expected_metadata: Mapping[str, str] | None = None,
    c2pa: C2paReport | None = None,
) -> tuple[RuleCheck, ...]:
    """Check each rule's requirements on a media file (used by verify_shipped and the audit).

    visible_label: on decoded frames, the text in `language` drawn with the face compose uses for
    `locale` (default: the language); mp4_metadata_json: exactly one item under the key, a JSON
    object with the rule's fields (and equal to expected_metadata[key] when given); c2pa_manifest /
    c2pa_assertion: checked on `c2pa` (the file's read report) when given, else skipped (an unsigned
    file); watermark: not checked here (it needs the key; the watermark stage verifies it).
    """
    path = Path(path)
    out = []
    items = None
    for rule in rules:
        parts: list[tuple[str, str]] = []   # (status, detail)
        if rule.visible_label is not None:
            (req,) = visible_labels([rule], language)
            parts.append(_check_label(path, req, locale or language))
        for m in rule.machine_readable:
            if m.kind == "mp4_metadata_json":
                if items is None:
                    items = _read_items(path)
                parts.append(_check_json_item(items, m.key, m.fields, (expected_metadata or {}).get(m.key)))
            elif m.kind in ("c2pa_manifest", "c2pa_assertion") and c2pa is not None:
                parts.append(_check_c2pa(c2pa, m.kind, m.fields))
        status = max((s for s, _ in parts), key=_STATUS_RANK.__getitem__, default="ok")
        out.append(RuleCheck(rule.id, status, tuple(d for s, d in parts if s != "ok")))
    return tuple(out)


def _read_items(path: Path) -> list | str:
    try:
        return list(metadata_items(path))
    except (Mp4MetaError, OSError) as exc:
        return f"cannot read the MP4 metadata: {exc}"


def _check_json_item(items: list | str, key: str, fields: tuple[str, ...], expected: str | None) -> tuple[str, str]:
    if isinstance(items, str):
        return "missing", items
    values = [i.value for i in items if i.key == key]
    if len(values) != 1:
        return "missing", f"{len(values)} MP4 metadata items under {key!r}, expected exactly one"
    try:
        obj = json.loads(values[0])
    except json.JSONDecodeError as exc:
        return "missing", f"{key} is not JSON ({exc.msg}): {values[0][:80]!r}"
    if not isinstance(obj, dict):
        return "missing", f"{key} is not one JSON object: {values[0][:80]!r}"
    absent = [f for f in fields if f not in obj]
    if absent:
        return "missing", f"{key} lacks the fields {absent}"
    if key == "AIGC":
        if obj.get("Label") not in ("1", "2", "3"):
            return "missing", f"AIGC Label is {obj.get('Label')!r}, expected '1', '2' or '3'"
        empty = [f for f in ("ContentProducer", "ProduceID") if not str(obj.get(f, "")).strip()]
        if empty:
            return "missing", f"AIGC fields {empty} are empty"
    if expected is not None and values[0] != expected:
        return "missing", f"{key} reads {values[0]!r}, expected {expected!r}"
    return "ok", ""


def _check_c2pa(report: C2paReport, kind: str, fields: tuple[str, ...]) -> tuple[str, str]:
    if report.state not in ("Trusted", "Valid") or report.manifest_json is None:
        return "missing", f"no valid content credentials (C2PA {report.state})"
    if kind == "c2pa_manifest":
        dst = report.digital_source_type
        if dst is None:
            return "missing", "the manifest states no digital source type"
        if dst not in AI_SOURCE_TYPES:
            return "missing", f"the manifest says {dst.rsplit('/', 1)[-1]}, not AI-generated media"
        return "ok", ""
    store = json.loads(report.manifest_json)
    active = store.get("manifests", {}).get(store.get("active_manifest"), {})
    data = next((a.get("data") for a in active.get("assertions", []) if a.get("label") == LATENT_LABEL), None)
    if not isinstance(data, dict):
        return "missing", f"the manifest has no {LATENT_LABEL} assertion"
    empty = [f for f in fields if not str(data.get(f, "")).strip()]
    if empty:
        return "missing", f"{LATENT_LABEL} lacks {empty}"
    return "ok", ""


def _check_label(path: Path, req: LabelRequirement, locale: str) -> tuple[str, str]:
    """One visible label on the decoded file; only the first seconds are decoded for at-start labels."""
    try:
        face: FontFace = face_for_labels((req.text,), locale)
        _, _, fps = probe(path)
        if not fps > 0:
            return "missing", f"{path.name}: cannot read the frame rate: label {req.text!r} not checked"
        seconds = req.min_duration_s + START_TOLERANCE_S + LABEL_DECODE_MARGIN_S if req.at_start else None
        result = check_visible_label(read_clip(path, max_seconds=seconds), fps, req, font_path=face.path, face_index=face.index)
    except (ClipError, LabelFontError, GlyphError, ValueError, OSError) as exc:
        return "missing", f"label {req.text!r} could not be checked: {exc}"
    return result.status, result.detail


# ---------------------------------------------------------------- 6. quarantine and review


def gate_report(decision: VariantDecision, verification: Verification | None = None, *,
                extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The JSON report of a held variant: why (reasons), the decision, the label checks, plus `extra`
    (e.g. the run id, the output path it would have had, what publishing needs)."""
    verdict = verification.verdict if verification is not None else decision.verdict
    reasons = verification.reasons if verification is not None else decision.reasons
    report: dict[str, Any] = {"asset_id": decision.asset_id, "verdict": verdict, "reasons": list(reasons),
                              "decision": decision.to_dict()}
    if verification is not None:
        report["labels"] = dict(verification.labels)
        report["checks"] = [asdict(c) for c in verification.checks]
    if extra:
        clash = set(extra) & set(report)
        if clash:
            raise GateError(f"report extra keys {sorted(clash)} would overwrite the gate's own")
        report.update(extra)
    return report


def quarantine(path: Path, *, quarantine_dir: Path, report: Mapping[str, Any]) -> Path:
    """Move the unsigned file into quarantine_dir (as <asset id><suffix>) with <asset id>.json next to it."""
    return _hold(Path(path), Path(quarantine_dir), report, status="blocked")


def hold_for_review(path: Path, *, review_dir: Path, report: Mapping[str, Any]) -> Path:
    """Move the unsigned file into review_dir with its report; it waits for approve() or reject()."""
    return _hold(Path(path), Path(review_dir), report, status="review")


def _hold(path: Path, folder: Path, report: Mapping[str, Any], *, status: str) -> Path:
    asset_id = report.get("asset_id")
    if not isinstance(asset_id, str) or not asset_id.strip() or "/" in asset_id or asset_id.startswith("."):
        raise GateError(f"report needs an asset_id usable as a file name, got {asset_id!r}")
    reasons = report.get("reasons")
    if not isinstance(reasons, list) or not all(isinstance(r, str) for r in reasons) or not reasons:
        raise GateError(f"report needs a non-empty list of reasons, got {reasons!r}")
    if not path.is_file():
        raise FileNotFoundError(f"nothing to hold: {path} is not a file")
    folder.mkdir(parents=True, exist_ok=True)
    media = folder / f"{asset_id}{path.suffix}"
    doc = {**report, "schema": REPORT_SCHEMA, "status": status, "file": media.name, "held_at": _now_iso()}
    json.dumps(doc, default=str)   # refuse an unserialisable report before moving anything
    # the report is written after the media: a report always points at a complete file
    move_atomic(path, media)
    write_json_atomic(_report_path(media), doc)
    return media


def _report_path(media: Path) -> Path:
    return media.with_suffix(".json")


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat()


@dataclass(frozen=True)
class ReviewItem:
    asset_id: str
    media: Path
    report_path: Path
    status: str                 # review | approved | rejected | published | superseded
    reasons: tuple[str, ...]
    held_at: str
    report: dict[str, Any] = field(compare=False)


@dataclass(frozen=True)
class ReviewDecision:
    asset_id: str
    action: str                 # approved | rejected
    by: str
    at: str                     # ISO 8601, UTC
    reason: str
    media: Path                 # where the unsigned file is now
    report_path: Path
    report: dict[str, Any] = field(compare=False)


def pending_reviews(review_dir: Path) -> list[ReviewItem]:
    """Variants waiting for a human decision, oldest first (status "review")."""
    return [i for i in _items(Path(review_dir)) if i.status == "review"]


def held_items(folder: Path) -> list[ReviewItem]:
    """Every held variant in a review or quarantine folder, whatever its status, oldest first."""
    return _items(Path(folder))


def _items(folder: Path) -> list[ReviewItem]:
    if not folder.is_dir():
        return []
    items = []
    for report_path in sorted(folder.glob("*.json")):
        try:
            doc = json.loads(report_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ReviewError(f"{report_path}: unreadable review report: {exc}") from exc
        if not isinstance(doc, dict) or doc.get("schema") != REPORT_SCHEMA:
            continue   # not one of ours
        items.append(ReviewItem(asset_id=doc["asset_id"], media=folder / doc["file"], report_path=report_path,
                                status=doc["status"], reasons=tuple(doc.get("reasons", ())),
                                held_at=doc.get("held_at", ""), report=doc))
    return sorted(items, key=lambda i: (i.held_at, i.asset_id))


def _find(folder: Path, asset_or_file: str | Path) -> ReviewItem | None:
    key = str(asset_or_file)
    name = Path(key).name
    for item in _items(folder):
        if key == item.asset_id or name in (item.media.name, item.report_path.name):
            return item
    return None


def approve(review_dir: Path, asset_or_file: str | Path, *, by: str, reason: str = "",
            quarantine_dir: Path | None = None) -> ReviewDecision:
    """Record a human approval of a held variant in its report; signing and publishing follow (the
    caller's job: the file is still unsigned in review_dir). Refuses an empty approver name, an
    unknown item, and any blocked variant (those live in quarantine and are never approved)."""
    by = _approver(by)
    item = _find(Path(review_dir), asset_or_file)
    if item is None:
        blocked = _find(Path(quarantine_dir), asset_or_file) if quarantine_dir is not None else None
        if blocked is not None:
            raise ReviewError(f"{blocked.asset_id} is blocked, not waiting for review ("
                              f"{'; '.join(blocked.reasons)}): a blocked variant cannot be approved; fix the cause "
                              f"(registry, consent, rules) and render again")
        raise ReviewError(f"no variant {str(asset_or_file)!r} is waiting for review in {review_dir}")
    if item.status == "blocked" or item.report.get("verdict") == "block":
        raise ReviewError(f"{item.asset_id} is blocked ({'; '.join(item.reasons)}): a blocked variant cannot be approved")
    if item.status == "approved":   # approved earlier, not yet published: the same decision stands
        d = item.report["review"]
        return ReviewDecision(item.asset_id, "approved", d["by"], d["at"], d["reason"], item.media, item.report_path,
                              item.report)
    if item.status == "superseded":
        raise ReviewError(f"{item.asset_id} is no longer waiting for review: a newer render was "
                          f"{'blocked' if item.report.get('superseded_by') == 'block' else 'published'} "
                          f"({item.report.get('superseded_at', '')})")
    if item.status != "review":
        raise ReviewError(f"{item.asset_id} was already {item.status}; it is not waiting for review")
    if not item.media.is_file():
        raise ReviewError(f"{item.asset_id}: the held file {item.media} is missing")
    return _decide_review(item, "approved", by, reason)


def reject(review_dir: Path, asset_or_file: str | Path, *, by: str, reason: str,
           quarantine_dir: Path) -> ReviewDecision:
    """Record a human rejection and move the variant (file + report) into quarantine; it is never signed."""
    by = _approver(by)
    if not isinstance(reason, str) or not reason.strip():
        raise ReviewError("a rejection needs a reason")
    item = _find(Path(review_dir), asset_or_file)
    if item is None or item.status != "review":
        raise ReviewError(f"no variant {str(asset_or_file)!r} is waiting for review in {review_dir}")
    decision = _decide_review(item, "rejected", by, reason)
    report = {**decision.report, "reasons": list(item.reasons) + [f"rejected by {by}: {reason.strip()}"]}
    media = _hold(item.media, Path(quarantine_dir), report, status="blocked")
    item.report_path.unlink()
    return replace(decision, media=media, report_path=_report_path(media), report=json.loads(
        _report_path(media).read_text(encoding="utf-8")))


def supersede_review(review_dir: Path, asset_id: str, *, verdict: str) -> bool:
    """A newer render of a held variant was decided otherwise (blocked, or passed and published): the held
    copy must no longer be approvable. Its report stays, status "superseded"; its file goes. True if one was held."""
    item = _find(Path(review_dir), asset_id)
    if item is None or item.asset_id != asset_id or item.status not in ("review", "approved"):
        return False
    # the report first: whatever happens next, the held copy is no longer approvable
    write_json_atomic(item.report_path, {**item.report, "status": "superseded", "superseded_at": _now_iso(),
                                          "superseded_by": verdict})
    item.media.unlink(missing_ok=True)
    return True


def publish_block(*, output_path: Path, manifest: ManifestSpec, record: Mapping[str, str]) -> dict[str, Any]:
    """What publishing a held variant after approval needs, for the report's "publish" key:
    where it goes, the manifest to sign it with (already with_compliance), and the ledger fields
    (variant_key, run_id, sku, locale, aspect, base_clip_key)."""
    need = ("variant_key", "run_id", "sku", "locale", "aspect", "base_clip_key")
    absent = [k for k in need if not isinstance(record.get(k), str) or not record.get(k)]
    if absent:
        raise GateError(f"publish record lacks {absent}")
    return {"output_path": str(output_path), "manifest": _manifest_json(manifest), "record": {k: record[k] for k in need}}


def publish_manifest(report: Mapping[str, Any]) -> ManifestSpec:
    """The ManifestSpec stored by publish_block in a report (ReviewError when there is none)."""
    block = report.get("publish")
    if not isinstance(block, dict) or not isinstance(block.get("manifest"), dict):
        raise ReviewError(f"{report.get('asset_id')}: the report holds no publish record; render it again to publish")
    m = block["manifest"]
    return ManifestSpec(
        title=m["title"], asset_id=m["asset_id"], digital_source_type=m["digital_source_type"],
        actions=tuple(Action(**a) for a in m["actions"]),
        ingredients=tuple(Ingredient(path=Path(i["path"]), title=i["title"], relationship=i["relationship"])
                          for i in m["ingredients"]),
        assertions=tuple((label, text) for label, text in m["assertions"]),
        models=tuple(ModelIngredient(**x) for x in m["models"]),
    )


def _manifest_json(spec: ManifestSpec) -> dict[str, Any]:
    return {
        "title": spec.title, "asset_id": spec.asset_id, "digital_source_type": spec.digital_source_type,
        "actions": [asdict(a) for a in spec.actions],
        "ingredients": [{"path": str(i.path), "title": i.title, "relationship": i.relationship} for i in spec.ingredients],
        "assertions": [[label, text] for label, text in spec.assertions],
        "models": [asdict(x) for x in spec.models],
    }


def mark_published(decision: ReviewDecision, *, output_path: Path) -> None:
    """After the approved file was signed into output_path: the report says so and the unsigned copy goes."""
    doc = {**decision.report, "status": "published", "published_to": str(output_path), "published_at": _now_iso()}
    write_json_atomic(decision.report_path, doc)
    decision.media.unlink(missing_ok=True)


def _decide_review(item: ReviewItem, action: str, by: str, reason: str) -> ReviewDecision:
    at = _now_iso()
    doc = {**item.report, "status": action, "review": {"action": action, "by": by, "at": at, "reason": reason.strip()}}
    write_json_atomic(item.report_path, doc)
    return ReviewDecision(item.asset_id, action, by, at, reason.strip(), item.media, item.report_path, doc)


def _approver(by: str) -> str:
    if not isinstance(by, str) or not by.strip():
        raise ReviewError("the reviewer's name is required (--by NAME)")
    return by.strip()

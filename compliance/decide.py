"""What the region asks of one variant, and whether it may ship so far.

The rule profile in force on the render date (profile_for, rules_digest), the likeness verdict
for the variant's region, product and date (from the base clip's compliance.assess snapshot, no
database), the content facts, and from them: visible labels to burn in (apply_labels), MP4
metadata, C2PA assertions (with_compliance) and the verdict so far. Whether the encoded file
carries what was decided is compliance.verify's job.

Fail closed: a base clip with no decoded frame, a label the composer cannot draw where or as long
as the rule asks, a face nobody consented to: the variant is "block", with the reason. A rule the
gate has no filler for raises GateError naming it.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from compliance.likeness import CONFIDENT_FACE_SCORE, MATCH_DISTANCE, UNCERTAIN_DISTANCE
from compliance.rules import (
    CN_AIGC_FIELDS,
    DEFAULT_RULES_DIR,
    ContentFacts,
    LabelRequirement,
    Profile,
    Rule,
    applicable_rules,
    cn_aigc_metadata,
    combined_profile,
    load_profiles,
    rules_dir_tuple,
    split_profiles,
    visible_labels,
)
from foundation.primitives import IPTC_SOURCE_TYPES, SourceType, canonical_json, sha256_text
from foundation.records import VariantSpec
from provenance.spec import ManifestSpec

if TYPE_CHECKING:  # planning reads rules_digest; the evidence types' modules import imagehash and PIL
    from compliance.assess import BaseAssessment, FaceSighting
    from compliance.protected_works import ProtectedMatch
    from compliance.registry import ConsentEntry

__all__ = [
    "AI_SOURCE_TYPES",
    "COMPLIANCE_LABEL",
    "FaceVerdict",
    "GATE_VERSION",
    "GateError",
    "LATENT_LABEL",
    "MetadataRequirement",
    "SOURCE_TYPE_KEY",
    "VariantDecision",
    "ai_flags",
    "apply_labels",
    "decide",
    "profile_for",
    "rules_digest",
    "with_compliance",
]

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

Verdict = Literal["pass", "review", "block"]
_RANK = {"pass": 0, "review": 1, "block": 2}


class GateError(ValueError):
    """The gate cannot be applied as asked (unknown profile, a rule it has no filler for); names the value."""


# ---------------------------------------------------------------- rule profiles and their digest


def rules_digest(profile_id: str, as_of: date, *, rules_dir: Path | Sequence[Path] = DEFAULT_RULES_DIR) -> str:
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
        d.pop("applicability")
        d["machine_readable"] = [{k: v for k, v in m.items() if k != "note"} for m in d["machine_readable"]]
        rules.append(d)
    doc = {"gate": GATE_VERSION, "profile": profile.code, "baseline": profile.baseline, "rules": rules}
    return sha256_text(canonical_json(doc))


def profile_for(profile_id: str, rules_dir: Path | Sequence[Path] = DEFAULT_RULES_DIR) -> Profile:
    """The rule profile `profile_id`, or the profiles "A;B" all together (combined_profile); GateError
    naming the known ones when one is unknown. rules_dir: one folder or several (package, then user's)."""
    dirs = rules_dir_tuple(rules_dir)
    profiles = _profiles(dirs, tuple(_dir_stamp(d) for d in dirs))
    codes = split_profiles(profile_id) if isinstance(profile_id, str) else ()
    if not codes:
        raise GateError(f"rule profile {profile_id!r}: expected one profile code or several separated by ';'")
    unknown = [c for c in codes if c not in profiles]
    if unknown:
        raise GateError(f"rule profile {unknown[0]!r} is not one of {', '.join(sorted(profiles))} "
                        f"({', '.join(map(str, dirs))}); a market with no specific rules can name BASELINE")
    return combined_profile([profiles[c] for c in codes])


def _dir_stamp(rules_dir: Path) -> tuple:
    if not rules_dir.is_dir():
        return ()
    return tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in sorted(rules_dir.glob("*.json")))


@lru_cache(maxsize=8)
def _profiles(rules_dirs: tuple[Path, ...], stamp: tuple) -> dict[str, Profile]:
    return load_profiles(rules_dirs)   # re-read whenever a file changes (stamp is part of the key)


# ---------------------------------------------------------------- the decision for one variant


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


def ai_flags(digital_source_type: str | None, *, conditioned_on: str | None = None) -> tuple[bool, bool]:
    """(ai_generated, ai_modified) from a variant's IPTC digital source type and, for a model conditioned
    on an input (image-to-video), that input's own source type.

    A model that made the pixels from a real capture (i2v from a captured photo) altered that capture:
    AI-modified, not generated. From text, from an AI-made image, or from an image of unknown provenance:
    AI-generated (the broader claim, made where the input cannot be shown to be a capture). A camera move
    over a captured photo is no AI at all: the variant's source type is the photo's own, neither flag."""
    if digital_source_type is None:
        return False, False
    if not _is_ai(digital_source_type):
        return False, False
    if conditioned_on is not None and SourceType.parse(conditioned_on).is_capture:
        return False, True
    return True, False


def _is_ai(source_type: str) -> bool:
    iri = source_type if "://" in source_type else IPTC + source_type
    return iri in AI_SOURCE_TYPES


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
    rules_dir: Path | Sequence[Path] = DEFAULT_RULES_DIR,
    generative_system: tuple[str, str] | None = None,
    photoreal_objects_or_scenes: bool = False,
    advertising: bool = False,
) -> VariantDecision:
    """Everything the region asks of one variant, and whether it may ship so far.

    region_profile: rule profile ("EU", "CN", "US-CA"), or several a market names ("US-CA;US-NY"),
    all of which apply; region: the market ("DE"); a consent covers the variant when it names the
    market, or every one of its profiles. digital_source_type, when given, is written into the
    MP4 metadata as well (SOURCE_TYPE_KEY). created_at: the latent disclosure's creation time
    (default: now, UTC). generative_system: (name, version) of the system that made the pixels when it is
    not `system` (a diffusion model, or the generator of an AI-made input photo); the latent disclosure
    names it next to Tessera. ai_modified: a real capture altered by a model (ai_flags).
    photoreal_objects_or_scenes: the backend renders photoreal objects or scenes (a product shot);
    advertising: the variant is an advertisement. With the faces the likeness check finds, these are
    the content facts the rules' `applies_to` and `requires` are evaluated over.
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
        # EU AI Act Art. 3(60): AI content resembling existing persons, objects, places, entities or events
        # that could pass as authentic: an AI-made realistic person, a real person's likeness, or a
        # photoreal product or scene
        deepfake=is_ai and (synthetic or real_likeness or photoreal_objects_or_scenes),
        photoreal_objects_or_scenes=photoreal_objects_or_scenes, advertising=advertising,
    )
    in_force = tuple(r for r in profile.rules if r.in_force(as_of))
    rules = applicable_rules(profile, as_of=as_of, content=facts)

    # 5. Visible labels: compose draws them top right on every frame from the first
    labels = visible_labels(rules, language)
    for req in labels:
        if req.position != "top-right":
            reasons[f"rule {req.rule_id} asks for its label at {req.position}; labels are drawn top-right only"] = "block"
        if not req.whole_duration and req.min_duration_s > assessment.duration_s + 1e-6:
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
    if latent is not None and generative_system is not None:
        latent["generative_system"] = {"name": generative_system[0], "version": generative_system[1]}
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
    """Empty when the consent covers the variant: its regions name the market, or every rule profile
    the market has (a consent for US-CA alone does not cover a US-CA;US-NY market)."""
    if not c.scope_problems(region=region, sku=sku, as_of=as_of):
        return ()
    problems: list[str] = []
    for code in split_profiles(profile):
        problems.extend(p for p in c.scope_problems(region=code, sku=sku, as_of=as_of) if p not in problems)
    return tuple(problems)


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
            "min_duration_s": r.min_duration_s, "at_start": r.at_start, "whole_duration": r.whole_duration}


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

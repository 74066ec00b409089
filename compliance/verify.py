"""Whether the encoded file that ships carries what was decided, and the rule checks the audit shares.

verify_shipped runs on the encoded variant before signing: MP4 metadata read back, visible labels
on decoded frames. check_rules_on_file checks one rule profile's requirements on any media file
(the audit calls it too, with the file's C2PA report for the manifest parts).

Fail closed: a check that cannot decide (no frames decoded, unreadable metadata, a label font that
cannot render the text) makes the variant "block" with the reason.
"""
from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from compliance.decide import AI_SOURCE_TYPES, LATENT_LABEL, SOURCE_TYPE_KEY, VariantDecision, Verdict
from compliance.labels import START_TOLERANCE_S, LabelFontError, check_visible_label
from compliance.mp4meta import Mp4MetaError, metadata_items
from compliance.rules import LabelRequirement, Rule, visible_labels
from foundation.frames import ClipError, probe, read_clip
from foundation.records import VariantSpec
from generation.fonts import FontFace, GlyphError, face_for_labels
from provenance.spec import C2paReport

__all__ = ["RuleCheck", "Verification", "check_rules_on_file", "verify_shipped"]

# decoded beyond the longest at-start label minimum, so the end of a too-short label is seen
LABEL_DECODE_MARGIN_S = 0.5
_STATUS_RANK = {"not_applicable": 0, "ok": 1, "too_short": 2, "too_small": 3, "missing": 4}


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
    data = report.assertion(LATENT_LABEL)
    if data is None:
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
        # an at-start label is decoded only as far as its minimum; one for the whole duration to the end
        # (matched at labels.SAMPLES_PER_SECOND; frames between two samples only when the samples disagree)
        seconds = (req.min_duration_s + START_TOLERANCE_S + LABEL_DECODE_MARGIN_S
                   if req.at_start and not req.whole_duration else None)
        result = check_visible_label(read_clip(path, max_seconds=seconds), fps, req, font_path=face.path, face_index=face.index)
    except (ClipError, LabelFontError, GlyphError, ValueError, OSError) as exc:
        return "missing", f"label {req.text!r} could not be checked: {exc}"
    return result.status, result.detail

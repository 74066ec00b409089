"""Held variants: the quarantine and review folders and the human decision on what waits there.

Quarantine and review folders hold an unsigned media file and a JSON report next to it
(`<asset id>.mp4` + `<asset id>.json`, both written atomically). Blocked variants live in the
quarantine folder and can never be approved; "review" variants wait in the review folder for a
human decision (approve / reject), which is written into the report.

The statuses a held report goes through:

    review ──► approved ──► published        (approve, then sign and mark_published)
       │           └──────► superseded       (a newer render was blocked or published)
       ├─────► rejected, and at once moved to quarantine as blocked (reject)
       └─────► superseded
    blocked (quarantine) ──► superseded       (the cause was fixed and a newer render was published)

A listing shows what is true now: a blocked report whose asset has since been published says
"superseded" and is no longer listed as blocked.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from compliance.decide import GateError, VariantDecision
from compliance.verify import Verification
from foundation.primitives import move_atomic, write_json_atomic
from provenance.spec import Action, Ingredient, ManifestSpec, ModelIngredient

__all__ = [
    "REPORT_SCHEMA",
    "ReviewDecision",
    "ReviewError",
    "ReviewItem",
    "approve",
    "gate_report",
    "held_items",
    "hold_for_review",
    "mark_published",
    "pending_reviews",
    "publish_block",
    "publish_manifest",
    "quarantine",
    "reject",
    "supersede_blocked",
    "supersede_review",
]

REPORT_SCHEMA = "tessera.gate.report/1"


class ReviewError(ValueError):
    """A review action is not allowed (unknown item, blocked variant, no approver name)."""


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
    return _supersede(Path(review_dir), asset_id, verdict=verdict, statuses=("review", "approved"))


def supersede_blocked(quarantine_dir: Path, asset_id: str) -> bool:
    """The asset a blocked report is about has since been published (the cause was fixed and it was rendered
    again): the quarantine no longer lists it as blocked. Its report stays, status "superseded"; its
    unsigned file goes. True if one was blocked."""
    return _supersede(Path(quarantine_dir), asset_id, verdict="pass", statuses=("blocked",))


def _supersede(folder: Path, asset_id: str, *, verdict: str, statuses: tuple[str, ...]) -> bool:
    item = _find(folder, asset_id)
    if item is None or item.asset_id != asset_id or item.status not in statuses:
        return False
    # the report first: whatever happens next, the held copy is no longer approvable or listed as held
    write_json_atomic(item.report_path, {**item.report, "status": "superseded", "superseded_at": _now_iso(),
                                          "superseded_by": verdict})
    item.media.unlink(missing_ok=True)
    return True


def publish_block(*, output_path: Path, manifest: ManifestSpec, record: Mapping[str, Any]) -> dict[str, Any]:
    """What publishing a held variant after approval needs, for the report's "publish" key:
    where it goes, the manifest to sign it with (already with_compliance), and the record of it
    (variant_key, run_id, sku, locale, aspect, base_clip_key, and the soft bindings)."""
    need = ("variant_key", "run_id", "sku", "locale", "aspect", "base_clip_key")
    absent = [k for k in need if not isinstance(record.get(k), str) or not record.get(k)]
    if absent:
        raise GateError(f"publish record lacks {absent}")
    return {"output_path": str(output_path), "manifest": _manifest_json(manifest), "record": dict(record)}


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

"""A person's decision on a held variant: approve (publish it) or reject (quarantine it).

Approval goes through the same `publish` as an unattended render, so the ledger rows,
the soft bindings and the journal's publication event are the same whichever door
published the variant.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

from compliance.authorship import AUTHORSHIP_LABEL, authorship_assertion
from compliance import (
    ReviewError, approve, held_items, mark_published, pending_reviews, publish_manifest, reject, supersede_blocked,
)
from compliance.holds import ReviewItem
from compliance.journal import JournalEvent
from pipeline.publish import Publication, publish
from pipeline.workspace import Workspace
from provenance import CredentialError, SigningError

__all__ = ["Approved", "Decided", "HeldVariant", "Rejected", "approve_held", "blocked_now", "decide_held",
           "held_variants", "reject_held"]


@dataclass(frozen=True)
class Approved:
    asset_id: str
    by: str
    output_path: Path


@dataclass(frozen=True)
class Rejected:
    asset_id: str
    by: str
    quarantined: Path


@dataclass(frozen=True)
class HeldVariant:
    """A variant waiting for a person's decision, with what its hold report says it is."""
    item: ReviewItem
    sku: str            # "" when the report does not say (held by an older Tessera)
    locale: str
    aspect: str

    @property
    def asset_id(self) -> str:
        return self.item.asset_id

    @property
    def reasons(self) -> tuple[str, ...]:
        return self.item.reasons


@dataclass(frozen=True)
class Decided:
    """One asset of a decision on several: what became of it, or why nothing did."""
    asset_id: str
    done: Approved | Rejected | None
    error: str = ""


def held_variants(ws: Workspace, *, sku: str | None = None, locale: str | None = None, aspect: str | None = None,
                  reason: str | None = None) -> list[HeldVariant]:
    """The variants waiting for review, oldest first, narrowed by SKU, locale and aspect (exact, any case)
    and by a reason (any held reason containing the text, any case)."""
    held = []
    for item in pending_reviews(ws.review_dir):
        record = (item.report.get("publish") or {}).get("record") or {}
        held.append(HeldVariant(item, str(record.get("sku", "")), str(record.get("locale", "")),
                                str(record.get("aspect", ""))))
    same = lambda a, b: not b or a.casefold() == b.strip().casefold()  # noqa: E731
    return [h for h in held if same(h.sku, sku) and same(h.locale, locale) and same(h.aspect, aspect)
            and (not reason or any(reason.strip().casefold() in r.casefold() for r in h.reasons))]


def decide_held(ws: Workspace, action: str, assets: list[str], *, by: str, reason: str = "") -> list[Decided]:
    """Approve or reject each of `assets` in turn (approve_held / reject_held); one that cannot be decided
    says why and the others go ahead. A missing signer or approver name stops before the first."""
    if action not in ("approve", "reject"):
        raise ReviewError(f"unknown review action {action!r} (approve or reject)")
    if not by.strip():
        raise ReviewError("the reviewer's name is required")
    if action == "reject" and not reason.strip():
        raise ReviewError("a rejection needs a reason")
    if not assets:
        raise ReviewError("no variant selected")
    decided = []
    for asset in dict.fromkeys(assets):         # each once, in the order given
        try:
            done = (approve_held(ws, asset, by=by, reason=reason) if action == "approve"
                    else reject_held(ws, asset, by=by, reason=reason))
            decided.append(Decided(asset, done))
        except CredentialError:
            raise
        except ReviewError as exc:
            decided.append(Decided(asset, None, str(exc)))
        except SigningError as exc:
            decided.append(Decided(asset, None, f"approved, but not published: {exc}"))
    return decided


def approve_held(ws: Workspace, asset_or_file: str, *, by: str, reason: str = "") -> Approved:
    """Record the approval, then sign the held file into its output path and record it.

    ReviewError: nothing held under that name, a blocked variant, no approver name, or a hold that
    lacks what publishing needs. SigningError: approved, but not published (the hold stays)."""
    # 1. The signer and what publishing needs, before anything is recorded.
    ws.credentials   # noqa: B018 (CredentialError here, before the approval is written)
    decision = approve(ws.review_dir, asset_or_file, by=by, reason=reason, quarantine_dir=ws.quarantine_dir)
    manifest = publish_manifest(decision.report)
    try:
        pub = Publication.from_record(decision.report["publish"]["record"])
    except (KeyError, TypeError, ValueError):
        raise ReviewError(f"{decision.asset_id}: the held report lacks what publishing needs "
                          f"(held by an older Tessera); render it again to publish") from None
    # 2. The person's decision, then the authorship assertion made anew so that it cites the approval.
    ws.journal.append(JournalEvent(variant_key=pub.variant_key, actor=decision.by, actor_kind="human",
                                   action="approval", asset_id=decision.asset_id,
                                   detail={"reason": decision.reason, "held_for": list(decision.report["reasons"])}))
    assertion = (AUTHORSHIP_LABEL, json.dumps(authorship_assertion(ws.journal, pub.variant_key)))
    manifest = replace(manifest, assertions=tuple(assertion if label == AUTHORSHIP_LABEL else (label, text)
                                                  for label, text in manifest.assertions))
    # 3. Publish exactly as a render does; the hold says where it went.
    publish(ws, decision.media, manifest, pub, approved_by=decision.by)
    mark_published(decision, output_path=pub.output_path)
    return Approved(decision.asset_id, decision.by, pub.output_path)


def reject_held(ws: Workspace, asset_or_file: str, *, by: str, reason: str) -> Rejected:
    """Move a held variant to the quarantine, unsigned, and journal who turned it down and why."""
    decision = reject(ws.review_dir, asset_or_file, by=by, reason=reason, quarantine_dir=ws.quarantine_dir)
    variant_key = (decision.report.get("publish") or {}).get("record", {}).get("variant_key", decision.asset_id)
    # "candidate_rejected" is the journal's word for a human turning a candidate down
    ws.journal.append(JournalEvent(variant_key=variant_key, actor=decision.by, actor_kind="human",
                                   action="candidate_rejected", asset_id=decision.asset_id,
                                   detail={"candidate": decision.asset_id, "reason": decision.reason}))
    return Rejected(decision.asset_id, decision.by, decision.media)


def blocked_now(ws: Workspace) -> list[ReviewItem]:
    """The quarantined variants that are still blocked today, oldest first.

    A publication supersedes the asset's blocked report (pipeline.publish); a report whose asset the
    ledger shows published after it was held (by a Tessera that did not do that yet, or a copy of the
    home) is superseded here, so the listing and the report both say what is true now."""
    still = []
    for item in held_items(ws.quarantine_dir):
        if item.status != "blocked":
            continue
        rec = ws.ledger.asset(item.asset_id)
        if rec is not None and rec.status == "active" and _after(rec.created_at, item.held_at):
            supersede_blocked(ws.quarantine_dir, item.asset_id)
            continue
        still.append(item)
    return still


def _after(published_at: datetime, held_at: str) -> bool:
    try:
        held = datetime.fromisoformat(held_at)
    except ValueError:
        return True    # a report without a readable time: the ledger's publication is the later fact
    as_utc = lambda t: t if t.tzinfo else t.replace(tzinfo=timezone.utc)  # noqa: E731 (SQLite drops the zone)
    return as_utc(published_at) > as_utc(held)

"""Compliance: region rules, the compliance gate (likeness, protected works, labels), and the audit of any media files.

Where the gate sits in the life of a variant (the application core wires it):

    base clip ──► assess_base_clip (assess.py; ONCE per base clip: decode, sample, faces +
                  embeddings, protected works; no region decision)
    per variant ─► decide (decide.py: likeness verdict for region/sku/date, content facts, rules in
                  force -> visible labels, MP4 metadata, C2PA assertions, verdict so far)
                ─► compose + encode with the decision's labels and metadata (generation.compose)
                ─► verify_shipped (verify.py; on the encoded file: metadata read back, labels on
                  decoded frames)
                ─► pass: sign and publish | review: hold_for_review | block: quarantine (holds.py;
                  never signed)
"""
from compliance.decide import decide   # a submodule's name too: imported here, not lazily
from typing import TYPE_CHECKING

from foundation.lazy import lazy_exports

__all__ = [
    "AuditRecord",
    "Limits",
    "audit_paths",
    "exit_code",
    "ledger_profile_lookup",
    "BaseAssessment",
    "GateError",
    "Registries",
    "ReviewError",
    "VariantDecision",
    "Verification",
    "ai_flags",
    "apply_labels",
    "approve",
    "assess_base_clip",
    "decide",
    "gate_report",
    "held_items",
    "hold_for_review",
    "mark_published",
    "open_registries",
    "pending_reviews",
    "publish_block",
    "publish_manifest",
    "quarantine",
    "reject",
    "rules_digest",
    "supersede_blocked",
    "supersede_review",
    "verify_shipped",
    "with_compliance",
]

if TYPE_CHECKING:   # the public names and their modules; imported on first use (foundation.lazy)
    from compliance.assess import BaseAssessment, Registries, assess_base_clip, open_registries
    from compliance.audit import AuditRecord, Limits, audit_paths, exit_code, ledger_profile_lookup
    from compliance.decide import (
        GateError,
        VariantDecision,
        ai_flags,
        apply_labels,
        rules_digest,
        with_compliance,
    )
    from compliance.holds import (
        ReviewError,
        approve,
        gate_report,
        held_items,
        hold_for_review,
        mark_published,
        pending_reviews,
        publish_block,
        publish_manifest,
        quarantine,
        reject,
        supersede_blocked,
        supersede_review,
    )
    from compliance.verify import Verification, verify_shipped

__getattr__, __dir__ = lazy_exports(__name__)

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

# Each name is imported from its module on first use (foundation.lazy).
__getattr__, __dir__ = lazy_exports(__name__, {
    "BaseAssessment": "compliance.assess",
    "Registries": "compliance.assess",
    "assess_base_clip": "compliance.assess",
    "open_registries": "compliance.assess",
    "AuditRecord": "compliance.audit",
    "Limits": "compliance.audit",
    "audit_paths": "compliance.audit",
    "exit_code": "compliance.audit",
    "ledger_profile_lookup": "compliance.audit",
    "GateError": "compliance.decide",
    "VariantDecision": "compliance.decide",
    "ai_flags": "compliance.decide",
    "apply_labels": "compliance.decide",
    "rules_digest": "compliance.decide",
    "with_compliance": "compliance.decide",
    "ReviewError": "compliance.holds",
    "approve": "compliance.holds",
    "gate_report": "compliance.holds",
    "held_items": "compliance.holds",
    "hold_for_review": "compliance.holds",
    "mark_published": "compliance.holds",
    "pending_reviews": "compliance.holds",
    "publish_block": "compliance.holds",
    "publish_manifest": "compliance.holds",
    "quarantine": "compliance.holds",
    "reject": "compliance.holds",
    "supersede_blocked": "compliance.holds",
    "supersede_review": "compliance.holds",
    "Verification": "compliance.verify",
    "verify_shipped": "compliance.verify",
})

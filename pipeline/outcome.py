"""What became of one planned variant: the record a render returns per variant (rendered, skipped,
held, blocked, failed), kept apart from the per-variant pipeline so that a plan with nothing to
render builds its outcomes without importing the stages that render."""
from __future__ import annotations

from dataclasses import dataclass, field

from foundation.primitives import Outcome
from generation.plan import VariantPlan

__all__ = ["VariantOutcome", "outcome"]


@dataclass(frozen=True)
class VariantOutcome:
    asset_id: str
    sku: str
    locale: str
    aspect: str
    status: Outcome
    path: str
    reason: str = ""
    seconds: dict[str, float] = field(default_factory=dict)


def outcome(plan: VariantPlan, status: Outcome, reason: str = "", seconds: dict | None = None) -> VariantOutcome:
    return VariantOutcome(plan.asset_id, plan.spec.sku, plan.spec.locale, plan.spec.aspect, status,
                          str(plan.output_path), reason=reason, seconds=seconds or {})

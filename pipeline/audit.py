"""The audit every door runs: the CLI, the audit deployment and the nightly run's audit step.

One function, so that the same file gets the same row whichever way it is asked: the
ledger lookup by content hash, the rule profile our ledger recorded, and the recovery of
a stripped copy by watermark and fingerprints are always wired in.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from pathlib import Path

from compliance import AuditRecord, audit_paths, ledger_profile_lookup
from compliance.audit import ledger_manifest_lookup
from foundation.limits import Limits
from provenance.recover import recoverer
from pipeline.workspace import Workspace

__all__ = ["audit", "audit_counts"]


def audit(ws: Workspace, paths: Sequence[Path], *, region: str | None = None,
          as_of: date | None = None, limits: Limits = Limits()) -> list[AuditRecord]:
    """One record per media file or special entry under `paths`, each within `limits`
    (GateError for an unknown --region, before any file)."""
    ledger = ws.ledger
    # Each file is audited in a forked child: it must open its own database connections, and
    # leave the parent's pooled ones alone (close=False: they stay the parent's to use).
    records = audit_paths([Path(p) for p in paths], anchors_pem=None, trust=ws.trust_list, lookup=ledger.asset_id_for_sha256,
                       region=region, as_of=as_of, profile_lookup=ledger_profile_lookup(ledger), rules_dir=ws.settings.rules_dirs,
                       recover=recoverer(ledger, ws.existing_watermark_key), known_lookup=ledger_manifest_lookup(ledger),
                       limits=limits,
                       child_init=lambda: ledger.engine.dispose(close=False))
    return [_withdrawn(r, ledger) for r in records]


def _withdrawn(record: AuditRecord, ledger) -> AuditRecord:
    """A file of an asset tessera recheck withdrew (or a recovered copy of one) says so, and fails."""
    asset_id = record.asset_id or (record.recovery or {}).get("asset_id")
    asset = ledger.asset(asset_id) if asset_id else None
    if asset is None or asset.status != "withdrawn":
        return record
    return replace(record, verdict="fail", problems=record.problems + (
        f"withdrawn: asset {asset_id} no longer passes today's registries or rules (tessera recheck; the "
        f"journal's withdrawal event says why)",))


def audit_counts(records: Sequence[AuditRecord]) -> dict[str, int]:
    """How many files pass, warn and fail."""
    return {v: sum(r.verdict == v for r in records) for v in ("pass", "warn", "fail")}

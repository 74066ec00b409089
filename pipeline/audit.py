"""The audit every door runs: the CLI, the audit deployment and the nightly run's audit step.

One function, so that the same file gets the same row whichever way it is asked: the
ledger lookup by content hash, the path check (is this the file the ledger records at this
path?), the rule profile our ledger recorded, the recovery of a stripped copy by watermark
and fingerprints, and the ledger's seals are always wired in.

The seals (pipeline.seal) are verified once per audit, before any file: a file whose asset
row or soft bindings do not match their seal fails with the reason; a ledger problem no
audited file names (a row missing or unsealed elsewhere, a broken journal) is one `fail` row
for the ledger itself; recovery uses no row that does not verify.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from pathlib import Path

from compliance import AuditRecord, audit_paths, ledger_profile_lookup
from compliance.audit import ledger_manifest_lookup
from foundation.limits import Limits
from provenance.ledger import redacted_url
from provenance.recover import recoverer
from pipeline.seal import LedgerIntegrity, verify_ledger
from pipeline.workspace import Workspace

__all__ = ["audit", "audit_counts", "with_integrity"]


def audit(ws: Workspace, paths: Sequence[Path], *, region: str | None = None,
          as_of: date | None = None, limits: Limits = Limits()) -> list[AuditRecord]:
    """One record per media file or special entry under `paths`, each within `limits`
    (GateError for an unknown --region, before any file), plus one for the ledger when its
    seals show a problem no file's row names."""
    ledger = ws.ledger
    integrity = verify_ledger(ws.verifying_journal, ledger.engine)
    # Each file is audited in a forked child: it must open its own database connections, and
    # leave the parent's pooled ones alone (close=False: they stay the parent's to use).
    records = audit_paths([Path(p) for p in paths], anchors_pem=None, trust=ws.trust_list,
                          lookup=ledger.asset_id_for_sha256, region=region, as_of=as_of,
                          profile_lookup=ledger_profile_lookup(ledger), rules_dir=ws.settings.rules_dirs,
                          recover=recoverer(ledger, ws.existing_watermark_key, integrity.untrusted),
                          known_lookup=ledger_manifest_lookup(ledger), limits=limits,
                          child_init=lambda: ledger.engine.dispose(close=False), placement=ledger.path_record)
    records = [_withdrawn(r, ledger) for r in records]
    return with_integrity(records, integrity, _ledger_path(ws.settings.ledger_url))


def with_integrity(records: Sequence[AuditRecord], integrity: LedgerIntegrity, ledger_path: Path) -> list[AuditRecord]:
    """The audit's records with the ledger's seal problems: on the file they concern, else on a ledger row."""
    out: list[AuditRecord] = []
    named: set[str] = set()
    for r in records:
        ids = [i for i in dict.fromkeys((r.asset_id, r.claimed_asset_id)) if i is not None]
        found = [p for i in ids for kind in ("asset", "soft_binding") for p in integrity.row_problems(kind, i)]
        named.update(found)
        if found:
            r = replace(r, verdict="fail", problems=r.problems + tuple(found))
        elif r.in_ledger and integrity.rows and not (integrity.sealed and integrity.journal is not None):
            # A ledger made before seals (or a home without its signer's certificate): nothing vouches for the row.
            r = replace(r, verdict="warn" if r.verdict == "pass" else r.verdict,
                        problems=r.problems + (integrity.summary(),))
        out.append(r)
    rest = [p.text for p in integrity.problems if p.text not in named]
    if integrity.journal is not None and not integrity.journal.ok:
        rest.insert(0, f"journal NOT intact: {integrity.journal.problem}; no ledger row can be trusted")
    if rest:
        out.append(AuditRecord(path=ledger_path, sha256=None, c2pa_state="ledger", c2pa_codes=(),
                               digital_source_type=None, signer=None, claimed_asset_id=None, asset_id=None,
                               in_ledger=False, verdict="fail", problems=tuple(rest)))
    return out


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


def _ledger_path(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else Path(redacted_url(url))

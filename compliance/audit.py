"""Audit any media files, ours or not: content credentials, signer, ledger record, verdict.

Verdict policy (one verdict per file; `problems` says why in plain words):

| C2PA state | verdict | problem |
| --- | --- | --- |
| Trusted | pass | - |
| Valid (only signingCredential.untrusted) | warn | signer not in trust list |
| Invalid | fail | one per status code, e.g. "assertion.dataHash.mismatch: content changed after signing" |
| absent | warn | no content credentials |
| error (unreadable, hostile, unsupported) | fail | the reader's message |

Ledger cross-check, when a `lookup` (sha256 -> our asset id) is given: a manifest
that claims one of our asset ids (com.tessera.variant) for a file whose sha256 the
ledger does not know is a problem and lowers pass to warn (signed by us, but not a
file we recorded: re-encoded, or a claim copied onto other bytes). A ledger record
whose asset id differs from the one the manifest claims is a contradiction in our
own records: fail. Without a lookup no ledger check is made and in_ledger is false.

`exit_code` is 0 when no file fails (warnings do not fail an audit), 1 otherwise.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from provenance.reader import MEDIA_EXTENSIONS, UNTRUSTED, read_c2pa
from provenance.spec import C2paReport

__all__ = ["AuditRecord", "audit_paths", "exit_code"]

# Plain-words meaning of the failure codes an auditor meets most.
CODE_MEANINGS = {
    UNTRUSTED: "signer not in trust list",
    "assertion.dataHash.mismatch": "content changed after signing",
    "assertion.bmffHash.mismatch": "content changed after signing",
    "assertion.boxesHash.mismatch": "content changed after signing",
    "assertion.hashedURI.mismatch": "an assertion was altered after signing",
    "claimSignature.mismatch": "the claim signature does not verify: manifest altered after signing",
    "signingCredential.expired": "signing certificate had expired",
    "signingCredential.revoked": "signing certificate was revoked",
    "signingCredential.invalid": "signing certificate is not acceptable for C2PA",
    "ingredient.manifest.missing": "an ingredient's manifest is missing",
    "assertion.missing": "a referenced assertion is missing",
}


@dataclass(frozen=True)
class AuditRecord:
    path: Path
    sha256: str | None                  # None when the file could not be read
    c2pa_state: str                     # "Trusted", "Valid", "Invalid", "absent" or "error"
    c2pa_codes: tuple[str, ...]
    digital_source_type: str | None
    signer: str | None
    claimed_asset_id: str | None        # the asset id the manifest claims (com.tessera.variant)
    asset_id: str | None                # our asset id for this sha256 according to the ledger
    in_ledger: bool
    verdict: str                        # "pass", "warn" or "fail"
    problems: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "sha256": self.sha256,
            "c2pa_state": self.c2pa_state,
            "c2pa_codes": list(self.c2pa_codes),
            "digital_source_type": self.digital_source_type,
            "signer": self.signer,
            "claimed_asset_id": self.claimed_asset_id,
            "asset_id": self.asset_id,
            "in_ledger": self.in_ledger,
            "verdict": self.verdict,
            "problems": list(self.problems),
        }


def audit_paths(paths: Sequence[Path], *, anchors_pem: bytes | None,
                lookup: Callable[[str], str | None] | None) -> list[AuditRecord]:
    """Audit files and directories (recursively, media files only, sorted), one record per file."""
    return [_audit_file(path, anchors_pem, lookup) for path in expand_paths(paths)]


def exit_code(records: Sequence[AuditRecord]) -> int:
    """0 when no file fails (warnings pass), 1 when any does."""
    return 1 if any(r.verdict == "fail" for r in records) else 0


def expand_paths(paths: Sequence[Path]) -> list[Path]:
    """Files as given, directories expanded to their media files; a missing path is an error."""
    out: list[Path] = []
    seen: set[Path] = set()
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in MEDIA_EXTENSIONS)
        elif path.exists():
            found = [path]
        else:
            raise FileNotFoundError(f"audit path does not exist: {path}")
        for p in found:
            key = p.resolve()
            if key not in seen:
                seen.add(key)
                out.append(p)
    return out


def _audit_file(path: Path, anchors_pem: bytes | None,
                lookup: Callable[[str], str | None] | None) -> AuditRecord:
    report = read_c2pa(path, anchors_pem)
    try:
        sha = _sha256(path)
    except OSError as e:
        sha = None
        if report.state != "error":  # the reader managed; hashing did not: still a file we cannot vouch for
            report = C2paReport(state="error", codes=(), error=f"cannot read {path}: {e.strerror or e}")
    ledger_id = lookup(sha) if (lookup is not None and sha is not None) else None

    problems: list[str] = []
    verdict = "pass"
    if report.state == "error":
        verdict = "fail"
        problems.append(f"cannot verify: {report.error}")
    elif report.state == "absent":
        verdict = "warn"
        problems.append("no content credentials")
    elif report.state == "Invalid":
        verdict = "fail"
        problems.extend(_explain(code) for code in report.codes)
    elif report.state == "Valid":
        verdict = "warn"
        problems.extend(_explain(code) for code in report.codes or (UNTRUSTED,))
    elif report.state != "Trusted":
        verdict = "fail"
        problems.append(f"unknown C2PA validation state {report.state!r}")

    if lookup is not None and report.asset_id is not None:
        if ledger_id is None:
            problems.append(f"manifest claims asset id {report.asset_id} but the ledger has no record of this file")
            verdict = "warn" if verdict == "pass" else verdict
        elif ledger_id != report.asset_id:
            problems.append(f"manifest claims asset id {report.asset_id} but the ledger records "
                            f"this file as {ledger_id}")
            verdict = "fail"

    return AuditRecord(
        path=path,
        sha256=sha,
        c2pa_state=report.state,
        c2pa_codes=report.codes,
        digital_source_type=report.digital_source_type,
        signer=report.signer,
        claimed_asset_id=report.asset_id,
        asset_id=ledger_id,
        in_ledger=ledger_id is not None,
        verdict=verdict,
        problems=tuple(problems),
    )


def _explain(code: str) -> str:
    return f"{code}: {CODE_MEANINGS.get(code, 'C2PA validation failure')}"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()

"""Publishing a variant: the one way a staged encode becomes a signed, recorded asset.

Both the render (a variant that passed every check) and `review approve` (a held variant a
person approved) call `publish`, so every published asset gets the same ledger rows, the
same soft bindings and the same journal event.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from compliance.holds import supersede_blocked
from compliance.record import record_publication
from foundation.primitives import sha256_file
from generation.plan import output_folder
from pipeline.seal import asset_key, seal_rows
from pipeline.workspace import Workspace
from provenance import ManifestSpec, sign_file
from provenance.fingerprint import TextPrints
from provenance.ledger import AssetRecord, file_stat

__all__ = ["Publication", "publish"]


@dataclass(frozen=True)
class Publication:
    """Who a variant is in the ledger and the soft bindings that find its manifest again."""
    asset_id: str
    variant_key: str
    run_id: str
    sku: str
    locale: str
    aspect: str
    base_clip_key: str
    output_path: Path
    watermark_payload: int
    fingerprints: tuple[int, ...]
    text_prints: TextPrints | None = None     # the text regions' hashes (tell locale siblings apart)

    def to_record(self) -> dict[str, Any]:
        """JSON form kept in a held variant's report until a person approves it."""
        d = asdict(self)
        d["output_path"] = str(self.output_path)
        d["watermark_payload"] = f"{self.watermark_payload:016x}"
        d["fingerprints"] = [f"{h:016x}" for h in self.fingerprints]
        d["text_prints"] = None if self.text_prints is None else self.text_prints.to_json()
        return d

    @classmethod
    def from_record(cls, d: dict[str, Any]) -> Publication:
        # A variant held before text prints existed has no "text_prints": it is published without them.
        text = d.get("text_prints")
        return cls(**{**d, "output_path": Path(d["output_path"]), "watermark_payload": int(d["watermark_payload"], 16),
                      "fingerprints": tuple(int(h, 16) for h in d["fingerprints"]),
                      "text_prints": None if text is None else TextPrints.from_json(text)})


def publish(ws: Workspace, staged: Path, manifest: ManifestSpec, pub: Publication, *,
            approved_by: str | None = None, times: dict[str, float] | None = None) -> AssetRecord:
    """Sign `staged` into the output path, record it, and journal the publication.

    approved_by: the person whose approval released it, or None for an unattended render.
    times: if given, the seconds of signing ("sign") and recording ("record") are added to it."""
    times = {} if times is None else times
    # 1. Sign: the hard binding covers these final bytes (SigningError: nothing is written).
    t0 = time.perf_counter()
    pub.output_path.parent.mkdir(parents=True, exist_ok=True)
    signed = sign_file(staged, pub.output_path, manifest, ws.credentials)
    times["sign"] = times.get("sign", 0.0) + time.perf_counter() - t0
    t0 = time.perf_counter()
    # 2. The asset, a copy of its manifest, and its soft bindings (watermark payload, fingerprints).
    # The size and mtime beside the hash: a later plan re-hashes the file only when they changed.
    size, mtime_ns = file_stat(pub.output_path)
    record = AssetRecord(asset_id=pub.asset_id, variant_key=pub.variant_key, run_id=pub.run_id, sku=pub.sku,
                         locale=pub.locale, aspect=pub.aspect, output_path=pub.output_path,
                         sha256=sha256_file(pub.output_path), manifest_label=signed.label,
                         base_clip_key=pub.base_clip_key, created_at=datetime.now(timezone.utc),
                         output_dir=output_folder(pub.output_path),   # the catalog is the run's
                         size=size, mtime_ns=mtime_ns)
    ws.ledger.record_asset(record, signed.label, signed.manifest_json)
    ws.soft_bindings.record(pub.asset_id, pub.watermark_payload, pub.fingerprints, text=pub.text_prints)
    # 3. The journal: one event shape for every publication, then the seal of the rows just written
    #    (what a writer to the database without the signing key cannot forge; see pipeline.seal).
    record_publication(ws.journal, variant_key=pub.variant_key, asset_id=pub.asset_id, output_sha256=record.sha256,
                       output_path=pub.output_path, approved_by=approved_by)
    seal_rows(ws.journal, ws.ledger.engine, [("asset", asset_key(pub.asset_id, record.folder)), ("soft_binding", pub.asset_id)])
    # 4. A blocked report of the same asset (an earlier render, before the cause was fixed) is history now.
    supersede_blocked(ws.quarantine_dir, pub.asset_id)
    times["record"] = times.get("record", 0.0) + time.perf_counter() - t0
    return record

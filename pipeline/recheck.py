"""Continuous compliance: re-assess every published asset against today's registries and rules.

Nothing is re-rendered. For each active asset its base clip (from the clip cache; else the published
file) is decoded once more for faces and protected works (compliance.assess, against the registries as they are now: watch list, consents with
their expiry and scope, protected works), and the gate decides again for the asset's recorded rule
profile, market, language and content facts on the recheck date. An asset the gate would now block, or
that lacks a label or metadata item a rule now in force requires, is withdrawn: its ledger status
becomes "withdrawn" and a system "withdrawal" event with the reasons goes into the journal.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from compliance import assess_base_clip, decide
from compliance.decide import COMPLIANCE_LABEL
from compliance.journal import JournalEvent
from foundation.frames import duration_s, probe
from foundation.primitives import pipeline_version
from foundation.records import BaseClip
from pipeline.workspace import Workspace
from provenance.reader import report_from_json

__all__ = ["Withdrawal", "recheck", "report_json"]


@dataclass(frozen=True)
class Withdrawal:
    asset_id: str
    path: Path
    reasons: tuple[str, ...]


def recheck(ws: Workspace, *, as_of: date | None = None) -> tuple[int, list[Withdrawal]]:
    """(assets rechecked, those withdrawn with why). as_of: the date whose consents and rules count."""
    day = as_of or date.today()
    checked, withdrawn = 0, []
    for asset in ws.ledger.active_assets():
        text = ws.ledger.manifest_json(asset.asset_id)
        record = report_from_json(text).assertion(COMPLIANCE_LABEL) if text else None
        if record is None or not asset.output_path.is_file():
            continue   # not gated by this Tessera, or its file is gone: nothing to re-assess
        checked += 1
        reasons = _reasons(ws, asset, record, day)
        if reasons:
            ws.ledger.withdraw(asset.asset_id)
            ws.journal.append(JournalEvent(asset.variant_key, "tessera recheck", "system", "withdrawal",
                                           asset_id=asset.asset_id,
                                           detail={"reasons": list(reasons), "as_of": day.isoformat()}))
            withdrawn.append(Withdrawal(asset.asset_id, asset.output_path, reasons))
    return checked, withdrawn


def _reasons(ws: Workspace, asset, record: dict, day: date) -> tuple[str, ...]:
    # what the gate assessed: the base clip (copy and price boxes in the published file may hide a face),
    # from the clip cache; the published file when the cache no longer has it
    cached = ws.settings.clip_cache / f"{asset.base_clip_key}.mp4"
    source = cached if cached.is_file() else asset.output_path
    w, h, fps = probe(source)
    frames = round(duration_s(source) * fps)
    clip = BaseClip(path=source, key=asset.base_clip_key, width=w, height=h, fps=round(fps), frames=frames,
                    backend="recheck", digital_source_type="", params_json="{}")
    assessment = assess_base_clip(clip, registries=ws.registries, models=ws.face_models)
    facts = record.get("content") or {}
    language = record.get("language") or asset.locale.split("-")[0]
    decision = decide(assessment, region_profile=record["rule_profile"], region=record.get("region") or "-",
                      language=language, sku=asset.sku, as_of=day, asset_id=asset.asset_id,
                      ai_generated=bool(facts.get("ai_generated")), ai_modified=bool(facts.get("ai_modified")),
                      photoreal_objects_or_scenes=bool(facts.get("photoreal_objects_or_scenes")),
                      advertising=bool(facts.get("advertising")), provider="recheck", system="Tessera",
                      system_version=pipeline_version(), rules_dir=ws.settings.rules_dirs)
    reasons = [r for r in decision.reasons if decision.verdict == "block"]
    # a rule now in force asking for what the published file was not made with
    shown = {label.get("text") for label in record.get("visible_labels", [])}
    reasons += [f"rule {req.rule_id} now requires the label {req.text!r}, which the published file lacks"
                for req in decision.labels if req.text not in shown]
    written = set(record.get("mp4_metadata", []))
    reasons += [f"rule {m.rule_id} now requires the MP4 metadata item {m.key!r}, which the published file lacks"
                for m in decision.required_metadata if m.key not in written]
    return tuple(dict.fromkeys(reasons))


def report_json(checked: int, withdrawn: list[Withdrawal]) -> str:
    return json.dumps({"checked": checked, "withdrawn": [
        {"asset_id": w.asset_id, "path": str(w.path), "reasons": list(w.reasons)} for w in withdrawn]}, indent=2)

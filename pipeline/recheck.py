"""Continuous compliance: re-assess every published asset against today's registries and rules.

Nothing is re-rendered. For each active asset its base clip (from the clip cache; else the published
file) is decoded once more for faces and protected works (compliance.assess, against the registries as
they are now: watch list, consents with their expiry and scope, protected works; once per base clip, as
at render time: the variants of one product share it), and the gate decides again for the asset's recorded rule
profile, market, language and content facts on the recheck date. An asset the gate would now block, or
that lacks a label or metadata item a rule now in force requires, is withdrawn: its ledger status
becomes "withdrawn" and a system "withdrawal" event with the reasons goes into the journal.

What happens to a withdrawn file is the home's `withdrawal` setting (pipeline.home, `tessera withdrawal
set`): "quarantine" (the default) moves it atomically out of its output folder to
<home>/quarantine/withdrawn/<asset id>/<folder digest>/<file name>; "takedown-list" leaves it in place and
adds it to <home>/takedown.json for whoever unpublishes it. The journal event's `disposition` says which
was done and where the file is.

Order per asset, so that an interruption never leaves a withdrawn file looking published: the ledger row
first (the audit fails the file from then on), then the file, then the journal event.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path

from compliance import BaseAssessment, assess_base_clip, decide
from compliance.decide import COMPLIANCE_LABEL
from compliance.journal import JournalEvent
from foundation.frames import duration_s, probe
from foundation.primitives import move_atomic, pipeline_version, sha256_text, write_json_atomic
from foundation.records import BaseClip
from pipeline.workspace import Workspace
from provenance.reader import report_from_json

__all__ = ["RecheckError", "Withdrawal", "recheck", "report_json"]

QUARANTINED, LISTED = "quarantined", "listed for takedown"


class RecheckError(RuntimeError):
    """The takedown list cannot be read; nothing of the asset in hand was changed."""


@dataclass(frozen=True)
class Withdrawal:
    asset_id: str
    path: Path                      # where the asset was published
    reasons: tuple[str, ...]
    disposition: str = QUARANTINED  # QUARANTINED or LISTED
    moved_to: Path | None = None    # QUARANTINED: where the file is now

    def to_dict(self) -> dict:
        return {"asset_id": self.asset_id, "path": str(self.path), "reasons": list(self.reasons),
                "disposition": self.disposition, "moved_to": str(self.moved_to) if self.moved_to else None}


def recheck(ws: Workspace, *, as_of: date | None = None, catalog: str | None = None,
            output_dir: Path | None = None) -> tuple[int, list[Withdrawal]]:
    """(assets rechecked, those withdrawn with why). as_of: the date whose consents and rules count;
    catalog / output_dir: only the assets of that catalog identity / output folder (the nightly run's)."""
    day = as_of or date.today()
    checked, withdrawn = 0, []
    assessed: dict[Path, BaseAssessment] = {}   # per base clip: its variants (locales x aspects) share it
    for asset in ws.ledger.active_assets(catalog=catalog, output_dir=output_dir):
        text = ws.ledger.manifest_json(asset.asset_id, asset.folder)
        record = report_from_json(text).assertion(COMPLIANCE_LABEL) if text else None
        if record is None or not asset.output_path.is_file():
            continue   # not gated by this Tessera, or its file is gone: nothing to re-assess
        checked += 1
        reasons = _reasons(ws, asset, record, day, assessed)
        if reasons:
            withdrawn.append(_withdraw(ws, asset, reasons, day))
    return checked, withdrawn


def _withdraw(ws: Workspace, asset, reasons: tuple[str, ...], day: date) -> Withdrawal:
    listing = ws.settings.withdrawal == "takedown-list"
    entries = _takedown_entries(ws.settings.takedown_list) if listing else []   # unreadable: nothing changed yet
    # 1. The ledger row: from here on the audit fails the file, wherever it is.
    ws.ledger.withdraw(asset.asset_id, asset.folder)
    # 2. The file, as the home is configured.
    if listing:
        entries = [e for e in entries if not (isinstance(e, dict) and e.get("path") == str(asset.output_path))]
        entries.append({"asset_id": asset.asset_id, "path": str(asset.output_path), "output_dir": str(asset.folder),
                        "reasons": list(reasons), "as_of": day.isoformat(),
                        "withdrawn_at": datetime.now(timezone.utc).isoformat()})
        write_json_atomic(ws.settings.takedown_list, entries)
        done = Withdrawal(asset.asset_id, asset.output_path, reasons, LISTED)
        where = {"takedown_list": str(ws.settings.takedown_list)}
    else:
        # one folder per asset and output folder: an asset published in two folders has two files
        dest = (ws.settings.withdrawn_dir / asset.asset_id / sha256_text(str(asset.folder))[:12]
                / asset.output_path.name)
        dest.parent.mkdir(parents=True, exist_ok=True)
        move_atomic(asset.output_path, dest)
        done = Withdrawal(asset.asset_id, asset.output_path, reasons, QUARANTINED, dest)
        where = {"moved_to": str(dest)}
    # 3. The journal: why, as of when, and what was done with the file.
    ws.journal.append(JournalEvent(asset.variant_key, "tessera recheck", "system", "withdrawal",
                                   asset_id=asset.asset_id,
                                   detail={"reasons": list(reasons), "as_of": day.isoformat(),
                                           "disposition": done.disposition, "path": str(asset.output_path),
                                           **where}))
    return done


def _takedown_entries(path: Path) -> list:
    """The takedown list so far (a JSON array of {asset_id, path, output_dir, reasons, as_of, withdrawn_at})."""
    try:
        entries = json.loads(path.read_text()) if path.exists() else []
    except (OSError, ValueError) as e:
        raise RecheckError(f"{path}: not a readable takedown list ({e})") from None
    if not isinstance(entries, list):
        raise RecheckError(f"{path}: expected a JSON array of takedown entries")
    return entries


def _reasons(ws: Workspace, asset, record: dict, day: date, assessed: dict[Path, BaseAssessment]) -> tuple[str, ...]:
    # what the gate assessed: the base clip (copy and price boxes in the published file may hide a face),
    # from the clip cache; the published file when the cache no longer has it
    cached = ws.settings.clip_cache / f"{asset.base_clip_key}.mp4"
    source = cached if cached.is_file() else asset.output_path
    if source not in assessed:
        w, h, fps = probe(source)
        frames = round(duration_s(source) * fps)
        clip = BaseClip(path=source, key=asset.base_clip_key, width=w, height=h, fps=round(fps), frames=frames,
                        backend="recheck", digital_source_type="", params_json="{}")
        assessed[source] = assess_base_clip(clip, registries=ws.registries, models=ws.face_models)
    assessment = assessed[source]
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
    return json.dumps({"checked": checked, "withdrawn": [w.to_dict() for w in withdrawn]}, indent=2,
                      ensure_ascii=False)

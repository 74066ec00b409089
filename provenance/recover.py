"""Recover the credentials of a copy that lost them: watermark payload and fingerprints are the keys.

Used by the audit when a video has no valid manifest of its own. Both keys are looked up in
the ledger; if they agree the original asset, its stored manifest and what changed are
reported; if they disagree that is reported, and nothing is claimed. A soft-binding or asset
row the caller cannot verify (`distrust(asset_id)` gives the reason: altered, unsealed) is
never used: the key that led to it is ignored, and the problem says so.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from foundation.frames import ClipError, duration_s, probe
from provenance.fingerprint import FingerprintIndex, fingerprint_file
from provenance.ledger import Ledger
from provenance.reader import report_from_json
from provenance.soft_binding import PER_SECOND, SoftBindingStore
from provenance.spec import C2paReport
from provenance.watermark import detect_file

MAX_DISTANCE = 10        # bits of 64: pHash distance under which two frames match
MIN_VOTE_SHARE = 0.3     # share of the copy's sampled frames that must match one asset


@dataclass(frozen=True)
class Recovery:
    watermark: dict                         # found, asset_id, confidence
    fingerprint_match: dict | None          # asset_id, distance, votes, frames
    recovered: bool
    asset_id: str | None = None
    signer: str | None = None
    digital_source_type: str | None = None
    changes: tuple[str, ...] = ()
    problems: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["changes"], d["problems"] = list(self.changes), list(self.problems)
        return d


Distrust = Callable[[str], str | None]     # asset id -> why its ledger rows must not be used, or None


def recover(path: Path, *, key: bytes | None, ledger: Ledger, store: SoftBindingStore,
            index: FingerprintIndex, distrust: Distrust | None = None) -> Recovery:
    path = Path(path)
    problems: list[str] = []
    doubt = distrust or (lambda _asset_id: None)
    # 1. The watermark names an asset through its payload (no key: this home never marked anything).
    wm = detect_file(path, key=key) if key else None
    wm_asset = store.asset_for_payload(wm.payload) if wm and wm.found else None
    if wm and wm.found and wm_asset is None:
        problems.append(f"watermark payload {wm.payload:016x} is not in the ledger")
    if wm_asset is not None and (why := doubt(wm_asset)):
        problems.append(f"watermark payload {wm.payload:016x} leads to {wm_asset}, whose ledger rows do not "
                        f"verify: ignored ({why})")
        wm_asset = None
    watermark = {"found": bool(wm and wm.found), "asset_id": wm_asset, "confidence": round(wm.confidence, 3) if wm else 0.0}

    # 2. The fingerprints vote for the asset whose frames the copy's frames match (verified rows only).
    prints = fingerprint_file(path, per_second=PER_SECOND)
    enough = max(2, MIN_VOTE_SHARE * len(prints))
    best = None
    for match in index.query(prints, max_distance=MAX_DISTANCE) if prints else []:
        if match.votes < enough:
            break
        if why := doubt(match.asset_id):
            problems.append(f"fingerprints match {match.asset_id}, whose ledger rows do not verify: ignored ({why})")
            continue
        best = match
        break
    fp = ({"asset_id": best.asset_id, "distance": int(best.best_distance), "votes": int(best.votes),
           "frames": len(prints)} if best else None)

    # 3. Both keys must agree when both speak; either one alone is enough to recover.
    candidates = {a for a in (wm_asset, best.asset_id if best else None) if a}
    if len(candidates) > 1:
        problems.append(f"watermark says {wm_asset}, fingerprints say {best.asset_id}: keys disagree, nothing recovered")
        return Recovery(watermark, fp, False, problems=tuple(problems))
    if not candidates:
        return Recovery(watermark, fp, False, problems=tuple(problems))
    asset_id = candidates.pop()
    if wm_asset is None:
        problems.append("recovered by fingerprints only; no watermark found")
    record, manifest_json = ledger.asset(asset_id), ledger.manifest_json(asset_id)
    if record is None or manifest_json is None:
        problems.append(f"{asset_id}: no stored manifest in the ledger")
        return Recovery(watermark, fp, False, asset_id=asset_id, problems=tuple(problems))
    original = report_from_json(manifest_json)
    if original.active_label is None:   # a stored manifest with no active manifest vouches for nothing
        problems.append(f"{asset_id}: the stored manifest is unreadable: {original.error}")
        return Recovery(watermark, fp, False, asset_id=asset_id, problems=tuple(problems))
    return Recovery(watermark, fp, True, asset_id=asset_id, signer=original.signer,
                    digital_source_type=original.digital_source_type,
                    changes=_changes(path, original), problems=tuple(problems))


def recoverer(ledger: Ledger, key: bytes | None, distrust: Distrust | None = None):
    """recover() bound to one ledger, its fingerprint index built on first need (one per audit)."""
    store = SoftBindingStore(ledger.engine)
    index: list[FingerprintIndex] = []

    def run(path: Path) -> Recovery:
        if not index:
            index.append(store.fingerprint_index())
        return recover(path, key=key, ledger=ledger, store=store, index=index[0], distrust=distrust)
    return run


def _changes(path: Path, original: C2paReport) -> tuple[str, ...]:
    """What differs from the original, as far as the stored manifest tells its size, rate and length."""
    size = fps = length = None
    for action in original.actions:
        # The variant's frame size is {"width", "height"}; a bare number (a base clip's short side) or the
        # base64 text c2pa made of an older manifest's [w, h] array tells no frame size: nothing is claimed.
        value = action.parameters.get("size")
        if isinstance(value, dict) and isinstance(value.get("width"), int) and isinstance(value.get("height"), int):
            size = (value["width"], value["height"])
        fps = action.parameters.get("fps", fps)
    binding = original.assertion("c2pa.soft-binding")
    if binding is not None:
        length = binding["blocks"][0]["scope"]["timespan"]["end"] / 1000
    changes = ["re-encoded (bytes differ from the signed original)"]
    try:
        w, h, rate = probe(path)
        seconds = duration_s(path)
    except ClipError as exc:
        return tuple(changes + [f"unreadable: {exc}"])
    if size and (w, h) != size:
        changes.append(f"resized {size[0]}x{size[1]} -> {w}x{h}")
    if fps and rate and abs(rate - fps) > 0.5:
        changes.append(f"frame rate {fps} -> {rate:g} fps")
    if length and seconds < length - 0.5:
        changes.append(f"shortened {length:.1f} s -> {seconds:.1f} s")
    return tuple(changes)

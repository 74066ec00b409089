"""Recover the credentials of a copy that lost them: the watermark payload names the asset; the
fingerprints say which assets the copy looks like.

Used by the audit when a video has no valid manifest of its own. Identity comes only from the
watermark: a payload that decodes and names an asset in the ledger, with the fingerprints agreeing
where they match anything (the asset is among the look-alikes that also pass the text check), is
recovered, with its stored manifest and what changed. A fingerprint-only match is not proof of
origin (resellers share supplier photos; a near-duplicate is not our asset): it is reported as
`similar_to` candidates with their distances, never as recovered credentials or with our signer.
A soft-binding or asset row the caller cannot verify (`distrust(asset_id)` gives the reason:
altered, unsealed) is never used: the key that led to it is ignored, and the problem says so.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from foundation.frames import ClipError, duration_s, probe
from provenance.fingerprint import FingerprintIndex, fingerprint_file, text_distance, text_prints_file
from provenance.ledger import Ledger
from provenance.reader import report_from_json
from provenance.soft_binding import PER_SECOND, SoftBindingStore
from provenance.spec import C2paReport
from provenance.watermark import detect_file

MAX_DISTANCE = 10        # bits of 64: pHash distance under which two frames match
MIN_VOTE_SHARE = 0.3     # share of the copy's sampled frames that must match one asset
# Share of differing text-print bits under which a copy's text regions match an asset's: stripped copies
# of the 54 demo variants measured 0.002-0.061; 365 of 369 same-layout pairs of other assets are above it.
TEXT_MAX_DISTANCE = 0.18
MAX_CANDIDATES = 5       # look-alikes listed in similar_to
SIMILAR_NOTE = "similar content, not proof of origin"


@dataclass(frozen=True)
class Candidate:
    """An asset whose stored fingerprints the copy's frames match."""
    asset_id: str
    distance: int                  # smallest whole-frame pHash distance, bits of 64
    votes: int                     # copy frames that matched one of its frames
    frames: int                    # copy frames sampled
    text_distance: float | None    # share of differing text-print bits; None: no text prints stored

    @property
    def text_matches(self) -> bool:
        return self.text_distance is None or self.text_distance <= TEXT_MAX_DISTANCE

    def to_dict(self) -> dict:
        return {"asset_id": self.asset_id, "distance": self.distance, "votes": self.votes, "frames": self.frames,
                "text_distance": None if self.text_distance is None else round(self.text_distance, 3),
                "note": SIMILAR_NOTE}


@dataclass(frozen=True)
class Recovery:
    watermark: dict                         # found, asset_id, confidence
    fingerprint_match: dict | None          # the watermark's asset among the look-alikes (agreement), else None
    recovered: bool
    asset_id: str | None = None             # set only when recovered
    signer: str | None = None
    digital_source_type: str | None = None
    changes: tuple[str, ...] = ()
    problems: tuple[str, ...] = field(default_factory=tuple)
    similar_to: tuple[Candidate, ...] = ()  # look-alikes when nothing is recovered: candidates, not origin

    def to_dict(self) -> dict:
        d = asdict(self)
        d["changes"], d["problems"] = list(self.changes), list(self.problems)
        d["similar_to"] = [c.to_dict() for c in self.similar_to]
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

    # 2. The fingerprints give look-alike candidates, ranked by their text prints.
    candidates = []
    for c in look_alikes(path, store, index):
        if why := doubt(c.asset_id):
            problems.append(f"fingerprints match {c.asset_id}, whose ledger rows do not verify: ignored ({why})")
        else:
            candidates.append(c)
    matching = [c for c in candidates if c.text_matches]
    listed = tuple(candidates[:MAX_CANDIDATES])

    # 3. No payload naming an asset: look-alikes are listed, nothing is claimed.
    if wm_asset is None:
        if candidates:
            problems.append(f"{SIMILAR_NOTE}: " + ", ".join(_shown(c) for c in listed))
        return Recovery(watermark, None, False, problems=tuple(problems), similar_to=listed)
    # 4. The payload names an asset; where the fingerprints match anything, they must include it.
    agreeing = next((c for c in matching if c.asset_id == wm_asset), None)
    if matching and agreeing is None:
        problems.append(f"watermark says {wm_asset}, fingerprints say {matching[0].asset_id}: keys disagree, "
                        "nothing recovered")
        return Recovery(watermark, None, False, problems=tuple(problems), similar_to=listed)
    fp = None if agreeing is None else {**agreeing.to_dict(), "rank": matching.index(agreeing) + 1}
    if fp is not None:
        del fp["note"]
    record, manifest_json = ledger.asset(wm_asset), ledger.manifest_json(wm_asset)
    if record is None or manifest_json is None:
        problems.append(f"{wm_asset}: no stored manifest in the ledger")
        return Recovery(watermark, fp, False, problems=tuple(problems))
    original = report_from_json(manifest_json)
    if original.active_label is None:   # a stored manifest with no active manifest vouches for nothing
        problems.append(f"{wm_asset}: the stored manifest is unreadable: {original.error}")
        return Recovery(watermark, fp, False, problems=tuple(problems))
    return Recovery(watermark, fp, True, asset_id=wm_asset, signer=original.signer,
                    digital_source_type=original.digital_source_type,
                    changes=_changes(path, original), problems=tuple(problems))


def look_alikes(path: Path, store: SoftBindingStore, index: FingerprintIndex) -> list[Candidate]:
    """Assets whose whole-frame fingerprints the copy matches (the vote rule), best first: those whose
    text regions match too, by text distance, then the rest (an asset without stored text prints
    ranks as if at the text threshold)."""
    prints = fingerprint_file(path, per_second=PER_SECOND)
    matches = index.query(prints, max_distance=MAX_DISTANCE) if prints else []
    passing = [m for m in matches if m.votes >= max(2, MIN_VOTE_SHARE * len(prints))]
    if not passing:
        return []
    stored = store.text_prints([m.asset_id for m in passing])
    copy_text = text_prints_file(path, [t.regions for t in stored.values()], per_second=PER_SECOND)
    candidates = [Candidate(m.asset_id, int(m.best_distance), int(m.votes), len(prints),
                            text_distance(copy_text[stored[m.asset_id].regions], stored[m.asset_id].hashes)
                            if m.asset_id in stored else None)
                  for m in passing]
    rank = {c.asset_id: k for k, c in enumerate(candidates)}   # the index's order: votes, then distance
    candidates.sort(key=lambda c: (not c.text_matches,
                                   TEXT_MAX_DISTANCE if c.text_distance is None else c.text_distance,
                                   rank[c.asset_id]))
    return candidates


def _shown(c: Candidate) -> str:
    text = "" if c.text_distance is None else f", text {c.text_distance:.2f}"
    return f"{c.asset_id} ({c.distance} bits, {c.votes}/{c.frames} frames{text})"


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

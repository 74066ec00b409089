"""A product's takes (a candidate set) and a person's decisions on them: pick one, or turn one down.

The render writes each set under the home's candidates/ folder (takes.json, the contact sheet and a
web preview of each take: generation.contact_sheet); the journal holds the decisions. Every door
(`tessera review takes|show|pick|reject-take`, the browser workspace) reads and decides through here.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compliance.record import Pick, human_pick, record_human_pick, record_human_rejection
from foundation.frames import ClipError
from generation.contact_sheet import PREVIEWS
from generation.previews import Preview, web_preview
from pipeline.workspace import Workspace

__all__ = ["TakeError", "TakeSet", "candidate_sets", "pick_take", "reject_take", "take_preview", "take_set"]

_SET_ID = re.compile(r"[0-9A-Za-z_-]{1,128}")


class TakeError(ValueError):
    """An unknown candidate set or take, or a decision the journal refuses (no name, no reason)."""


@dataclass(frozen=True)
class TakeSet:
    set_id: str
    sku: str
    folder: Path
    takes: tuple[dict[str, Any], ...]    # as takes.json lists them: take, clip_key, backend, params, preview
    picked: Pick | None                  # the latest pick a person made, with its time

    @property
    def sheet(self) -> Path:
        return self.folder / "takes.png"

    def take(self, candidate: int) -> dict[str, Any]:
        if not 0 <= candidate < len(self.takes):
            raise TakeError(f"candidate {candidate} does not exist in set {self.set_id} (0..{len(self.takes) - 1})")
        return self.takes[candidate]


def candidate_sets(ws: Workspace) -> list[TakeSet]:
    """Every candidate set in the home, by set id."""
    return [take_set(ws, listing.parent.name) for listing in sorted(ws.candidates_dir.glob("*/takes.json"))]


def take_set(ws: Workspace, set_id: str) -> TakeSet:
    """One candidate set (TakeError naming an unknown one)."""
    folder = ws.candidates_dir / set_id
    if not _SET_ID.fullmatch(set_id) or not (folder / "takes.json").is_file():
        raise TakeError(f"unknown candidate set {set_id!r} (see `tessera review takes`)")
    data = json.loads((folder / "takes.json").read_text(encoding="utf-8"))
    return TakeSet(set_id, data["sku"], folder, tuple(data["takes"]), human_pick(ws.journal, set_id))


def pick_take(ws: Workspace, set_id: str, candidate: int, *, by: str, reason: str = "") -> TakeSet:
    """A person picks one take; the others are recorded as rejected. The next render uses it."""
    takes = take_set(ws, set_id)
    takes.take(candidate)
    try:
        record_human_pick(ws.journal, set_id, takes=len(takes.takes), actor=by, candidate=candidate, reason=reason)
    except ValueError as exc:
        raise TakeError(str(exc)) from None
    return take_set(ws, set_id)


def reject_take(ws: Workspace, set_id: str, candidate: int, *, by: str, reason: str) -> TakeSet:
    """A person turns one take down, with a reason (not the picked one: picking another replaces it)."""
    takes = take_set(ws, set_id)
    takes.take(candidate)
    try:
        record_human_rejection(ws.journal, set_id, takes=len(takes.takes), actor=by, candidate=candidate,
                               reason=reason)
    except ValueError as exc:
        raise TakeError(str(exc)) from None
    return take_set(ws, set_id)


def take_preview(ws: Workspace, takes: TakeSet, candidate: int, *, full_size: bool = False) -> Preview:
    """The take's web preview (small, or at the clip's own size to compare takes), encoded once from the
    cached clip when the render did not make it (full size, or a set made before previews existed).
    ClipError: the clip is no longer in the cache."""
    take = takes.take(candidate)
    key = str(take["clip_key"])
    if not re.fullmatch(r"[0-9a-f]{16,128}", key):
        raise ClipError(f"{takes.set_id} take {candidate}: clip key {key!r} is not a content key")
    return web_preview(ws.settings.clip_cache / f"{key}.mp4", takes.folder / PREVIEWS, key, full_size=full_size)

"""What the render tells the authorship journal: takes, the pick, the copy, the publication.

Each event says who decided: the catalog's human-written copy, a reviewer's pick (a person), or
Tessera's automatic pick in an unattended run (a system, never reported as a human selection).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from compliance.journal import Journal, JournalEvent
from foundation.primitives import canonical_json

SYSTEM = "tessera"
AUTO_PICKER = "tessera-auto-pick"


@dataclass(frozen=True)
class Take:
    """One candidate base clip and what is needed to judge and replay it."""
    index: int
    clip_key: str
    model: str                   # "tessera-motion" or the diffusion model id
    model_version: str
    parameters: dict             # enough to re-render it (replay check)
    frames: tuple[str, ...]      # sha256 of each decoded frame


@dataclass(frozen=True)
class Pick:
    candidate: int
    actor: str
    actor_kind: str              # "human" or "system"
    reason: str = ""
    source_seq: int | None = None   # the reviewer's original event, when restated per variant


def human_pick(journal: Journal, set_id: str) -> Pick | None:
    """The latest pick a person recorded for this candidate set (`tessera review pick`), if any."""
    picks = [e for e in journal.events(variant_key=f"set:{set_id}")
             if e.action == "candidate_picked" and e.actor_kind == "human"]
    if not picks:
        return None
    e = picks[-1]
    return Pick(int(e.detail["candidate"]), e.actor, "human", e.detail.get("reason", ""), e.seq)


def record_human_pick(journal: Journal, set_id: str, *, takes: int, actor: str, candidate: int,
                      reason: str = "") -> None:
    """A reviewer's pick, recorded once for the set; each variant restates it when rendered."""
    if not actor.strip():
        raise ValueError("reviewer name is empty")
    if not 0 <= candidate < takes:
        raise ValueError(f"candidate {candidate} does not exist in set {set_id} (0..{takes - 1})")
    key = f"set:{set_id}"
    journal.append(JournalEvent(key, actor, "human", "candidate_picked",
                                detail={"candidate": candidate, "of": takes, "reason": reason, "candidate_set": set_id}))
    for other in range(takes):
        if other != candidate:
            journal.append(JournalEvent(key, actor, "human", "candidate_rejected",
                                        detail={"candidate": other, "candidate_set": set_id}))


def record_human_edit(journal: Journal, *, sku: str, locale: str, field: str, before: str, after: str,
                      actor: str, note: str = "") -> None:
    """A reviewer's edit of a copy field; each variant rendered with that text restates it."""
    if not actor.strip():
        raise ValueError("editor name is empty")
    journal.append(JournalEvent(f"copy:{sku}:{locale}", actor, "human", "edit_applied",
                                detail={"segment": f"copy:{field}", "before": before, "after": after, "note": note}))


def record_decisions(journal: Journal, *, variant_key: str, asset_id: str, takes: list[Take], pick: Pick,
                     copy: dict[str, str], copy_source: str, photo_sha256: str, sku: str, locale: str) -> None:
    """Every decision behind one variant, in the order it happened (before it is signed, so that the
    manifest's authorship assertion can name the journal head that covers them).

    Idempotent per variant key: a variant rendered again with the same inputs (a run killed while
    signing, a deleted output) finds its decisions recorded and adds none of them twice."""
    journal = _Once(journal, variant_key)
    # 1. The human-written copy from the catalog (its author is whoever the catalog row names).
    for segment, text in copy.items():
        journal.append(JournalEvent(variant_key, copy_source, "human", "copy_written", asset_id=asset_id,
                                    detail={"segment": f"copy:{segment}", "text": text}))
    # 1b. Edits a reviewer made to this copy, when this is the text they produced.
    for edit in journal.events(variant_key=f"copy:{sku}:{locale}"):
        field = edit.detail["segment"].removeprefix("copy:")
        if edit.action == "edit_applied" and copy.get(field) == edit.detail.get("after"):
            journal.append(JournalEvent(variant_key, edit.actor, "human", "edit_applied", asset_id=asset_id,
                                        detail={**edit.detail, "recorded_at_seq": edit.seq}))
    # 2. Each take, with the parameters and frame hashes that let it be replayed.
    for t in takes:
        journal.append(JournalEvent(
            variant_key, SYSTEM, "system", "generation_run", asset_id=asset_id,
            inputs={"photo": photo_sha256}, outputs={"frames": list(t.frames), "clip": t.clip_key},
            detail={"model": t.model, "model_version": t.model_version, "candidate": t.index,
                    "parameters": t.parameters}))
    # 3. The pick and the takes it left out, by whoever made it.
    detail = {"candidate": pick.candidate, "of": len(takes), "reason": pick.reason}
    if pick.source_seq is not None:
        detail["recorded_at_seq"] = pick.source_seq
    journal.append(JournalEvent(variant_key, pick.actor, pick.actor_kind, "candidate_picked", asset_id=asset_id,
                                outputs={"clip": takes[pick.candidate].clip_key}, detail=detail))
    for t in takes:
        if t.index != pick.candidate:
            journal.append(JournalEvent(variant_key, pick.actor, pick.actor_kind, "candidate_rejected",
                                        asset_id=asset_id, detail={"candidate": t.index}))


class _Once:
    """A journal that appends an event of one variant key only if the same event is not there yet."""

    def __init__(self, journal: Journal, variant_key: str) -> None:
        self.journal = journal
        self.seen = {self._identity(e.actor, e.actor_kind, e.action, e.inputs, e.outputs, e.detail)
                     for e in journal.events(variant_key=variant_key)}

    @staticmethod
    def _identity(actor, actor_kind, action, inputs, outputs, detail) -> str:
        return canonical_json([actor, actor_kind, action, dict(inputs), dict(outputs), dict(detail)])

    def events(self, **kwargs):
        return self.journal.events(**kwargs)

    def append(self, event: JournalEvent) -> None:
        identity = self._identity(event.actor, event.actor_kind, event.action, event.inputs, event.outputs,
                                  event.detail)
        if identity not in self.seen:
            self.journal.append(event)
            self.seen.add(identity)


def record_publication(journal: Journal, *, variant_key: str, asset_id: str, output_sha256: str,
                       output_path: Path, approved_by: str | None) -> None:
    """The signed file went out: its sha256 and path, and the person who approved it (None when the
    run published it unattended). One shape for every publication, whichever door published it."""
    journal.append(JournalEvent(variant_key, SYSTEM, "system", "publication", asset_id=asset_id,
                                outputs={"file": output_sha256},
                                detail={"path": str(output_path), "approved_by": approved_by}))

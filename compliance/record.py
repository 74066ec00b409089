"""What the render tells the authorship journal: inputs, takes, the pick, the copy, the publication.

Each event says who decided, as the record shows it: the copy's author as the catalog's copy_author
names it (a person or team is human, a machine-translation engine or language model a system, a row
that names nobody unknown), a reviewer's pick or edit (a person, at the time they made it), or Tessera's
automatic pick in an unattended run (a system, never reported as a human selection).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from compliance.journal import Journal, JournalEvent, RecordedEvent
from foundation.primitives import Author, canonical_json

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
    at: datetime | None = None      # when the pick was made (None: now, an automatic pick)
    rejected_seqs: Mapping[int, int] | None = None   # candidate -> the reviewer's original rejection event


@dataclass(frozen=True)
class InputRecord:
    """An input file of the variant and its own provenance as read before rendering (provenance.inputs),
    with what the catalog says of its owner and licence."""
    role: str                    # "product photo" or "brand logo"
    file: str                    # file name (never a local path)
    sha256: str
    provenance: Mapping[str, Any]    # InputProvenance.to_dict()
    owner: str
    licence: str
    catalog: str                 # where the catalog names it: "products.csv row 1", "brand.json"
    in_frames: bool              # its pixels are in the asset
    use: str = ""                # how the render used it, in words


def human_pick(journal: Journal, set_id: str) -> Pick | None:
    """The latest pick a person recorded for this candidate set (`tessera review pick`), if any, with its
    time and the rejections recorded with it."""
    events = journal.events(variant_key=f"set:{set_id}")
    picks = [e for e in events if e.action == "candidate_picked" and e.actor_kind == "human"]
    if not picks:
        return None
    e = picks[-1]
    rejected = {int(r.detail["candidate"]): r.seq for r in events
                if r.action == "candidate_rejected" and r.seq > e.seq and r.actor == e.actor}
    return Pick(int(e.detail["candidate"]), e.actor, "human", e.detail.get("reason", ""), e.seq, e.at, rejected)


def record_human_pick(journal: Journal, set_id: str, *, takes: int, actor: str, candidate: int,
                      reason: str = "") -> None:
    """A reviewer's pick, recorded once for the set; each variant restates it when rendered."""
    if not actor.strip():
        raise ValueError("reviewer name is empty")
    if not 0 <= candidate < takes:
        raise ValueError(f"candidate {candidate} does not exist in set {set_id} (0..{takes - 1})")
    key = f"set:{set_id}"
    picked = journal.append(JournalEvent(key, actor, "human", "candidate_picked", detail={
        "candidate": candidate, "of": takes, "reason": reason, "candidate_set": set_id}))
    # The rejections are the same decision: they carry the pick's time.
    for other in range(takes):
        if other != candidate:
            journal.append(JournalEvent(key, actor, "human", "candidate_rejected", at=picked.at,
                                        detail={"candidate": other, "candidate_set": set_id}))


def record_human_rejection(journal: Journal, set_id: str, *, takes: int, actor: str, candidate: int,
                           reason: str) -> None:
    """A reviewer turns one take down, with a reason, without picking another (yet). The take that is
    currently picked cannot be rejected: a pick of another take is what replaces it."""
    if not actor.strip():
        raise ValueError("reviewer name is empty")
    if not reason.strip():
        raise ValueError("a rejection needs a reason")
    if not 0 <= candidate < takes:
        raise ValueError(f"candidate {candidate} does not exist in set {set_id} (0..{takes - 1})")
    picked = human_pick(journal, set_id)
    if picked is not None and picked.candidate == candidate:
        raise ValueError(f"take {candidate} of {set_id} is the picked take (by {picked.actor}): pick another "
                         f"take instead of rejecting it")
    journal.append(JournalEvent(f"set:{set_id}", actor, "human", "candidate_rejected", detail={
        "candidate": candidate, "candidate_set": set_id, "reason": reason.strip()}))


def record_human_edit(journal: Journal, *, sku: str, locale: str, field: str, before: str, after: str,
                      actor: str, note: str = "") -> None:
    """A reviewer's edit of a copy field; each variant rendered with that text restates it."""
    if not actor.strip():
        raise ValueError("editor name is empty")
    journal.append(JournalEvent(f"copy:{sku}:{locale}", actor, "human", "edit_applied",
                                detail={"segment": f"copy:{field}", "before": before, "after": after, "note": note}))


def record_decisions(journal: Journal, *, variant_key: str, asset_id: str, takes: list[Take], pick: Pick,
                     copy: dict[str, str], copy_author: Author, copy_row: int, photo_sha256: str | None, sku: str,
                     locale: str, footage_source_type: str | None, inputs: tuple[InputRecord, ...] = (),
                     brand: Mapping[str, Any] | None = None) -> None:
    """Every decision behind one variant, in the order it happened (before it is signed, so that the
    manifest's authorship assertion can name the journal head that covers them).

    footage_source_type: the variant's IPTC digital source type as its manifest states it (None: unknown),
    recorded on each take so that the authorship report classifies the footage from the same source.
    brand: the brand kit as the catalog records it (name, colours, font, author), with the aspect ratio.

    Idempotent per variant key: a variant rendered again with the same inputs (a run killed while
    signing, a deleted output) finds its decisions recorded and adds none of them twice."""
    journal = _Once(journal, variant_key)
    # 1. The inputs the catalog brought, with their own provenance, owner and licence.
    for item in inputs:
        journal.append(JournalEvent(
            variant_key, SYSTEM, "system", "input_recorded", asset_id=asset_id, outputs={"file": item.sha256},
            detail={"role": item.role, "file": item.file, "origin": item.provenance.get("origin"),
                    "provenance": dict(item.provenance), "owner": item.owner, "licence": item.licence,
                    "catalog": item.catalog, "in_frames": item.in_frames, "use": item.use}))
    # 2. The brand kit and the layout's aspect ratio, as the catalog records them, by whoever brand.json names.
    if brand is not None:
        author = Author.parse(str(brand.get("author", "unknown")))
        journal.append(JournalEvent(variant_key, _author_actor(author, "brand kit (catalog brand.json)"),
                                    author.actor_kind, "brand_kit_applied", asset_id=asset_id,
                                    detail={**dict(brand), "author": str(author), "catalog": "brand.json"}))
    # 3. The copy as its catalog row's author wrote it; where a reviewer's edits produced the text, the text
    #    before the first of them, then each edit restated at the time it was made.
    edits = [e for e in journal.events(variant_key=f"copy:{sku}:{locale}") if e.action == "edit_applied"]
    for segment, text in copy.items():
        chain = _edit_chain(edits, segment, text)
        written = str(chain[0].detail.get("before", text)) if chain else text
        detail: dict[str, Any] = {"segment": f"copy:{segment}", "text": written, "origin": str(copy_author),
                                  "catalog": f"copy row {copy_row}, {locale}"}
        if copy_author.kind in ("mt", "llm"):
            detail["model"] = copy_author.name
        journal.append(JournalEvent(variant_key, _author_actor(copy_author, f"copy author (catalog copy row "
                                                                            f"{copy_row}, {locale})"),
                                    copy_author.actor_kind, "copy_written", asset_id=asset_id, detail=detail))
        for edit in chain:
            journal.append(JournalEvent(variant_key, edit.actor, edit.actor_kind, "edit_applied", asset_id=asset_id,
                                        at=edit.at, detail={**edit.detail, "recorded_at_seq": edit.seq}))
    # 4. Each take, with the parameters and frame hashes that let it be replayed.
    for t in takes:
        journal.append(JournalEvent(
            variant_key, SYSTEM, "system", "generation_run", asset_id=asset_id,
            inputs={"photo": photo_sha256} if photo_sha256 else {},
            outputs={"frames": list(t.frames), "clip": t.clip_key},
            detail={"model": t.model, "model_version": t.model_version, "candidate": t.index,
                    "parameters": t.parameters, "digital_source_type": footage_source_type}))
    # 5. The pick and the takes it left out, by whoever made it, at the time it was made.
    detail = {"candidate": pick.candidate, "of": len(takes), "reason": pick.reason}
    if pick.source_seq is not None:
        detail["recorded_at_seq"] = pick.source_seq
    journal.append(JournalEvent(variant_key, pick.actor, pick.actor_kind, "candidate_picked", asset_id=asset_id,
                                outputs={"clip": takes[pick.candidate].clip_key}, detail=detail, at=pick.at))
    for t in takes:
        if t.index != pick.candidate:
            rejected: dict[str, Any] = {"candidate": t.index}
            if pick.rejected_seqs and t.index in pick.rejected_seqs:
                rejected["recorded_at_seq"] = pick.rejected_seqs[t.index]
            journal.append(JournalEvent(variant_key, pick.actor, pick.actor_kind, "candidate_rejected",
                                        asset_id=asset_id, detail=rejected, at=pick.at))


def _author_actor(author: Author, unknown: str) -> str:
    """The journal's actor for an author: the person, team, engine or model by name; `unknown` says which
    catalog record names nobody."""
    return author.name if author.kind != "unknown" else f"unknown {unknown}"


def _edit_chain(edits: list[RecordedEvent], segment: str, text: str) -> list[RecordedEvent]:
    """The edits of copy:<segment> that produced text, oldest first: the latest edit whose result is text,
    the latest before it whose result is what that one started from, and so on."""
    chain: list[RecordedEvent] = []
    current, before_seq = text, None
    while True:
        found = next((e for e in reversed(edits) if e.detail.get("segment") == f"copy:{segment}"
                      and e.detail.get("after") == current and (before_seq is None or e.seq < before_seq)), None)
        if found is None:
            return chain
        chain.insert(0, found)
        current, before_seq = str(found.detail.get("before", "")), found.seq


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

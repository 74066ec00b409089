"""Authorship from the journal alone: who made what, what the AI made, and the evidence.

Three readers, three framings:
- The US Copyright Office (Copyright and Artificial Intelligence, Part 2: Copyrightability,
  January 2025) asks applicants to disclose AI-generated material and exclude it from the
  claim, claiming only the human contribution; prompts alone do not make the user the author
  of the output, while human selection, arrangement and modification of it can be.
- Chinese courts (Beijing Internet Court, Li v. Liu, 2023) examined the process itself: the
  model and its version, the prompts and their revisions, the parameters, the selection among
  outputs and the edits. The report lists that chain in time order.
- C2PA readers get a compact assertion (`authorship_assertion`, label `com.tessera.authorship`)
  that commits to the journal head hash and to event hashes, without naming people.

What the events must carry (Journal checks the keys marked *):
| action | detail | outputs |
| --- | --- | --- |
| brief_written | text | |
| prompt_authored | prompt*, revision (1, 2, ...) | |
| parameters_set | parameters* (dict) | |
| generation_run | model*, model_version*, candidate*, parameters* (dict) | clip, frames (frame_hashes) |
| candidate_picked | candidate*, reason | |
| candidate_rejected | candidate*, reason | |
| copy_written | segment* (e.g. "copy:headline"), text*, origin ("person:..", "mt:..", ...), model (when a model wrote it) | |
| edit_applied | segment* ("footage" or "copy:..."), before, after, note, recorded_at_seq | |
| input_recorded | role*, file*, origin*, provenance, owner, licence, catalog, in_frames | file |
| brand_kit_applied | name, colours, font_family, author, aspect | |
| approval | note | |
| publication | where | |
| withdrawal | reasons* (why tessera recheck withdrew the asset), as_of | |

An event that restates a reviewer's decision for one variant carries `recorded_at_seq`, the seq of
the decision's own event; the report includes that event too and counts the decision once.

Classification of each segment of the asset (docs/compliance.md, "Who wrote the copy"):
- footage: from the digital source type its generation run records (the one the manifest states):
  an AI type is "ai_generated"; a camera move over a photo that is not AI-made is "third_party"
  (the photo's pixels, its owner's material); none recorded for a camera move: "unknown"; a run
  that records none from another backend: "ai_generated" (fail closed).
- copy written by a human actor (the catalog names a person or team) is "human"; by a system
  (machine translation, a language model) "ai_generated"; by an unknown actor (the catalog names
  nobody) "unknown", never human.
- a human `edit_applied` on an "ai_generated" segment makes it "ai_generated_modified_by_human",
  on an "unknown" one "unknown_modified_by_human"; system edits change nothing (they are listed
  as process evidence).
- a pick by a system actor (an unattended run) is never a human selection.
"""
from __future__ import annotations

import hashlib
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Callable, Mapping
from typing import Any, Literal

from compliance.journal import Journal, RecordedEvent
from foundation.frames import read_clip
from foundation.primitives import SourceType

__all__ = [
    "AUTHORSHIP_LABEL", "FOOTAGE", "ReplayResult", "Segment", "authorship_assertion", "authorship_report",
    "frame_hashes", "replay_check",
]

AUTHORSHIP_LABEL = "com.tessera.authorship"
FOOTAGE = "footage"
HUMAN, AI_GENERATED, AI_MODIFIED = "human", "ai_generated", "ai_generated_modified_by_human"
THIRD_PARTY, UNKNOWN, UNKNOWN_MODIFIED = "third_party", "unknown", "unknown_modified_by_human"
MOTION_MODEL = "tessera-motion"                   # the camera-move backend's name in generation_run
# How each copy origin kind (foundation.primitives.Author) reads in the report.
_WRITTEN_BY = {"person": "written by {} (person)", "team": "written by {} (team)",
               "mt": "machine-translated by {}", "llm": "written by the language model {}"}

USCO_NOTE = (
    "Per the US Copyright Office (Copyright and Artificial Intelligence, Part 2: Copyrightability, "
    "January 2025), AI-generated material must be disclosed and excluded from a copyright claim; only "
    "the human contribution (selection, arrangement, human-written text, human modifications) can be "
    "claimed. Prompts alone are not sufficient human authorship of the generated output."
)
THIRD_PARTY_NOTE = (
    "Material of others in the asset, with its owner and licence as the catalog records them and its "
    "provenance as read from the file itself (its C2PA manifest, else IPTC XMP, else the catalog): not "
    "the claimant's authorship, and not AI-generated unless its provenance says so."
)
UNKNOWN_NOTE = (
    "Material whose author the record does not show (the catalog names nobody): neither claimed as "
    "human authorship nor known to be AI-generated; establish who made it before claiming it."
)
PROCESS_NOTE = (
    "Process evidence in time order, covering what the Beijing Internet Court examined in Li v. Liu "
    "(2023): the model and its version, the prompts and their revisions, the parameters, the selection "
    "among outputs and the edits."
)


@dataclass(frozen=True)
class Segment:
    name: str                        # "footage" or "copy:<field>"
    classification: str              # "human", "ai_generated" or "ai_generated_modified_by_human"
    origin: str                      # who or what made it
    modified_by: tuple[str, ...]     # "<actor> (<kind>) at <time>: <note>" per edit


@dataclass(frozen=True)
class ReplayResult:
    match: bool
    detail: str
    frames_expected: int = 0
    frames_rendered: int = 0
    first_mismatch: int | None = None   # index of the first frame that differs


@dataclass(frozen=True)
class _Contribution:
    event: RecordedEvent
    summary: str                     # names no person: safe for a public manifest
    text: str                        # free text (reason, prompt, copy, edit) for the report only


@dataclass(frozen=True)
class _Analysis:
    events: tuple[RecordedEvent, ...]
    restated: dict[int, RecordedEvent]         # seq of a per-variant restatement -> the decision's own event
    inputs: tuple[RecordedEvent, ...]          # input_recorded events
    candidates: tuple[RecordedEvent, ...]      # generation_run events, one per candidate
    pick: RecordedEvent | None                 # the last candidate_picked: it decides the footage
    footage_run: RecordedEvent | None          # generation_run of the footage in the asset
    rejections: tuple[RecordedEvent, ...]
    segments: tuple[Segment, ...]
    human: tuple[_Contribution, ...]

    @property
    def human_selection(self) -> bool:
        return self.pick is not None and self.pick.actor_kind == "human"


# public API -------------------------------------------------------------------

def authorship_report(journal: Journal, asset_id: str, *, fmt: Literal["md", "json"] = "md") -> str:
    """Authorship report of one asset, from its journal events (Markdown or JSON text)."""
    if fmt not in ("md", "json"):
        raise ValueError(f"fmt must be 'md' or 'json', got {fmt!r}")
    # 1. Gather and analyse the asset's events; check the journal they come from.
    analysis = _analyse(_asset_events(journal, asset_id))
    integrity = journal.verify()
    head = journal.head()
    # 2. Build one data structure; Markdown is a rendering of it.
    data = {
        "asset_id": asset_id,
        "variant_keys": sorted({e.variant_key for e in analysis.events}),
        "journal": {
            "intact": integrity.ok, "problem": integrity.problem,
            "head_seq": head.seq if head else None, "head_hash": head.hash if head else None,
        },
        "selection": _selection(analysis),
        "human_contributions": [_contribution_dict(c, with_actor=True) for c in analysis.human],
        "exclude_from_claim": {"note": USCO_NOTE, "material": _exclusions(analysis)},
        "third_party_material": {"note": THIRD_PARTY_NOTE, "material": _third_party(analysis)},
        "unknown_origin": {"note": UNKNOWN_NOTE, "material": _unknown_origin(analysis)},
        "segments": [
            {"segment": s.name, "classification": s.classification, "origin": s.origin,
             "modified_by": list(s.modified_by)} for s in analysis.segments
        ],
        "process": {"note": PROCESS_NOTE, "events": [_process_row(e) for e in _time_order(analysis.events)]},
    }
    if fmt == "json":
        return json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True)
    return _markdown(data)


def authorship_assertion(journal: Journal, variant_key: str) -> dict[str, Any]:
    """A C2PA assertion body (label AUTHORSHIP_LABEL): human contributions by event hash, segment
    classes and the journal head; it names no person (the journal, behind the hashes, does)."""
    events = journal.events(variant_key=variant_key)
    if not events:
        raise ValueError(f"variant_key {variant_key!r}: no journal events")
    analysis = _analyse(events)
    head = journal.head()
    selection = _selection(analysis)
    return {
        "variant_key": variant_key,
        "human_selection": analysis.human_selection,
        "selection": {k: selection[k] for k in ("by", "candidate", "of", "event_hash")} if analysis.pick else None,
        "human_contributions": [_contribution_dict(c, with_actor=False) for c in analysis.human],
        "segments": [{"segment": s.name, "classification": s.classification} for s in analysis.segments],
        "journal": {"head_seq": head.seq if head else None, "head_hash": head.hash if head else None},
    }


def frame_hashes(clip: Path) -> list[str]:
    """SHA-256 of every decoded RGB frame (shape included): what generation_run records as outputs["frames"]."""
    out = []
    for frame in read_clip(Path(clip)):
        h = hashlib.sha256(f"{frame.shape[0]}x{frame.shape[1]}x{frame.shape[2]}:".encode())
        h.update(frame.tobytes())
        out.append(h.hexdigest())
    return out


def replay_check(journal: Journal, asset_id: str, rerender: Callable[[dict[str, Any]], bytes | Path]) -> ReplayResult:
    """Re-render the asset's footage from its recorded parameters and compare decoded frame hashes.

    `rerender` gets the parameters (parameters_set events before the run, then the run's own
    parameters on top) and returns the clip as a file path or as encoded file bytes."""
    # 1. Find the generation run whose output is in the asset.
    analysis = _analyse(_asset_events(journal, asset_id))
    run = analysis.footage_run
    if run is None:
        return ReplayResult(False, f"asset {asset_id}: no generation_run of the selected footage is recorded")
    expected = run.outputs.get("frames")
    if not isinstance(expected, list) or not expected:
        return ReplayResult(False, f"seq {run.seq}: generation_run records no frame hashes (outputs['frames'])")
    # 2. The recorded parameters, in the order they were set.
    params: dict[str, Any] = {}
    for e in analysis.events:
        if e.action == "parameters_set" and e.seq < run.seq:
            params.update(e.detail["parameters"])
    params.update(run.detail["parameters"])
    # 3. Re-render and hash the decoded frames.
    rendered = _output_frame_hashes(rerender(params))
    # 4. Compare frame by frame.
    first = next((i for i, (a, b) in enumerate(zip(expected, rendered, strict=False)) if a != b), None)
    if first is None and len(expected) != len(rendered):
        first = min(len(expected), len(rendered))
    if first is None:
        return ReplayResult(True, f"{len(rendered)} frames match the hashes recorded at seq {run.seq}",
                            len(expected), len(rendered), None)
    return ReplayResult(False, f"frame {first} differs from the hash recorded at seq {run.seq} "
                               f"({len(rendered)} frames rendered, {len(expected)} recorded)",
                        len(expected), len(rendered), first)


# analysis ---------------------------------------------------------------------

def _asset_events(journal: Journal, asset_id: str) -> list[RecordedEvent]:
    """The asset's own events plus the events of its variant keys recorded before it had an id."""
    own = journal.events(asset_id=asset_id)
    if not own:
        raise ValueError(f"asset_id {asset_id!r}: no journal events")
    earlier = [e for key in sorted({e.variant_key for e in own}) for e in journal.events(variant_key=key)
               if e.asset_id is None]
    # The decisions' own events (a reviewer's pick, rejections and edits, recorded before the render that
    # restated them): they led to the asset too.
    have = {e.seq for e in own + earlier}
    sources = journal.events_at([s for e in own + earlier if isinstance(s := e.detail.get("recorded_at_seq"), int)
                                 and s not in have])
    return sorted(own + earlier + sources, key=lambda e: e.seq)


def _analyse(events: list[RecordedEvent]) -> _Analysis:
    # 0. Restatements of a decision whose own event is here count once (as that event).
    by_seq = {e.seq: e for e in events}
    restated = {e.seq: by_seq[src] for e in events
                if isinstance(src := e.detail.get("recorded_at_seq"), int) and src in by_seq}
    decisions = [e for e in events if e.seq not in restated]
    # 1. Candidates, the deciding pick and the rejections.
    candidates = tuple(e for e in events if e.action == "generation_run")
    picks = [e for e in events if e.action == "candidate_picked" and e.variant_key == _variant_of(events)]
    picks = picks or [e for e in events if e.action == "candidate_picked"]
    pick = picks[-1] if picks else None
    rejections = tuple(e for e in decisions if e.action == "candidate_rejected")
    inputs = tuple(e for e in events if e.action == "input_recorded")
    # 2. The footage: the picked candidate's run, or the only run when nothing was picked.
    footage_run = None
    if pick is not None:
        footage_run = next((c for c in reversed(candidates) if c.detail["candidate"] == pick.detail["candidate"]), None)
    elif len(candidates) == 1:
        footage_run = candidates[0]
    # 3. Segments, in the order their material first appears.
    segments: dict[str, dict[str, Any]] = {}
    if candidates:
        segments[FOOTAGE] = _footage_segment(footage_run, candidates, inputs)
    # Material in the order this variant's events made it: a restated decision at its restatement's place,
    # shown as the decision's own event.
    sources = {src.seq for src in restated.values()}
    for e in (restated.get(e.seq, e) for e in events if e.seq not in sources):
        if e.action == "copy_written":
            classification, writer = _copy_origin(e)
            segments[e.detail["segment"]] = {"classification": classification,
                                             "origin": f"{writer} (seq {e.seq})", "modified_by": []}
        elif e.action == "edit_applied":
            seg = segments.setdefault(e.detail["segment"], {
                # Material the journal never saw being made is not shown to be human.
                "classification": AI_GENERATED, "origin": "not recorded in the journal", "modified_by": []})
            seg["modified_by"].append(f"{e.actor} ({e.actor_kind}) at {_when(e)}: {_edit_text(e)}")
            if e.actor_kind == "human":
                seg["classification"] = {AI_GENERATED: AI_MODIFIED, UNKNOWN: UNKNOWN_MODIFIED}.get(
                    seg["classification"], seg["classification"])
    # 4. Human contributions, in journal order.
    human = tuple(c for c in (_human_contribution(e, len(candidates)) for e in decisions) if c is not None)
    return _Analysis(
        events=tuple(events), restated=restated, inputs=inputs, candidates=candidates, pick=pick,
        footage_run=footage_run, rejections=rejections,
        segments=tuple(Segment(name, s["classification"], s["origin"], tuple(s["modified_by"]))
                       for name, s in segments.items()),
        human=human,
    )


def _variant_of(events: list[RecordedEvent]) -> str | None:
    """The variant key the asset's own events carry (the pick that decides it is that variant's)."""
    keys = [e.variant_key for e in events if e.asset_id is not None]
    return keys[-1] if keys else None


def _footage_segment(run: RecordedEvent | None, candidates: tuple[RecordedEvent, ...],
                     inputs: tuple[RecordedEvent, ...]) -> dict[str, Any]:
    """The footage's class from the digital source type its run records (the manifest's own), with its origin."""
    if run is None:
        return {"classification": AI_GENERATED, "modified_by": [],
                "origin": f"one of {len(candidates)} generated candidates (no pick recorded)"}
    d = run.detail
    made = f"candidate {d['candidate']} generated by {d['model']} {d['model_version']} (seq {run.seq})"
    photo = next((i for i in inputs if i.detail.get("role") == "product photo"), None)
    if "digital_source_type" not in d:       # journals written before runs recorded it
        if d["model"] == MOTION_MODEL:
            return {"classification": UNKNOWN, "modified_by": [],
                    "origin": f"{made}: a camera move over the product photo; the journal does not record "
                              f"the photo's provenance"}
        return {"classification": AI_GENERATED, "origin": made, "modified_by": []}
    dst = d["digital_source_type"]
    if dst is None:
        return {"classification": UNKNOWN, "modified_by": [],
                "origin": f"{made}: a camera move over {_photo_name(photo)} of unknown provenance"}
    source = SourceType.parse(dst)
    if source.is_ai:
        what = f" over {_photo_name(photo)}, itself AI-made" if d["model"] == MOTION_MODEL else ""
        return {"classification": AI_GENERATED, "modified_by": [],
                "origin": f"{made}{what}; digital source type {source.short}"}
    return {"classification": THIRD_PARTY, "modified_by": [],
            "origin": f"{made}: a camera move over {_photo_name(photo)} ({source.short}), not AI-generated"}


def _photo_name(photo: RecordedEvent | None) -> str:
    return f"the product photo {photo.detail['file']}" if photo is not None else "the product photo"


def _copy_origin(e: RecordedEvent) -> tuple[str, str]:
    """(classification, who or what wrote it) of a copy_written event."""
    d = e.detail
    origin = str(d.get("origin", ""))
    where = f", catalog {d['catalog']}" if d.get("catalog") else ""
    kind, _, name = origin.partition(":")
    if e.actor_kind == "human":
        if not origin and e.actor.startswith("copy author (catalog copy row"):
            # Recorded before the catalog named copy authors: nothing shows a person wrote it.
            return UNKNOWN, f"author unknown ({e.actor}, recorded as human without a source)"
        return HUMAN, (_WRITTEN_BY[kind].format(name) if kind in ("person", "team") else f"written by {e.actor} "
                       "(human)") + where
    if e.actor_kind == "unknown":
        return UNKNOWN, f"author unknown (the catalog names nobody{where})"
    if kind in ("mt", "llm"):
        return AI_GENERATED, _WRITTEN_BY[kind].format(name) + f" (system{where})"
    return AI_GENERATED, f"written by {d.get('model', e.actor)} (system)"


def _human_contribution(e: RecordedEvent, n_candidates: int) -> _Contribution | None:
    if e.actor_kind != "human":
        return None
    d = e.detail
    match e.action:
        case "brief_written":
            return _Contribution(e, "wrote the brief", str(d.get("text", "")))
        case "prompt_authored":
            return _Contribution(e, f"authored prompt revision {d.get('revision', 1)} "
                                    "(prompts alone are not sufficient human authorship)", str(d["prompt"]))
        case "parameters_set":
            return _Contribution(e, "set generation parameters", _compact(d["parameters"]))
        case "candidate_picked":
            return _Contribution(e, f"selected candidate {d['candidate']} of {n_candidates}",
                                 str(d.get("reason", "no reason given")))
        case "candidate_rejected":
            return _Contribution(e, f"rejected candidate {d['candidate']}", str(d.get("reason", "no reason given")))
        case "copy_written":
            return _Contribution(e, f"wrote {d['segment']}", str(d["text"]))
        case "edit_applied":
            return _Contribution(e, f"edited {d['segment']}", _edit_text(e))
        case "approval":
            return _Contribution(e, "approved the asset for publishing (approval alone is not authorship)",
                                 str(d.get("reason") or "no reason given"))
        case "brand_kit_applied":
            return _Contribution(e, "chose the brand kit the layout applies (catalog brand.json)", _brand_text(d))
    return None   # generation_run / publication started by a person: not a contribution to the material


def _selection(a: _Analysis) -> dict[str, Any]:
    n = len(a.candidates)
    rejected = [{"candidate": r.detail["candidate"], "by": r.actor, "actor_kind": r.actor_kind,
                 "at": _when(r), "reason": r.detail.get("reason", "")} for r in a.rejections]
    if a.pick is None:
        statement = ("no human selection: no pick is recorded" +
                     (f" ({n} candidates)" if n != 1 else " (a single candidate was used)"))
        return {"human_selection": False, "statement": statement, "by": None, "candidate": None, "of": n,
                "rejected": rejected, "event_hash": None}
    p = a.pick
    decided = a.restated.get(p.seq, p)       # the reviewer's own event: its time is when the pick was made
    if p.actor_kind == "human":
        statement = (f"{decided.actor} selected candidate {p.detail['candidate']} of {n} at {_when(decided)}: "
                     f"{decided.detail.get('reason', 'no reason given')}")
    else:
        statement = (f"no human selection: candidate {p.detail['candidate']} of {n} was picked automatically "
                     f"by {p.actor} (system) at {_when(p)}")
    return {"human_selection": p.actor_kind == "human", "statement": statement, "by": p.actor_kind,
            "actor": decided.actor, "candidate": p.detail["candidate"], "of": n, "at": _when(decided),
            "reason": decided.detail.get("reason", ""), "rejected": rejected, "event_hash": p.hash,
            "decided_at_seq": decided.seq}


def _exclusions(a: _Analysis) -> list[dict[str, str]]:
    out = []
    for s in a.segments:
        made = "machine-written" if s.name.startswith("copy:") else "AI-generated"
        if s.classification == AI_GENERATED:
            out.append({"segment": s.name, "exclude": "all of it", "why": f"{made}: {s.origin}"})
        elif s.classification == AI_MODIFIED:
            out.append({"segment": s.name, "exclude": f"the {made} material; claim only the human modifications",
                        "why": f"{made}: {s.origin}; modified by a human"})
    return out


def _third_party(a: _Analysis) -> list[dict[str, Any]]:
    """Each input file the journal recorded for the asset, with its owner, licence and provenance."""
    out = []
    for e in a.inputs:
        d, prov = e.detail, e.detail.get("provenance") or {}
        st = prov.get("source_type")
        provenance = (f"{SourceType.parse(st).short} (from its {d['origin']})" if st else
                      f"unknown provenance ({prov.get('note') or 'no claim recorded'})")
        in_asset = bool(d.get("in_frames", True))
        out.append({
            "material": d["role"], "file": d["file"], "sha256": e.outputs.get("file"),
            "owner": d.get("owner") or "not recorded", "licence": d.get("licence") or "not recorded",
            "owner_source": f"catalog {d['catalog']}" if d.get("catalog") else "not recorded",
            "provenance": provenance, "c2pa_state": prov.get("c2pa_state"), "signer": prov.get("signer"),
            "in_asset": in_asset, "seq": e.seq,
            "use": d.get("use") or ("its pixels are in the frames" if in_asset else "not in the frames"),
        })
    return out


def _unknown_origin(a: _Analysis) -> list[dict[str, str]]:
    return [{"segment": s.name, "why": s.origin + ("; modified by a human" if s.classification == UNKNOWN_MODIFIED
                                                   else "")}
            for s in a.segments if s.classification in (UNKNOWN, UNKNOWN_MODIFIED)]


def _brand_text(d: Mapping[str, Any]) -> str:
    return (f"{d.get('name', '')}: colours {d.get('primary_color')}, {d.get('secondary_color')}, text "
            f"{d.get('text_color')}; font {d.get('font_family')}; aspect {d.get('aspect')} "
            f"({d.get('aspect_catalog', 'locales.csv')})")


def _contribution_dict(c: _Contribution, *, with_actor: bool) -> dict[str, Any]:
    out = {"action": c.event.action, "seq": c.event.seq, "at": _when_decided(c.event), "summary": c.summary,
           "event_hash": c.event.hash}
    if with_actor:
        out.update(actor=c.event.actor, text=c.text)
    return out


def _process_row(e: RecordedEvent) -> dict[str, Any]:
    d = e.detail
    match e.action:
        case "generation_run":
            what = (f"model {d['model']} {d['model_version']}, candidate {d['candidate']}, "
                    f"parameters {_compact(d['parameters'])}")
        case "prompt_authored":
            what = f"prompt revision {d.get('revision', 1)}: {d['prompt']}"
        case "parameters_set":
            what = f"parameters {_compact(d['parameters'])}"
        case "candidate_picked" | "candidate_rejected":
            what = f"candidate {d['candidate']}: {d.get('reason', 'no reason given')}"
        case "copy_written":
            what = f"{d['segment']}: {d['text']}" + (f" (model {d['model']})" if "model" in d else "")
        case "edit_applied":
            what = f"{d['segment']}: {_edit_text(e)}"
        case "input_recorded":
            prov = d.get("provenance") or {}
            st = prov.get("source_type")
            what = (f"{d['role']} {d['file']}: source type {SourceType.parse(st).short if st else 'unknown'} "
                    f"(from its {d['origin']}), owner {d.get('owner') or 'not recorded'}, "
                    f"licence {d.get('licence') or 'not recorded'}")
        case "brand_kit_applied":
            what = _brand_text(d)
        case _:
            what = _compact(d) if d else ""
    if isinstance(d.get("recorded_at_seq"), int):
        what += f" (restates seq {d['recorded_at_seq']})"
    if e.action in _FROM_CATALOG and d.get("catalog"):
        what += f" (read from the catalog, {d['catalog']}, at this time)"
    return {"seq": e.seq, "at": _when(e), "actor": e.actor, "actor_kind": e.actor_kind, "action": e.action,
            "what": what, "event_hash": e.hash}


# rendering --------------------------------------------------------------------

def _markdown(data: dict[str, Any]) -> str:
    j, sel = data["journal"], data["selection"]
    lines = [
        f"# Authorship report: {data['asset_id']}",
        "",
        f"- Variant key(s): {', '.join(data['variant_keys'])}",
        f"- Journal: {'intact' if j['intact'] else 'NOT INTACT: ' + j['problem']}; "
        f"signed head seq {j['head_seq']}, hash {j['head_hash']}",
        "",
        "## Selection",
        "",
        f"{sel['statement']}.",
    ]
    for r in sel["rejected"]:
        lines.append(f"- Rejected {r['candidate']} by {r['by']} ({r['actor_kind']}) at {r['at']}: "
                     f"{r['reason'] or 'no reason given'}")
    lines += ["", "## Human contributions", ""]
    lines += [f"- {c['at']} {c['actor']}: {c['summary']}" + (f": {_one_line(c['text'])}" if c["text"] else "")
              for c in data["human_contributions"]] or ["- none recorded"]
    lines += ["", "## AI-generated material to exclude from a copyright claim", "",
              data["exclude_from_claim"]["note"], ""]
    lines += [f"- {x['segment']}: exclude {x['exclude']} ({x['why']})"
              for x in data["exclude_from_claim"]["material"]] or ["- none recorded"]
    lines += ["", "## Third-party material", "", data["third_party_material"]["note"], ""]
    lines += [f"- {m['material']} {m['file']} (sha256 {str(m['sha256'])[:16]}): owner {m['owner']}, licence "
              f"{m['licence']} ({m['owner_source']}); provenance {m['provenance']}; {m['use']}"
              for m in data["third_party_material"]["material"]] or ["- none recorded"]
    lines += ["", "## Material of unknown origin", "", data["unknown_origin"]["note"], ""]
    lines += [f"- {x['segment']}: {x['why']}" for x in data["unknown_origin"]["material"]] or ["- none"]
    lines += ["", "## Segments", "", "| segment | classification | origin | modified by |", "| --- | --- | --- | --- |"]
    lines += [f"| {_cell(s['segment'])} | {s['classification']} | {_cell(s['origin'])} | "
              f"{_cell('; '.join(s['modified_by']) or '-')} |" for s in data["segments"]]
    lines += ["", "## Process evidence", "", data["process"]["note"], "",
              "| seq | at (UTC) | actor | kind | action | what | event hash |",
              "| --- | --- | --- | --- | --- | --- | --- |"]
    lines += [f"| {p['seq']} | {p['at']} | {_cell(p['actor'])} | {p['actor_kind']} | {p['action']} | "
              f"{_cell(p['what'])} | {p['event_hash'][:16]} |" for p in data["process"]["events"]]
    return "\n".join(lines) + "\n"


def _output_frame_hashes(out: bytes | Path) -> list[str]:
    if isinstance(out, Path):
        return frame_hashes(out)
    if isinstance(out, (bytes, bytearray)):
        with tempfile.TemporaryDirectory(prefix="tessera-replay-") as tmp:
            clip = Path(tmp) / "replay.mp4"
            clip.write_bytes(bytes(out))
            return frame_hashes(clip)
    raise TypeError(f"rerender must return a Path or encoded file bytes, got {type(out).__name__}")


def _time_order(events: tuple[RecordedEvent, ...]) -> list[RecordedEvent]:
    return sorted(events, key=lambda e: (e.at, e.seq))


def _edit_text(e: RecordedEvent) -> str:
    d = e.detail
    parts = []
    if "before" in d or "after" in d:
        parts.append(f"{d.get('before', '')!r} -> {d.get('after', '')!r}")
    if d.get("note"):
        parts.append(str(d["note"]))
    return "; ".join(parts) or "no description"


def _when(e: RecordedEvent) -> str:
    return e.at.isoformat(timespec="seconds")


def _when_decided(e: RecordedEvent) -> str:
    """When the decision was made: the event's time, except for what the render read from the catalog (the
    copy, the brand kit), whose writing time the catalog does not record."""
    if e.action in _FROM_CATALOG and e.detail.get("catalog"):
        return f"{_when(e)} (read from the catalog; when it was written is not recorded)"
    return _when(e)


_FROM_CATALOG = ("copy_written", "brand_kit_applied")


def _compact(value: Any) -> str:
    # For reading, not hashing: the journal stores canonical JSON, so keys come back sorted.
    return json.dumps(value, ensure_ascii=False)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _cell(text: str) -> str:
    return _one_line(text).replace("|", "\\|")

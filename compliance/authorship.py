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
| copy_written | segment* (e.g. "copy:headline"), text*, model (when a model wrote it) | |
| edit_applied | segment* ("footage" or "copy:..."), before, after, note | |
| approval | note | |
| publication | where | |
| withdrawal | reasons* (why tessera recheck withdrew the asset), as_of | |

Classification of each segment of the asset:
- footage from a generation run is "ai_generated"; copy written by a system actor is
  "ai_generated" (fail closed: the journal cannot show a human wrote it); copy written by a
  human is "human".
- a human `edit_applied` on an "ai_generated" segment makes it "ai_generated_modified_by_human";
  system edits change nothing (they are listed as process evidence).
- a pick by a system actor (an unattended run) is never a human selection.
"""
from __future__ import annotations

import hashlib
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Callable
from typing import Any, Literal

from compliance.journal import Journal, RecordedEvent
from foundation.frames import read_clip

__all__ = [
    "AUTHORSHIP_LABEL", "FOOTAGE", "ReplayResult", "Segment", "authorship_assertion", "authorship_report",
    "frame_hashes", "replay_check",
]

AUTHORSHIP_LABEL = "com.tessera.authorship"
FOOTAGE = "footage"
HUMAN, AI_GENERATED, AI_MODIFIED = "human", "ai_generated", "ai_generated_modified_by_human"

USCO_NOTE = (
    "Per the US Copyright Office (Copyright and Artificial Intelligence, Part 2: Copyrightability, "
    "January 2025), AI-generated material must be disclosed and excluded from a copyright claim; only "
    "the human contribution (selection, arrangement, human-written text, human modifications) can be "
    "claimed. Prompts alone are not sufficient human authorship of the generated output."
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
    return sorted(own + earlier, key=lambda e: e.seq)


def _analyse(events: list[RecordedEvent]) -> _Analysis:
    # 1. Candidates, the deciding pick and the rejections.
    candidates = tuple(e for e in events if e.action == "generation_run")
    picks = [e for e in events if e.action == "candidate_picked"]
    pick = picks[-1] if picks else None
    rejections = tuple(e for e in events if e.action == "candidate_rejected")
    # 2. The footage: the picked candidate's run, or the only run when nothing was picked.
    footage_run = None
    if pick is not None:
        footage_run = next((c for c in reversed(candidates) if c.detail["candidate"] == pick.detail["candidate"]), None)
    elif len(candidates) == 1:
        footage_run = candidates[0]
    # 3. Segments, in the order their material first appears.
    segments: dict[str, dict[str, Any]] = {}
    if candidates:
        if footage_run is not None:
            origin = (f"candidate {footage_run.detail['candidate']} generated by {footage_run.detail['model']} "
                      f"{footage_run.detail['model_version']} (seq {footage_run.seq})")
        else:
            origin = f"one of {len(candidates)} generated candidates (no pick recorded)"
        segments[FOOTAGE] = {"classification": AI_GENERATED, "origin": origin, "modified_by": []}
    for e in events:
        if e.action == "copy_written":
            writer = f"{e.actor} (human)" if e.actor_kind == "human" else \
                f"{e.detail.get('model', e.actor)} (system)"
            segments[e.detail["segment"]] = {
                "classification": HUMAN if e.actor_kind == "human" else AI_GENERATED,
                "origin": f"written by {writer} (seq {e.seq})", "modified_by": [],
            }
        elif e.action == "edit_applied":
            seg = segments.setdefault(e.detail["segment"], {
                # Material the journal never saw being made is not shown to be human.
                "classification": AI_GENERATED, "origin": "not recorded in the journal", "modified_by": []})
            seg["modified_by"].append(f"{e.actor} ({e.actor_kind}) at {_when(e)}: {_edit_text(e)}")
            if e.actor_kind == "human" and seg["classification"] == AI_GENERATED:
                seg["classification"] = AI_MODIFIED
    # 4. Human contributions, in journal order.
    human = tuple(c for c in (_human_contribution(e, len(candidates)) for e in events) if c is not None)
    return _Analysis(
        events=tuple(events), candidates=candidates, pick=pick, footage_run=footage_run, rejections=rejections,
        segments=tuple(Segment(name, s["classification"], s["origin"], tuple(s["modified_by"]))
                       for name, s in segments.items()),
        human=human,
    )


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
    if p.actor_kind == "human":
        statement = (f"{p.actor} selected candidate {p.detail['candidate']} of {n} at {_when(p)}: "
                     f"{p.detail.get('reason', 'no reason given')}")
    else:
        statement = (f"no human selection: candidate {p.detail['candidate']} of {n} was picked automatically "
                     f"by {p.actor} (system) at {_when(p)}")
    return {"human_selection": p.actor_kind == "human", "statement": statement, "by": p.actor_kind,
            "actor": p.actor, "candidate": p.detail["candidate"], "of": n, "at": _when(p),
            "reason": p.detail.get("reason", ""), "rejected": rejected, "event_hash": p.hash}


def _exclusions(a: _Analysis) -> list[dict[str, str]]:
    out = []
    for s in a.segments:
        if s.classification == AI_GENERATED:
            out.append({"segment": s.name, "exclude": "all of it", "why": f"AI-generated: {s.origin}"})
        elif s.classification == AI_MODIFIED:
            out.append({"segment": s.name, "exclude": "the AI-generated material; claim only the human modifications",
                        "why": f"AI-generated ({s.origin}), modified by a human"})
    return out


def _contribution_dict(c: _Contribution, *, with_actor: bool) -> dict[str, Any]:
    out = {"action": c.event.action, "seq": c.event.seq, "at": _when(c.event), "summary": c.summary,
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
        case _:
            what = _compact(d) if d else ""
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


def _compact(value: Any) -> str:
    # For reading, not hashing: the journal stores canonical JSON, so keys come back sorted.
    return json.dumps(value, ensure_ascii=False)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _cell(text: str) -> str:
    return _one_line(text).replace("|", "\\|")

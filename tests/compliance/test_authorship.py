"""Authorship reports say who chose, wrote, edited and approved, what the AI made (to exclude
from a copyright claim), never call an automatic pick a human one, and replay a recorded run."""
import hashlib
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import update

from compliance.authorship import (
    AUTHORSHIP_LABEL, authorship_assertion, authorship_report, frame_hashes, replay_check,
)
from compliance.journal import Journal, JournalEvent, journal_table
from foundation.frames import write_clip
from provenance.credentials import load_credentials
from provenance.ledger import Ledger
from provenance.spec import SigningConfig

VK, ASSET = "vk-sku1-de-9x16", "tsr-0001"
MODEL, VERSION = "Wan2.1-T2V-1.3B", "diffusers-0.35.1"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def journal_creds(tmp_path_factory):
    return load_credentials(SigningConfig(home=tmp_path_factory.mktemp("authorship-home")))


@pytest.fixture
def journal(tmp_path, journal_creds) -> Journal:
    return Journal.from_credentials(Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}").engine, journal_creds)


class Recorder:
    """Appends events a minute apart, as the render flow and the review UI would."""

    def __init__(self, journal: Journal):
        self.journal, self.minute = journal, 0

    def __call__(self, action, actor, kind, *, asset=None, vk=VK, outputs=None, **detail):
        self.minute += 1
        return self.journal.append(JournalEvent(
            variant_key=vk, actor=actor, actor_kind=kind, action=action, asset_id=asset,
            outputs=outputs or {}, detail=detail, at=T0 + timedelta(minutes=self.minute)))


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _generate(rec: Recorder, k: int = 4) -> None:
    """Brief, two prompt revisions, parameters and K candidates: before the asset has an id."""
    rec("brief_written", "maria@brand", "human", text="Summer launch, bright kitchen, morning light")
    rec("prompt_authored", "maria@brand", "human", prompt="espresso machine on a counter", revision=1)
    rec("prompt_authored", "maria@brand", "human", prompt="espresso machine, marble counter, steam", revision=2)
    rec("parameters_set", "maria@brand", "human", parameters={"steps": 30, "guidance": 5.0})
    for i in range(1, k + 1):
        rec("generation_run", "tessera.generation.diffusion", "system", model=MODEL, model_version=VERSION,
            candidate=f"c{i}", parameters={"seed": 100 + i}, outputs={"clip": _sha(f"clip {i}")})


def _reviewed_flow(journal: Journal) -> None:
    rec = Recorder(journal)
    _generate(rec)
    for c, why in (("c1", "logo cut off"), ("c2", "steam looks fake"), ("c4", "colour cast")):
        rec("candidate_rejected", "lena.reviewer", "human", asset=ASSET, candidate=c, reason=why)
    rec("candidate_picked", "lena.reviewer", "human", asset=ASSET, candidate="c3",
        reason="sharpest product, natural steam")
    rec("copy_written", "tessera.copy", "system", asset=ASSET, segment="copy:headline",
        text="Fresh coffee at home", model="copy-llm-2")
    rec("copy_written", "maria@brand", "human", asset=ASSET, segment="copy:tagline", text="Barista mornings")
    rec("edit_applied", "maria@brand", "human", asset=ASSET, segment="copy:headline",
        before="Fresh coffee at home", after="Café-fresh espresso at home")
    rec("approval", "jo.approver", "human", asset=ASSET, note="ready for DE")
    rec("publication", "tessera.render", "system", asset=ASSET, where="out/de-DE/9x16.mp4")
    # Another variant's events must stay out of this asset's report.
    rec("candidate_picked", "someone.else", "human", vk="vk-other", asset="tsr-9", candidate="c-other")


def _unattended_flow(journal: Journal) -> None:
    rec = Recorder(journal)
    rec("parameters_set", "tessera.nightly", "system", parameters={"steps": 30})
    for i in range(1, 5):
        rec("generation_run", "tessera.generation.diffusion", "system", model=MODEL, model_version=VERSION,
            candidate=f"c{i}", parameters={"seed": i}, outputs={"clip": _sha(f"clip {i}")})
    rec("candidate_picked", "tessera.nightly", "system", asset=ASSET, candidate="c2",
        reason="highest aesthetic score 0.81")
    rec("copy_written", "tessera.copy", "system", asset=ASSET, segment="copy:headline",
        text="Fresh coffee at home", model="copy-llm-2")
    rec("approval", "tessera.checks", "system", asset=ASSET, note="all checks passed")


# reports ------------------------------------------------------------------------

def test_markdown_report_names_reviewer_rejections_edit_and_approval(journal):
    _reviewed_flow(journal)
    md = authorship_report(journal, ASSET, fmt="md")
    assert "lena.reviewer selected candidate c3 of 4 at 2026-03-02T09:12:00+00:00: sharpest product" in md
    for c, why in (("c1", "logo cut off"), ("c2", "steam looks fake"), ("c4", "colour cast")):
        assert f"Rejected {c} by lena.reviewer (human)" in md and why in md
    assert "edited copy:headline: 'Fresh coffee at home' -> 'Café-fresh espresso at home'" in md
    assert "jo.approver: approved the asset" in md and "ready for DE" in md
    assert "Journal: intact" in md
    # The exclusion section speaks the Copyright Office's language; the process section the court's.
    assert "excluded from a copyright claim" in md and "Prompts alone are not sufficient" in md
    assert "Li v. Liu" in md and f"model {MODEL} {VERSION}, candidate c3" in md
    assert "prompt revision 2: espresso machine, marble counter, steam" in md
    assert "someone.else" not in md and "c-other" not in md
    assert "no human selection" not in md


def test_json_report_classifies_segments_and_lists_exclusions(journal):
    _reviewed_flow(journal)
    data = json.loads(authorship_report(journal, ASSET, fmt="json"))
    assert data["selection"]["human_selection"] is True
    assert (data["selection"]["actor"], data["selection"]["candidate"], data["selection"]["of"]) == \
        ("lena.reviewer", "c3", 4)
    assert sorted(r["candidate"] for r in data["selection"]["rejected"]) == ["c1", "c2", "c4"]
    classes = {s["segment"]: s["classification"] for s in data["segments"]}
    assert classes == {"footage": "ai_generated", "copy:headline": "ai_generated_modified_by_human",
                       "copy:tagline": "human"}
    assert {x["segment"] for x in data["exclude_from_claim"]["material"]} == {"footage", "copy:headline"}
    footage = next(s for s in data["segments"] if s["segment"] == "footage")
    assert f"candidate c3 generated by {MODEL} {VERSION}" in footage["origin"]
    actions = [(c["actor"], c["action"]) for c in data["human_contributions"]]
    assert ("lena.reviewer", "candidate_picked") in actions and ("jo.approver", "approval") in actions
    assert ("maria@brand", "edit_applied") in actions and ("maria@brand", "copy_written") in actions
    # Evidence chain: every event of the asset (its variant's earlier ones included) in time order.
    process = data["process"]["events"]
    assert [p["at"] for p in process] == sorted(p["at"] for p in process)
    assert [p["action"] for p in process][:5] == ["brief_written", "prompt_authored", "prompt_authored",
                                                   "parameters_set", "generation_run"]
    assert len(process) == 17 and data["journal"]["intact"] is True


def test_unattended_run_claims_no_human_selection(journal):
    _unattended_flow(journal)
    md = authorship_report(journal, ASSET, fmt="md")
    assert ("no human selection: candidate c2 of 4 was picked automatically by tessera.nightly (system)" in md)
    assert "selected candidate" not in md
    assert "## Human contributions\n\n- none recorded" in md
    data = json.loads(authorship_report(journal, ASSET, fmt="json"))
    assert data["selection"]["human_selection"] is False and data["human_contributions"] == []
    assert {s["classification"] for s in data["segments"]} == {"ai_generated"}
    assertion = authorship_assertion(journal, VK)
    assert assertion["human_selection"] is False and assertion["selection"]["by"] == "system"


def test_report_flags_a_tampered_journal(journal):
    _reviewed_flow(journal)
    with journal.engine.begin() as conn:
        conn.execute(update(journal_table).where(journal_table.c.action == "approval").values(actor="mallory"))
    md = authorship_report(journal, ASSET, fmt="md")
    assert "Journal: NOT INTACT: seq 16: altered" in md


def test_unknown_asset_and_format_are_refused(journal):
    _reviewed_flow(journal)
    with pytest.raises(ValueError, match="tsr-missing"):
        authorship_report(journal, "tsr-missing", fmt="md")
    with pytest.raises(ValueError, match="html"):
        authorship_report(journal, ASSET, fmt="html")


def test_assertion_commits_to_the_head_and_names_nobody(journal):
    _reviewed_flow(journal)
    assertion = authorship_assertion(journal, VK)
    head = journal.head()
    assert AUTHORSHIP_LABEL == "com.tessera.authorship"
    assert assertion["journal"] == {"head_seq": head.seq, "head_hash": head.hash}
    assert assertion["human_selection"] is True
    assert assertion["selection"]["candidate"] == "c3" and assertion["selection"]["of"] == 4
    picked = next(e for e in journal.events(asset_id=ASSET) if e.action == "candidate_picked")
    assert assertion["selection"]["event_hash"] == picked.hash
    assert {c["action"] for c in assertion["human_contributions"]} >= {"candidate_picked", "edit_applied", "approval"}
    text = json.dumps(assertion)
    for person in ("maria", "lena", "jo.approver"):
        assert person not in text


# replay -------------------------------------------------------------------------

class Renderer:
    """A small deterministic renderer: seeded noise over a moving gradient, stored losslessly."""

    def __init__(self, folder: Path):
        self.folder, self.calls = folder, 0

    def __call__(self, params: dict) -> Path:
        self.calls += 1
        rng = np.random.default_rng(params["seed"])
        w, h = params["width"], params["height"]
        ramp = np.linspace(0, 255, w, dtype=np.float32)[None, :, None]
        frames = []
        for i in range(params["frames"]):
            frame = (ramp + 8 * i + rng.integers(0, 32, (h, w, 3))).clip(0, 255).astype(np.uint8)
            if i == params.get("glitch_frame"):
                frame[0, 0] ^= 1
            frames.append(frame)
        out = self.folder / f"render-{self.calls}.mp4"
        write_clip(frames, out, fps=params["fps"])
        return out


@pytest.fixture
def rendered_journal(journal, tmp_path) -> tuple[Journal, Renderer]:
    render = Renderer(tmp_path)
    rec = Recorder(journal)
    base = {"width": 64, "height": 48, "fps": 8, "frames": 6}
    rec("parameters_set", "maria@brand", "human", parameters=base)
    for i in (1, 2):
        clip = render({**base, "seed": i})
        rec("generation_run", "tessera.generation.diffusion", "system", model=MODEL, model_version=VERSION,
            candidate=f"c{i}", parameters={"seed": i}, outputs={"frames": frame_hashes(clip)})
    rec("candidate_picked", "lena.reviewer", "human", asset=ASSET, candidate="c2", reason="better")
    return journal, render


def test_replay_of_recorded_parameters_matches(rendered_journal):
    journal, render = rendered_journal
    result = replay_check(journal, ASSET, render)
    assert (result.match, result.frames_expected, result.frames_rendered) == (True, 6, 6)
    # Encoded bytes work as well as a path.
    as_bytes = replay_check(journal, ASSET, lambda p: render(p).read_bytes())
    assert as_bytes.match, as_bytes.detail


def test_replay_names_the_first_differing_frame(rendered_journal):
    journal, render = rendered_journal
    result = replay_check(journal, ASSET, lambda p: render({**p, "glitch_frame": 3}))
    assert (result.match, result.first_mismatch) == (False, 3)
    assert "frame 3 differs" in result.detail


def test_replay_of_the_other_candidate_does_not_match(rendered_journal):
    journal, render = rendered_journal
    result = replay_check(journal, ASSET, lambda p: render({**p, "seed": 1}))   # c1's seed, but c2 was picked
    assert (result.match, result.first_mismatch) == (False, 0)

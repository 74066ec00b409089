"""Authorship claims follow the record: who wrote the copy (person, team, machine, unknown), what the
footage is (its recorded digital source type), whose photo it is, and when each decision was made."""
import json
import time
from datetime import datetime, timedelta, timezone

import pytest

from compliance.authorship import authorship_assertion, authorship_report
from compliance.journal import Journal, JournalEvent
from compliance.record import (
    AUTO_PICKER, InputRecord, Pick, Take, human_pick, record_decisions, record_human_edit, record_human_pick,
)
from foundation.primitives import Author, SourceType
from provenance.credentials import load_credentials
from provenance.ledger import Ledger
from provenance.spec import SigningConfig

SKU, LOCALE, SET = "ESP-BLEND-1KG", "de-DE", "4be0c1d2a3f49876"
COPY = {"headline": "Espresso mit perfekter Crema", "cta": "Jetzt kaufen", "captions": "Volle Crema | Frisch"}
CAPTURE = SourceType.DIGITAL_CAPTURE.value
PHOTO = InputRecord("product photo", "coffee.jpg", "ab" * 32,
                    {"source_type": CAPTURE, "origin": "catalog", "c2pa_state": "absent", "signer": None, "note": ""},
                    "Rachel Michetti (photographer)", "CC0 1.0", "products.csv row 1", in_frames=True)
LOGO = InputRecord("brand logo", "logo.png", "cd" * 32,
                   {"source_type": None, "origin": "unknown", "c2pa_state": "absent", "signer": None,
                    "note": "no C2PA manifest, no IPTC digital source type in its XMP, none in the catalog"},
                   "Harbor & Pine Ltd.", "", "brand.json", in_frames=False)


@pytest.fixture(scope="module")
def creds(tmp_path_factory):
    return load_credentials(SigningConfig(home=tmp_path_factory.mktemp("origins-home")))


@pytest.fixture
def journal(tmp_path, creds) -> Journal:
    return Journal.from_credentials(Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}").engine, creds)


def _takes(n: int, model: str = "tessera-motion") -> list[Take]:
    return [Take(i, f"clip{i}", model, "tessera/0.1.0", {"backend": "motion", "seed": i}, (f"frame{i}",))
            for i in range(n)]


def _record(journal: Journal, *, author: str, copy: dict | None = None, pick: Pick | None = None, takes: int = 1,
            source_type: str | None = CAPTURE, model: str = "tessera-motion", vk: str = "vk-1",
            asset: str = "tsr-1", brand: dict | None = None) -> str:
    record_decisions(journal, variant_key=vk, asset_id=asset, takes=_takes(takes, model),
                     pick=pick or Pick(0, AUTO_PICKER, "system", "unattended run"), copy=copy or COPY,
                     copy_author=Author.parse(author), copy_row=2, photo_sha256=PHOTO.sha256, sku=SKU, locale=LOCALE,
                     footage_source_type=source_type, inputs=(PHOTO, LOGO), brand=brand)
    return asset


def _report(journal: Journal, asset: str) -> dict:
    return json.loads(authorship_report(journal, asset, fmt="json"))


def test_machine_translated_copy_is_machine_written_and_the_photo_is_third_party(journal):
    asset = _record(journal, author="mt:DeepL")
    data = _report(journal, asset)
    segments = {s["segment"]: s for s in data["segments"]}
    assert segments["copy:headline"]["classification"] == "ai_generated"
    assert "machine-translated by DeepL" in segments["copy:headline"]["origin"]
    # A camera move over a captured photo is the photo's own pixels: third-party material, not AI footage.
    assert segments["footage"]["classification"] == "third_party"
    excluded = {x["segment"] for x in data["exclude_from_claim"]["material"]}
    assert excluded == {"copy:headline", "copy:cta", "copy:captions"}
    photo, logo = data["third_party_material"]["material"]
    assert (photo["file"], photo["owner"], photo["licence"]) == ("coffee.jpg", "Rachel Michetti (photographer)",
                                                                   "CC0 1.0")
    assert photo["in_asset"] is True and "digitalCapture" in photo["provenance"]
    assert logo["in_asset"] is False and logo["provenance"].startswith("unknown provenance")
    assert data["human_contributions"] == []
    md = authorship_report(journal, asset)
    assert "machine-translated by DeepL" in md and "AI-generated: candidate" not in md
    assert "coffee.jpg" in md and "Rachel Michetti" in md and "CC0 1.0" in md
    copy = next(e for e in journal.events(asset_id=asset) if e.action == "copy_written")
    assert (copy.actor, copy.actor_kind, copy.detail["model"]) == ("DeepL", "system", "DeepL")
    # The signed assertion says the same as the manifest's source type: no "ai_generated" footage.
    classes = {s["segment"]: s["classification"] for s in authorship_assertion(journal, "vk-1")["segments"]}
    assert classes["footage"] == "third_party" and classes["copy:cta"] == "ai_generated"


def test_copy_a_person_wrote_is_human_authorship(journal):
    asset = _record(journal, author="person:Li Wei",
                    brand={"name": "Harbor & Pine", "primary_color": "#0F4C5C", "secondary_color": "#E36414",
                           "text_color": "#FFFFFF", "font_family": "Noto Sans", "author": "team:Brand team",
                           "aspect": "1:1", "aspect_catalog": "locales.csv row 2"})
    data = _report(journal, asset)
    assert {s["classification"] for s in data["segments"] if s["segment"].startswith("copy:")} == {"human"}
    wrote = [(c["actor"], c["summary"]) for c in data["human_contributions"]]
    assert ("Li Wei", "wrote copy:headline") in wrote
    assert any(actor == "Brand team" and "brand kit" in summary for actor, summary in wrote)
    assert data["exclude_from_claim"]["material"] == [] and data["unknown_origin"]["material"] == []


def test_copy_nobody_is_named_for_is_unknown_never_human(journal):
    asset = _record(journal, author="unknown", source_type=None)
    data = _report(journal, asset)
    classes = {s["segment"]: s["classification"] for s in data["segments"]}
    assert classes == {"footage": "unknown", "copy:headline": "unknown", "copy:cta": "unknown",
                       "copy:captions": "unknown"}
    assert {x["segment"] for x in data["unknown_origin"]["material"]} == set(classes)
    assert data["human_contributions"] == [] and data["exclude_from_claim"]["material"] == []
    kinds = {e.actor_kind for e in journal.events(asset_id=asset) if e.action == "copy_written"}
    assert kinds == {"unknown"}


def test_ai_footage_is_excluded_only_when_the_recorded_source_type_is_ai(journal):
    _record(journal, author="person:Li Wei", source_type=SourceType.TRAINED_ALGORITHMIC_MEDIA.value,
            model="Wan2.1-T2V-1.3B", vk="vk-ai", asset="tsr-ai")
    data = _report(journal, "tsr-ai")
    excluded = {x["segment"]: x["why"] for x in data["exclude_from_claim"]["material"]}
    assert list(excluded) == ["footage"] and "trainedAlgorithmicMedia" in excluded["footage"]
    # A camera move over an AI-made photo: the footage is AI-made too.
    _record(journal, author="person:Li Wei", source_type=SourceType.TRAINED_ALGORITHMIC_MEDIA.value,
            vk="vk-aiphoto", asset="tsr-aiphoto")
    footage = next(s for s in _report(journal, "tsr-aiphoto")["segments"] if s["segment"] == "footage")
    assert footage["classification"] == "ai_generated" and "itself AI-made" in footage["origin"]


def test_a_pick_is_reported_at_the_time_it_was_made_with_its_own_event(journal):
    record_human_pick(journal, SET, takes=4, actor="Mei Chen", candidate=1, reason="warmest light")
    picked_at = journal.events(variant_key=f"set:{SET}")[0].at
    time.sleep(1.1)                                   # the render comes later
    pick = human_pick(journal, SET)
    assert pick is not None and pick.at == picked_at
    asset = _record(journal, author="person:Li Wei", pick=pick, takes=4)
    data = _report(journal, asset)
    when = picked_at.isoformat(timespec="seconds")
    assert data["selection"]["at"] == when and data["selection"]["of"] == 4
    assert data["selection"]["statement"].startswith(f"Mei Chen selected candidate 1 of 4 at {when}")
    assert sorted(r["candidate"] for r in data["selection"]["rejected"]) == [0, 2, 3]
    assert {r["at"] for r in data["selection"]["rejected"]} == {when}
    # The reviewer's own events (the journal's first) are in the report, and the pick counts once.
    seqs = [p["seq"] for p in data["process"]["events"]]
    assert seqs[:4] == [1, 2, 3, 4] and len(seqs) == len(set(seqs)) == len(journal.events())
    picks = [c for c in data["human_contributions"] if c["action"] == "candidate_picked"]
    assert [(c["seq"], c["at"]) for c in picks] == [(1, when)]
    restated = next(e for e in journal.events(asset_id=asset) if e.action == "candidate_picked")
    assert restated.at == picked_at and restated.detail["recorded_at_seq"] == 1


def test_an_edit_of_machine_translated_copy_is_the_editors_at_their_time(journal):
    record_human_edit(journal, sku=SKU, locale=LOCALE, field="headline", before=COPY["headline"],
                      after="Frisch geröstet", actor="Jonas Weber")
    record_human_edit(journal, sku=SKU, locale=LOCALE, field="headline", before="Frisch geröstet",
                      after="Frisch geröstet, jeden Morgen", actor="Ana Ruiz")
    edited_at = [e.at for e in journal.events(variant_key=f"copy:{SKU}:{LOCALE}")]
    asset = _record(journal, author="mt:DeepL", copy={**COPY, "headline": "Frisch geröstet, jeden Morgen"})
    events = journal.events(asset_id=asset)
    written = next(e for e in events if e.action == "copy_written" and e.detail["segment"] == "copy:headline")
    assert written.detail["text"] == COPY["headline"] and written.actor == "DeepL"   # what the engine wrote
    assert [(e.actor, e.at) for e in events if e.action == "edit_applied"] == \
        [("Jonas Weber", edited_at[0]), ("Ana Ruiz", edited_at[1])]
    data = _report(journal, asset)
    headline = next(s for s in data["segments"] if s["segment"] == "copy:headline")
    assert headline["classification"] == "ai_generated_modified_by_human" and len(headline["modified_by"]) == 2
    edits = [(c["actor"], c["seq"]) for c in data["human_contributions"] if c["action"] == "edit_applied"]
    assert edits == [("Jonas Weber", 1), ("Ana Ruiz", 2)]


def test_a_journal_written_before_origins_were_recorded_still_verifies_and_claims_no_human_copy(journal):
    at = datetime(2026, 11, 1, 9, tzinfo=timezone.utc)
    # What a render recorded before: copy "by" an unnamed author as human, a camera move with no source type.
    journal.append(JournalEvent("vk-old", "copy author (catalog copy row 5, zh-CN)", "human", "copy_written",
                                asset_id="tsr-old", detail={"segment": "copy:headline", "text": "唤醒"}, at=at))
    journal.append(JournalEvent("vk-old", "tessera", "system", "generation_run", asset_id="tsr-old",
                                detail={"model": "tessera-motion", "model_version": "tessera/0.1.0", "candidate": 0,
                                        "parameters": {"seed": 0}}, at=at + timedelta(seconds=1)))
    assert journal.verify().ok
    classes = {s["segment"]: s["classification"] for s in _report(journal, "tsr-old")["segments"]}
    assert classes == {"footage": "unknown", "copy:headline": "unknown"}

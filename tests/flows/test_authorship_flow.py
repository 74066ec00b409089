"""Candidates, a person's pick and edit, the journal and its reports, through real renders."""
import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from compliance.journal import Journal
from flow_catalogs import small_catalog
from flows.cli import cli
from flows.render import run_render
from pipeline.settings import Settings
from generation.plan import RenderOptions
from provenance import load_credentials, read_c2pa
from provenance.ledger import Ledger

SKU = "ESP-BLEND-1KG"


def _settings(home: Path, **options) -> Settings:
    return Settings.build(home=home, options=RenderOptions(short_side=288, candidates=4, **options))


def _cli(home: Path, *args: str):
    return CliRunner().invoke(cli, [*args, "--home", str(home)], catch_exceptions=False)


def _journal(settings: Settings) -> Journal:
    return Journal.from_credentials(Ledger(settings.ledger_url).engine, load_credentials(settings.signing))


def _first_render(root: Path):
    """Four takes per base clip rendered under --require-review: held until a person picks one."""
    catalog = small_catalog(root / "catalog", locales=("de-DE", "ja-JP"), aspects="1:1")
    settings = _settings(root / "home", require_review=True)
    first = run_render(catalog, root / "out", settings)
    return root, catalog, settings, first


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory):
    """Shared by the tests that pick, edit and approve nothing (or are refused)."""
    return _first_render(tmp_path_factory.mktemp("authorship"))


@pytest.fixture
def reviewed_own(tmp_path):
    """A first render of this test's own: for a test that picks, edits the catalog and approves."""
    return _first_render(tmp_path)


@pytest.mark.slow
def test_required_review_holds_everything_until_a_person_picks(reviewed):
    root, _, settings, first = reviewed
    assert (first.rendered, first.awaiting_pick, first.failed) == (0, 2, 0)
    assert not list((root / "out").rglob("*.mp4"))
    listing = json.loads(_cli(settings.home, "review", "takes", "--json").output)
    assert len(listing) == 1 and listing[0]["takes"] == 4 and listing[0]["picked"] is None
    assert Path(listing[0]["sheet"]).stat().st_size > 0
    shown = json.loads(_cli(settings.home, "review", "show", listing[0]["set"], "--candidate", "3", "--json").output)
    assert shown["sheet"] == listing[0]["sheet"] and [t["take"] for t in shown["takes"]] == [3]
    assert shown["takes"][0]["params"]["seed"] != json.loads(_cli(
        settings.home, "review", "show", listing[0]["set"], "--json").output)["takes"][0]["params"]["seed"]
    text = _cli(settings.home, "review", "show", listing[0]["set"]).output
    assert "awaiting a pick" in text and text.count("take ") >= 4
    assert _cli(settings.home, "review", "show", listing[0]["set"], "--candidate", "9").exit_code == 1


@pytest.mark.slow
def test_refusals_record_nothing(reviewed):
    _, catalog, settings, _ = reviewed
    set_id = json.loads(_cli(settings.home, "review", "takes", "--json").output)[0]["set"]
    before = len(_journal(settings).events())
    assert _cli(settings.home, "review", "pick", set_id, "--candidate", "7", "--by", "Mei Chen").exit_code == 1
    assert _cli(settings.home, "review", "pick", set_id, "--candidate", "1", "--by", "  ").exit_code == 1
    assert _cli(settings.home, "review", "pick", "0000000000000000", "--candidate", "1", "--by", "Mei").exit_code == 1
    assert _cli(settings.home, "review", "edit", str(catalog), SKU, "de-DE", "--field", "headline",
                "--text", "x", "--by", "").exit_code == 1
    assert len(_journal(settings).events()) == before


@pytest.mark.slow
def test_pick_edit_and_report_name_the_people_and_what_they_did(reviewed_own):
    root, catalog, settings, _ = reviewed_own
    set_id = json.loads(_cli(settings.home, "review", "takes", "--json").output)[0]["set"]
    assert _cli(settings.home, "review", "pick", set_id, "--candidate", "2", "--by", "Mei Chen",
                "--reason", "warmest light on the crema").exit_code == 0
    picked_at = _journal(settings).events(variant_key=f"set:{set_id}")[0].at.isoformat(timespec="seconds")
    listed = json.loads(_cli(settings.home, "review", "takes", "--json").output)[0]["picked"]
    assert (listed["candidate"], listed["by"], listed["at"]) == (2, "Mei Chen", picked_at)
    assert _cli(settings.home, "review", "edit", str(catalog), SKU, "de-DE", "--field", "headline",
                "--text", "Frisch geröstet, jeden Morgen", "--by", "Jonas Weber").exit_code == 0
    time.sleep(1.1)    # the render comes later than the pick: the report keeps the pick's own time
    # Picked is not yet approved: every variant waits, unsigned, for a person's approval.
    second = run_render(catalog, root / "out", settings)
    assert (second.rendered, second.awaiting_pick, second.review, second.failed) == (0, 0, 2, 0)
    assert not list((root / "out").rglob("*.mp4"))
    held = json.loads(_cli(settings.home, "review", "list", "--json").output)
    assert {h["asset_id"] for h in held} == {o.asset_id for o in second.outcomes}
    assert all("--require-review" in " ".join(h["reasons"]) for h in held)
    de = next(o for o in second.outcomes if o.locale == "de-DE")
    ja = next(o for o in second.outcomes if o.locale == "ja-JP")
    approved = _cli(settings.home, "review", "approve", de.asset_id, "--by", "Ana Ruiz", "--reason", "brand check done")
    assert approved.exit_code == 0, approved.output
    rejected = _cli(settings.home, "review", "reject", ja.asset_id, "--by", "Ana Ruiz", "--reason", "price not final")
    assert rejected.exit_code == 0, rejected.output
    assert [p.name for p in (root / "out").rglob("*.mp4")] == [Path(de.path).name]
    md = _cli(settings.home, "authorship", "report", de.asset_id).output
    for expected in ("Mei Chen", "warmest light on the crema", "Jonas Weber", "Frisch geröstet, jeden Morgen",
                     "Ana Ruiz", "approved the asset for publishing", "brand check done"):
        assert expected in md
    data = json.loads(_cli(settings.home, "authorship", "report", de.asset_id, "--format", "json").output)
    selection = data["selection"]
    assert selection["human_selection"] is True and selection["actor"] == "Mei Chen" and selection["candidate"] == 2
    assert selection["at"] == picked_at and selection["of"] == 4
    assert f"Mei Chen selected candidate 2 of 4 at {picked_at}" in md
    assert data["process"]["events"][0]["seq"] == 1          # the journal's first event: the pick itself
    # The demo photo is third-party material with its owner and licence; its footage is not AI-generated.
    photo = next(m for m in data["third_party_material"]["material"] if m["material"] == "product photo")
    assert (photo["file"], photo["licence"]) == ("coffee.jpg", "CC0 1.0") and "Rachel Michetti" in photo["owner"]
    classes = {s["segment"]: s["classification"] for s in data["segments"]}
    assert classes["footage"] == "third_party" and "AI-generated: candidate" not in md
    # de-DE copy is the Berlin copy desk's (a team: human); Jonas Weber's edit is his.
    assert classes["copy:cta"] == "human" and classes["copy:headline"] == "human"
    assert ("Berlin copy desk", "copy_written") in [(c["actor"], c["action"]) for c in data["human_contributions"]]
    assert sorted(r["candidate"] for r in selection["rejected"]) == [0, 1, 3]
    assert {r["by"] for r in selection["rejected"]} == {"Mei Chen"}
    # The signed manifest carries the authorship assertion with the journal head.
    manifest = json.loads(read_c2pa(Path(de.path), None).manifest_json)
    labels = [a["label"] for a in manifest["manifests"][manifest["active_manifest"]]["assertions"]]
    assert "com.tessera.authorship" in labels
    # ... made at approval, so it lists the approval among the human contributions.
    assertion = next(a["data"] for a in manifest["manifests"][manifest["active_manifest"]]["assertions"]
                     if a["label"] == "com.tessera.authorship")
    assert any(c["action"] == "approval" for c in assertion["human_contributions"])
    assert {s["segment"]: s["classification"] for s in assertion["segments"]}["footage"] == "third_party"
    verify = _cli(settings.home, "authorship", "verify")
    assert verify.exit_code == 0 and "intact" in verify.output
    replay = _cli(settings.home, "authorship", "replay", de.asset_id)
    assert replay.exit_code == 0 and replay.output.startswith("match")


@pytest.mark.slow
def test_an_unattended_run_claims_no_human_selection(tmp_path):
    catalog = small_catalog(tmp_path / "catalog", locales=("de-DE",), aspects="1:1")
    settings = _settings(tmp_path / "home")
    summary = run_render(catalog, tmp_path / "out", settings)
    assert (summary.rendered, summary.awaiting_pick) == (1, 0)
    asset = summary.outcomes[0].asset_id
    data = json.loads(_cli(settings.home, "authorship", "report", asset, "--format", "json").output)
    assert data["selection"]["human_selection"] is False
    assert "no human selection" in _cli(settings.home, "authorship", "report", asset).output.lower()


@pytest.mark.slow
def test_machine_translated_copy_is_reported_as_machine_written(tmp_path):
    catalog = small_catalog(tmp_path / "catalog", locales=("ja-JP",), aspects="1:1")
    settings = Settings.build(home=tmp_path / "home", options=RenderOptions(short_side=288))
    asset = run_render(catalog, tmp_path / "out", settings).outcomes[0].asset_id
    md = _cli(settings.home, "authorship", "report", asset).output
    assert "machine-translated by DeepL" in md and "## Human contributions" in md
    data = json.loads(_cli(settings.home, "authorship", "report", asset, "--format", "json").output)
    excluded = {x["segment"] for x in data["exclude_from_claim"]["material"]}
    assert excluded == {"copy:headline", "copy:cta", "copy:captions"}          # not the footage
    assert not [c for c in data["human_contributions"] if c["action"] == "copy_written"]


@pytest.mark.slow
def test_required_review_with_one_take_holds_each_variant_for_approval(tmp_path):
    catalog = small_catalog(tmp_path / "catalog", locales=("de-DE",), aspects="1:1")
    settings = Settings.build(home=tmp_path / "home", options=RenderOptions(short_side=288, require_review=True))
    summary = run_render(catalog, tmp_path / "out", settings)
    assert (summary.rendered, summary.awaiting_pick, summary.review) == (0, 0, 1)
    assert not list((tmp_path / "out").rglob("*.mp4"))
    assert (settings.review_dir / f"{summary.outcomes[0].asset_id}.mp4").is_file()

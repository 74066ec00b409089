"""Continuous compliance: `tessera recheck` re-assesses published assets against today's registries and rules,
without re-rendering. An asset whose consent has expired, that shows a protected work registered since, or that
lacks the label of a rule now in force is withdrawn, journalled, its file quarantined or listed for takedown as
the home is set, and `tessera audit` says withdrawn."""
from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image
from skimage import data

from compliance.assess import open_registries
from compliance.likeness import face_embedding
from flow_catalogs import small_catalog
from flows.cli import cli
from pipeline.settings import Settings
from pipeline.workspace import Workspace
from provenance.ledger import Ledger

pytestmark = pytest.mark.slow   # a whole render, then a recheck that decodes it


def _cli(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _events(home: Path):
    return [e for e in Workspace(Settings.build(home=home)).journal.events() if e.action == "withdrawal"]


def _assert_withdrawn(home: Path, gone: dict, video: Path) -> None:
    """The ledger row withdrawn, one journal event with the reasons and what was done, `tessera audit` failing
    the file as withdrawn."""
    assert Workspace(Settings.build(home=home)).ledger.asset(gone["asset_id"]).status == "withdrawn"
    (event,) = _events(home)
    assert (event.asset_id, event.actor_kind, event.detail["reasons"]) == (gone["asset_id"], "system", gone["reasons"])
    assert event.detail["disposition"] == gone["disposition"] and event.detail["path"] == gone["path"]
    audited = _cli("audit", "--json", "--home", str(home), str(video))
    (row,) = json.loads(audited.output)
    assert audited.exit_code == 1 and row["verdict"] == "fail", row
    assert any(p.startswith(f"withdrawn: asset {gone['asset_id']}") for p in row["problems"]), row["problems"]


def test_an_expired_consent_withdraws_the_published_asset(tmp_path):
    catalog = small_catalog(tmp_path / "catalog", locales=("de-DE",), aspects="1:1")
    Image.fromarray(data.astronaut()).save(catalog / "photos" / "coffee.jpg", quality=95)
    home = tmp_path / "home"
    open_registries(Ledger(Settings.build(home=home).ledger_url).engine).likeness.add_consent(
        "Eileen Collins", face_embedding(data.astronaut()), regions="EU", products="*",
        expires_on=date(2027, 6, 30), record_ref="release-1.pdf")
    rendered = _cli("render", str(catalog), "--out", str(tmp_path / "out"), "--home", str(home),
                    "--short-side", "480", "--workers", "1", "--as-of", "2026-12-01")
    assert rendered.exit_code == 0, rendered.output
    (video,) = (tmp_path / "out").rglob("*.mp4")

    still = _cli("recheck", "--home", str(home), "--as-of", "2027-06-30")    # the consent's last day
    assert still.exit_code == 0 and still.output.strip().endswith("1 rechecked, 0 withdrawn"), still.output
    after = _cli("recheck", "--home", str(home), "--as-of", "2027-07-01", "--json")
    assert after.exit_code == 1, after.output
    (gone,) = json.loads(after.output)["withdrawn"]
    assert any("consent expired on 2027-06-30" in r for r in gone["reasons"]), gone
    # the home's default: the file leaves its output folder for the quarantine, and the journal says where
    moved = Path(gone["moved_to"])
    assert gone["disposition"] == "quarantined" and moved.is_file() and not video.exists(), gone
    assert moved.is_relative_to(home / "quarantine" / "withdrawn" / gone["asset_id"]) and moved.name == video.name
    _assert_withdrawn(home, gone, moved)
    assert _events(home)[0].detail["moved_to"] == str(moved)


def test_a_newly_registered_protected_work_withdraws_the_asset_showing_it(tmp_path):
    catalog = small_catalog(tmp_path / "catalog", locales=("de-DE",), aspects="1:1")
    home = tmp_path / "home"
    assert _cli("render", str(catalog), "--out", str(tmp_path / "out"), "--home", str(home), "--short-side", "288",
                "--workers", "1").exit_code == 0
    (video,) = (tmp_path / "out").rglob("*.mp4")
    assert _cli("withdrawal", "set", "takedown-list", "--home", str(home)).exit_code == 0
    assert _cli("recheck", "--home", str(home)).exit_code == 0
    added = _cli("protected", "add", str(catalog / "photos" / "coffee.jpg"), "--title", "Crema still life",
                 "--owner", "Studio X", "--home", str(home))
    assert added.exit_code == 0, added.output
    after = _cli("recheck", "--home", str(home), "--json")
    (gone,) = json.loads(after.output)["withdrawn"]
    assert after.exit_code == 1 and any("protected work 'Crema still life'" in r for r in gone["reasons"]), gone
    # set to a takedown list: the file stays where it was published, and the list names it with why
    assert (gone["disposition"], gone["moved_to"], video.is_file()) == ("listed for takedown", None, True)
    (entry,) = json.loads((home / "takedown.json").read_text())
    assert (entry["asset_id"], entry["path"], entry["reasons"]) == (gone["asset_id"], str(video), gone["reasons"])
    _assert_withdrawn(home, gone, video)
    assert _events(home)[0].detail["takedown_list"] == str(home / "takedown.json")
    assert _cli("recheck", "--home", str(home)).output.strip() == "0 rechecked, 0 withdrawn"   # once, not nightly


def test_a_rule_whose_effective_date_moves_into_the_past_withdraws_an_asset_made_without_its_label(tmp_path):
    catalog = small_catalog(tmp_path / "catalog", locales=("de-DE",), aspects="1:1")
    products = catalog / "products.csv"
    rows = products.read_text().splitlines()
    rows[1] = rows[1].replace(",digitalCapture,", ",trainedAlgorithmicMedia,")   # an AI-made photo: AI content
    products.write_text("\n".join(rows) + "\n")
    locales = catalog / "locales.csv"
    locales.write_text(locales.read_text().replace(",EU,", ",EU;XF,"))
    home = tmp_path / "home"
    (home / "rules").mkdir(parents=True)
    (home / "rules" / "XF.json").write_text(json.dumps({
        "profile": "XF", "name": "A future rule", "note": "test",
        "rules": [{"id": "xf-label", "sources": [{"title": "Future Act", "citation": "s. 2"}],
                   "effective_from": "2027-03-01", "applicability": "any AI content, from March 2027",
                   "applies_to": "any_ai",
                   "visible_label": {"text": {"default": "KI-INHALT"}, "position": "top-right", "min_duration_s": 1.0,
                                     "min_height_frac": 0.04, "at_start": True}}]}))
    rendered = _cli("render", str(catalog), "--out", str(tmp_path / "out"), "--home", str(home), "--short-side", "288",
                    "--workers", "1", "--as-of", "2026-12-01")
    assert rendered.exit_code == 0, rendered.output
    assert _cli("recheck", "--home", str(home), "--as-of", "2026-12-02").exit_code == 0     # not in force yet
    # the rule's effective date is moved into the past (it turns out to apply already): the next recheck withdraws
    rule_file = home / "rules" / "XF.json"
    rule_file.write_text(rule_file.read_text().replace('"2027-03-01"', '"2026-11-15"'))
    after = _cli("recheck", "--home", str(home), "--as-of", "2026-12-02", "--json")
    (gone,) = json.loads(after.output)["withdrawn"]
    assert after.exit_code == 1
    assert gone["reasons"] == ["rule xf-label now requires the label 'KI-INHALT', which the published file lacks"]
    _assert_withdrawn(home, gone, Path(gone["moved_to"]))

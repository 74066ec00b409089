"""Markets with several rule profiles, a baseline profile, and rule profiles of the user's own (a rules
folder outside the package, validated with the same schema)."""
from __future__ import annotations

import json
import shutil
from datetime import date

import pytest
from PIL import Image
from skimage import data
from sqlalchemy import create_engine

from compliance.assess import assess_base_clip, open_registries
from compliance.decide import LATENT_LABEL, GateError, decide, profile_for, rules_digest
from compliance.likeness import FaceModels
from compliance.rules import DEFAULT_RULES_DIR, RuleFileError, load_profiles, visible_labels
from generation.motion import make_base_clip

ON = date(2026, 9, 1)       # US-CA SB 942 and NY GBL 396-b both in force
WHO = dict(provider="Acme Coffee Inc.", system="Tessera", system_version="0.1.0")


def _profile(code: str, text: str, *, seconds: float, height: float) -> dict:
    return {"profile": code, "name": f"Market {code}", "note": "a test market",
            "rules": [{"id": f"{code.lower()}-label", "sources": [{"title": "Test Act", "citation": "s. 1"}],
                       "applicability": "AI content in this market",
                       "effective_from": "2026-01-01", "applies_to": "any_ai",
                       "visible_label": {"text": {"default": text}, "position": "top-right",
                                         "min_duration_s": seconds, "min_height_frac": height, "at_start": True}}]}


def _write(folder, doc) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{doc['profile']}.json").write_text(json.dumps(doc))


@pytest.fixture(scope="module")
def astronaut_clip(tmp_path_factory):
    folder = tmp_path_factory.mktemp("profiles")
    Image.fromarray(data.astronaut()).save(folder / "astronaut.png")
    return make_base_clip(folder / "astronaut.png", cache_dir=folder / "clips", size=288, fps=12, duration_s=3.5,
                          seed=3)


def test_an_en_us_market_with_us_ca_and_us_ny_gets_both_profiles_requirements(astronaut_clip, tmp_path):
    registries = open_registries(create_engine(f"sqlite:///{tmp_path / 'ledger.db'}"))
    a = assess_base_clip(astronaut_clip, registries=registries, models=FaceModels.load())
    d = decide(a, region_profile="US-CA;US-NY", region="US", language="en", sku="SKU-1", as_of=ON,
               ai_generated=True, asset_id="tsr-us-0001", advertising=True, **WHO)
    assert d.facts.synthetic_performer and d.verdict == "pass", d.reasons
    assert d.region_profile == "US-CA;US-NY"
    assert set(d.rules_applied) == {"us-ca-sb942-latent-disclosure", "us-ny-gbl-396b-synthetic-performer"}
    assert [(r.rule_id, r.profile, r.text) for r in d.labels] == [
        ("us-ny-gbl-396b-synthetic-performer", "US-NY", "SYNTHETIC PERFORMER")]             # NY's disclosure
    latent = json.loads(dict(d.c2pa_assertions)[LATENT_LABEL])                              # and CA's fields
    assert latent["provider"] == "Acme Coffee Inc." and latent["unique_id"] == "tsr-us-0001"
    # the variant key sees both profiles: a rule change in either re-renders
    assert rules_digest("US-CA;US-NY", ON) not in (rules_digest("US-CA", ON), rules_digest("US-NY", ON))


def test_two_profiles_asking_for_the_same_label_get_the_stricter_one(tmp_path):
    _write(tmp_path / "mine", _profile("XA", "AI GENERATED", seconds=3.0, height=0.06))
    _write(tmp_path / "mine", _profile("XB", "AI GENERATED", seconds=2.0, height=0.08))
    both = profile_for("XA;XB", (DEFAULT_RULES_DIR, tmp_path / "mine"))
    (label,) = visible_labels(both.rules, "en")
    assert (label.text, label.min_duration_s, label.min_height_frac, label.at_start) == ("AI GENERATED", 3.0, 0.08, True)


def test_a_baseline_profile_ships_and_is_named_explicitly():
    baseline = load_profiles()["BASELINE"]
    assert baseline.baseline and baseline.rules == () and "watermark" in baseline.note
    with pytest.raises(GateError, match="'TH' is not one of .*can name BASELINE"):
        profile_for("TH")                                  # an unknown market never falls back silently


def test_a_user_rules_folder_adds_profiles_and_may_not_redefine_one(tmp_path):
    mine = tmp_path / "mine"
    _write(mine, _profile("BR", "CONTEÚDO GERADO POR IA", seconds=2.0, height=0.04))
    profiles = load_profiles((DEFAULT_RULES_DIR, mine))
    assert profiles["BR"].rules[0].sources[0].title == "Test Act" and "EU" in profiles
    assert not (DEFAULT_RULES_DIR / "BR.json").exists()
    shutil.copy(DEFAULT_RULES_DIR / "CN.json", mine / "CN.json")
    with pytest.raises(RuleFileError, match=r"mine/CN\.json: profile: 'CN' is already defined by .*rules/CN\.json"):
        load_profiles((DEFAULT_RULES_DIR, mine))


def test_a_malformed_user_rules_file_names_the_file_and_the_field(tmp_path):
    mine = tmp_path / "mine"
    doc = _profile("BR", "IA", seconds=2.0, height=0.04)
    doc["rules"][0]["visible_label"]["min_height_frac"] = "big"
    _write(mine, doc)
    with pytest.raises(RuleFileError) as info:
        load_profiles((DEFAULT_RULES_DIR, mine))
    assert str(info.value) == (f"{mine / 'BR.json'}: rules[0].visible_label.min_height_frac: "
                               f"expected a number, got 'big'")

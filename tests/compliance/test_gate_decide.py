"""The gate's region decision on real base clips: dlib faces assessed once, then judged per region, product and date."""
from __future__ import annotations

import json
import shutil
from datetime import date, datetime, timezone

import numpy as np
import pytest
from PIL import Image
from skimage import data
from sqlalchemy import create_engine

from compliance.assess import assess_base_clip, open_registries
from compliance.decide import COMPLIANCE_LABEL, LATENT_LABEL, SOURCE_TYPE_KEY, GateError, decide, rules_digest
from compliance.likeness import FaceModels, face_embedding
from compliance.rules import CN_AIGC_FIELDS, DEFAULT_RULES_DIR
from generation.motion import make_base_clip

ON = date(2026, 9, 1)
WHO = dict(provider="Acme Coffee GmbH", system="Tessera", system_version="0.1.0")


@pytest.fixture(scope="module")
def models() -> FaceModels:
    return FaceModels.load()


@pytest.fixture(scope="module")
def astronaut(models) -> np.ndarray:
    """Her embedding, registered from the still photo (the clip under test is a camera move over it)."""
    return face_embedding(data.astronaut(), models)


@pytest.fixture(scope="module")
def bases(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gate-bases")
    Image.fromarray(data.astronaut()).save(folder / "astronaut.png")
    Image.fromarray(data.coffee()).save(folder / "coffee.png")
    make = dict(cache_dir=folder / "clips", size=288, fps=12, duration_s=2.5, seed=3)
    return {"astronaut": make_base_clip(folder / "astronaut.png", **make),
            "coffee": make_base_clip(folder / "coffee.png", **make)}


def _registries(tmp_path):
    return open_registries(create_engine(f"sqlite:///{tmp_path / 'ledger.db'}"))


def _decide(assessment, *, profile="EU", region="DE", language="de", sku="SKU-1", as_of=ON, ai=False, **kw):
    return decide(assessment, region_profile=profile, region=region, language=language, sku=sku, as_of=as_of,
                  ai_generated=ai, asset_id="tsr-test-0001", **WHO, **kw)


def _at_distance(vec: np.ndarray, distance: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    d = rng.standard_normal(vec.shape).astype(np.float32)
    return (vec + distance * d / np.linalg.norm(d)).astype(np.float32)


# ---------------------------------------------------------------- rules digest


def test_rules_digest_changes_when_a_rule_takes_effect_not_with_the_day():
    assert rules_digest("EU", date(2026, 9, 1)) == rules_digest("EU", date(2026, 9, 2))
    assert rules_digest("EU", date(2026, 8, 1)) != rules_digest("EU", date(2026, 8, 2))    # Art. 50 in force
    assert rules_digest("CN", date(2025, 10, 1)) == rules_digest("CN", date(2026, 10, 1))
    assert rules_digest("CN", date(2025, 8, 31)) != rules_digest("CN", date(2025, 9, 1))
    assert rules_digest("EU", ON) != rules_digest("CN", ON)
    assert len(rules_digest("JP", ON)) == 64                                                # baseline profiles too


def test_rules_digest_follows_a_changed_requirement_not_a_changed_note(tmp_path):
    rules = tmp_path / "rules"
    shutil.copytree(DEFAULT_RULES_DIR, rules)
    before = rules_digest("CN", ON, rules_dir=rules)
    doc = json.loads((rules / "CN.json").read_text())
    doc["rules"][0]["note"] = "reworded note"
    (rules / "CN.json").write_text(json.dumps(doc, ensure_ascii=False))
    assert rules_digest("CN", ON, rules_dir=rules) == before
    doc["rules"][0]["visible_label"]["min_height_frac"] = 0.06
    (rules / "CN.json").write_text(json.dumps(doc, ensure_ascii=False))
    assert rules_digest("CN", ON, rules_dir=rules) != before


def test_unknown_profile_is_named():
    with pytest.raises(GateError, match="rule profile 'XX' is not one of .*CN.*EU"):
        rules_digest("XX", ON)


# ---------------------------------------------------------------- likeness, assessed once


@pytest.mark.slow
def test_watch_listed_person_is_blocked_in_every_region(bases, models, astronaut, tmp_path):
    reg = _registries(tmp_path)
    entry = reg.likeness.add_watch("Eileen Collins", astronaut, reason="public figure, no endorsement", added_by="legal@acme")
    reg.likeness.add_watch("Someone else", _at_distance(astronaut, 1.2), reason="far away", added_by="legal@acme")
    a = assess_base_clip(bases["astronaut"], registries=reg, models=models)
    assert a.frames_checked == 5 and a.registry_sizes == (2, 0, 0)   # 30 frames, every 6th (2 per second)
    assert [w.id for w in a.watch] == [entry]                          # only entries near a face are kept
    for profile, region in (("EU", "DE"), ("CN", "CN"), ("US-CA", "US")):
        d = _decide(a, profile=profile, region=region)
        assert d.verdict == "block"
        assert "watch-list entry 'Eileen Collins'" in d.reasons[0] and "no endorsement" in d.reasons[0]
        assert any(f.outcome == "watch_listed" and f.entry == f"watch #{entry}" for f in d.faces)


def test_consent_is_judged_per_region_product_and_date(bases, models, astronaut, tmp_path):
    reg = _registries(tmp_path)
    reg.likeness.add_consent("Model A", astronaut, regions="CN,DE", products="SKU-1", expires_on=date(2026, 12, 31),
                             record_ref="release-0042.pdf")
    a = assess_base_clip(bases["astronaut"], registries=reg, models=models)
    ok = _decide(a, profile="CN", region="CN", language="zh")
    assert ok.verdict == "pass" and ok.reasons == ()
    assert any(f.outcome == "consented" and f.name == "Model A" for f in ok.faces)
    assert _decide(a, profile="EU", region="DE").verdict == "pass"          # the consent names the market
    expired = _decide(a, profile="CN", region="CN", as_of=date(2027, 1, 1))
    assert expired.verdict == "block" and "consent expired on 2026-12-31" in expired.reasons[0]
    assert "release-0042.pdf" in expired.reasons[0] and "(frames 0, 6" in expired.reasons[0]
    other_region = _decide(a, profile="US-CA", region="US")
    assert other_region.verdict == "block" and "region US-CA not in consent regions CN,DE" in other_region.reasons[0]
    other_product = _decide(a, profile="CN", region="CN", sku="SKU-2")
    assert other_product.verdict == "block" and "product SKU-2 not in consent products SKU-1" in other_product.reasons[0]


@pytest.mark.slow
def test_a_face_in_the_uncertain_band_waits_for_review(bases, models, tmp_path):
    # A look-alike registered 0.55 from the centre of her faces in this very clip: every sighting is
    # then 0.5-0.6 away (a random direction in 128-d is almost orthogonal to the sightings' spread).
    (tmp_path / "empty").mkdir()
    first = assess_base_clip(bases["astronaut"], registries=_registries(tmp_path / "empty"), models=models)
    faces = np.stack([f.vector for f in first.faces if f.detection_score > 0.3])
    centre = faces.mean(axis=0)
    reg = _registries(tmp_path)
    reg.likeness.add_watch("Look-alike", _at_distance(centre, 0.55), reason="lookalike", added_by="legal@acme")
    a = assess_base_clip(bases["astronaut"], registries=reg, models=models)
    d = _decide(a)
    assert d.verdict == "review", d.reasons
    assert d.reasons[0].startswith("face is close to watch-list entry 'Look-alike'")
    assert all(0.5 <= f.distance < 0.6 for f in d.faces if f.outcome == "uncertain")


def test_unknown_face_in_ai_content_is_a_synthetic_performer_with_its_labels(bases, models, tmp_path):
    a = assess_base_clip(bases["astronaut"], registries=_registries(tmp_path), models=models)
    eu = _decide(a, ai=True)
    assert eu.verdict == "pass"
    assert eu.facts.synthetic_performer and eu.facts.deepfake and eu.facts.realistic_people
    assert [(r.rule_id, r.text, r.position) for r in eu.labels] == [
        ("eu-aia-art50-4-deepfake-generated", "AI GENERATED", "top-right")]
    assert eu.label_min_heights == (0.04,)
    ny = _decide(a, profile="US-NY", region="US", language="es", ai=True, advertising=True)
    assert [(r.rule_id, r.text, r.min_duration_s) for r in ny.labels] == [
        ("us-ny-gbl-396b-synthetic-performer", "INTÉRPRETE SINTÉTICO", 3.0)]
    assert ny.verdict == "block" and "asks for 3 s" in ny.reasons[0]       # the clip is 2.5 s: no label fits
    # the same face in a photo ad (not AI) is a real person without a consent record
    real = _decide(a, ai=False)
    assert real.verdict == "block" and real.reasons[0].startswith("real person with no consent record")
    assert real.labels == () and not real.facts.deepfake


def test_china_ai_content_gets_its_label_and_one_aigc_object(bases, models, tmp_path):
    a = assess_base_clip(bases["coffee"], registries=_registries(tmp_path), models=models)
    assert a.faces == () and a.frames_checked == 5
    d = _decide(a, profile="CN", region="CN", language="zh", ai=True,
                digital_source_type="trainedAlgorithmicMedia")
    assert d.verdict == "pass" and not d.facts.realistic_people
    assert d.rules_applied == ("cn-cac-explicit-video", "cn-cac-implicit-metadata")
    (label,) = d.labels
    assert (label.text, label.position, label.min_height_frac, label.min_duration_s, label.at_start) == (
        "AI生成", "top-right", 0.05, 2.0, True)
    aigc = json.loads(d.mp4_metadata["AIGC"])
    assert list(aigc) == list(CN_AIGC_FIELDS)
    assert (aigc["Label"], aigc["ContentProducer"], aigc["ProduceID"]) == ("1", "Acme Coffee GmbH", "tsr-test-0001")
    assert d.mp4_metadata[SOURCE_TYPE_KEY].endswith("/trainedAlgorithmicMedia")
    record = json.loads(dict(d.c2pa_assertions)[COMPLIANCE_LABEL])
    assert record["rule_profile"] == "CN" and record["rules_applied"] == list(d.rules_applied)
    assert record["rules_digest"] == rules_digest("CN", ON) and record["content"]["ai_generated"] is True
    # before the measures took effect nothing was required
    early = _decide(a, profile="CN", region="CN", language="zh", ai=True, as_of=date(2025, 8, 31))
    assert early.labels == () and early.mp4_metadata == {} and early.rules_in_force == ()
    # a product photo moved by a camera is not AI content: no AI label applies
    photo_ad = _decide(a, profile="CN", region="CN", language="zh", ai=False)
    assert photo_ad.labels == () and "AIGC" not in photo_ad.mp4_metadata


def test_california_gets_the_latent_disclosure_in_the_manifest(bases, models, tmp_path):
    a = assess_base_clip(bases["coffee"], registries=_registries(tmp_path), models=models)
    made = datetime(2026, 9, 1, 12, 30, tzinfo=timezone.utc)
    d = _decide(a, profile="US-CA", region="US", language="en", ai=True, created_at=made)
    assert d.labels == () and d.mp4_metadata == {}
    latent = json.loads(dict(d.c2pa_assertions)[LATENT_LABEL])
    assert latent == {"provider": "Acme Coffee GmbH", "system_name": "Tessera", "system_version": "0.1.0",
                      "created_at": "2026-09-01T12:30:00+00:00", "unique_id": "tsr-test-0001",
                      "rule_ids": ["us-ca-sb942-latent-disclosure"]}
    assert LATENT_LABEL not in dict(_decide(a, profile="US-CA", region="US", ai=False).c2pa_assertions)
    # the system that made the pixels is named next to Tessera
    model = ("Wan-AI/Wan2.1-T2V-1.3B-Diffusers", "0fad780a534b6463e45facd96134c9f345acfa5b")
    by_model = _decide(a, profile="US-CA", region="US", language="en", ai=True, created_at=made,
                       generative_system=model)
    latent = json.loads(dict(by_model.c2pa_assertions)[LATENT_LABEL])
    assert latent["system_name"] == "Tessera" and latent["generative_system"] == {"name": model[0], "version": model[1]}


def test_decide_refuses_empty_provider():
    from compliance.assess import BaseAssessment
    empty = BaseAssessment("k", 12.0, 24, 4, (), (), (), (), (0, 0, 0), 0.0)
    with pytest.raises(GateError, match="provider must be a non-empty string"):
        decide(empty, region_profile="EU", region="DE", language="de", sku="S", as_of=ON, ai_generated=True,
               asset_id="tsr-1", provider=" ", system="Tessera", system_version="1")

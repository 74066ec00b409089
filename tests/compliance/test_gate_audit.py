"""`audit` checks region labels on any file: ours (facts from our signed record), or foreign (what the file says)."""
from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from PIL import Image
from skimage import data
from sqlalchemy import create_engine

from compliance import audit_paths, ledger_profile_lookup
from compliance.assess import assess_base_clip, open_registries
from compliance.decide import GateError, apply_labels, decide, with_compliance
from compliance.likeness import FaceModels
from generation.compose import render_variant
from generation.layout import output_size
from generation.motion import make_base_clip
from foundation.records import VariantSpec
from provenance import Action, ManifestSpec, sign_file
from foundation.primitives import sha256_file
from provenance.ledger import AssetRecord, Ledger

ON = date(2026, 9, 1)
BEFORE_CN_RULES = date(2025, 8, 1)
CN_RULES = ("cn-cac-explicit-video", "cn-cac-implicit-metadata")


def _spec(asset_id: str) -> VariantSpec:
    w, h = output_size("9:16", 360)
    return VariantSpec(asset_id=asset_id, sku="SKU-1", locale="zh-CN", aspect="9:16", width=w, height=h,
                       headline="浓郁深烘咖啡", price_text="¥98.00", cta="立即购买", captions=(), primary_color="#1F3A5F",
                       secondary_color="#F2A541", text_color="#FFFFFF", font_family="Noto Sans")


@pytest.fixture(scope="module")
def made(tmp_path_factory, creds):
    """Signed zh-CN variants of one AI clip: rendered under the rules (as of 2026-09-01), rendered when
    the CN rules were not yet in force (2025-08-01), and a photo ad (not AI); plus an unsigned copy."""
    folder = tmp_path_factory.mktemp("gate-audit")
    Image.fromarray(data.coffee()).save(folder / "coffee.png")
    base = make_base_clip(folder / "coffee.png", cache_dir=folder / "clips", size=360, fps=12, duration_s=2.5, seed=1)
    reg = open_registries(create_engine(f"sqlite:///{folder / 'ledger.db'}"))
    a = assess_base_clip(base, registries=reg, models=FaceModels.load())
    files = {}
    for name, as_of, ai in (("labelled", ON, True), ("rule-off", BEFORE_CN_RULES, True), ("photo", ON, False)):
        asset_id = f"tsr-audit-{name}"
        d = decide(a, region_profile="CN", region="CN", language="zh", sku="SKU-1", as_of=as_of, ai_generated=ai,
                   asset_id=asset_id, provider="Acme", system="Tessera", system_version="0.1.0")
        spec = apply_labels(_spec(asset_id), d)
        render_variant(base, spec, folder / f"{name}.unsigned.mp4", metadata=d.mp4_metadata)
        dst = "trainedAlgorithmicMedia" if ai else "digitalCapture"
        manifest = ManifestSpec(title=f"{name}.mp4", asset_id=asset_id, digital_source_type=dst,
                                actions=(Action("c2pa.created", "Tessera"),))
        signed = sign_file(folder / f"{name}.unsigned.mp4", folder / f"{name}.mp4", with_compliance(manifest, d), creds)
        files[name] = (folder / f"{name}.mp4", signed)
    return folder, files


def _one(path, creds, **kw):
    [rec] = audit_paths([path], anchors_pem=creds.anchors_pem, lookup=None, **kw)
    return rec


def test_a_correctly_labelled_variant_passes_its_region(made, creds):
    _, files = made
    rec = _one(files["labelled"][0], creds, region="CN", as_of=ON)
    assert rec.verdict == "pass", rec.problems
    assert rec.labels == {rule: "ok" for rule in CN_RULES}
    assert rec.to_dict()["region"] == "CN" and rec.to_dict()["labels"] == rec.labels


def test_rendered_with_the_rule_not_in_force_then_audited_for_china_is_missing(made, creds):
    _, files = made
    rec = _one(files["rule-off"][0], creds, region="CN", as_of=ON)
    assert rec.labels == {rule: "missing" for rule in CN_RULES}
    assert rec.verdict == "fail"
    assert any(p.startswith("CN rule cn-cac-explicit-video: missing: label 'AI生成'") for p in rec.problems)
    assert any("0 MP4 metadata items under 'AIGC'" in p for p in rec.problems)
    # the same file audited as of the day it was made: nothing was required then
    then = _one(files["rule-off"][0], creds, region="CN", as_of=BEFORE_CN_RULES)
    assert then.labels == {} and then.verdict == "pass"


def test_the_region_recorded_in_our_manifest_is_used_without_region(made, creds):
    _, files = made
    rec = _one(files["rule-off"][0], creds, as_of=ON)
    assert rec.region == "CN" and rec.labels == {rule: "missing" for rule in CN_RULES}


def test_the_region_recorded_in_the_ledger_is_used(made, creds, tmp_path):
    folder, files = made
    path, signed = files["labelled"]
    led = Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    led.start_run("run-1", str(folder), "{}")
    led.record_asset(AssetRecord(asset_id="tsr-audit-labelled", variant_key="k-1", run_id="run-1", sku="SKU-1",
                                 locale="zh-CN", aspect="9:16", output_path=path, sha256=sha256_file(path),
                                 manifest_label=signed.label, base_clip_key="b", created_at=datetime.now(timezone.utc)),
                     signed.label, signed.manifest_json)
    [rec] = audit_paths([path], anchors_pem=creds.anchors_pem, lookup=led.asset_id_for_sha256,
                        profile_lookup=ledger_profile_lookup(led), as_of=ON)
    assert rec.in_ledger and rec.region == "CN" and rec.labels == {rule: "ok" for rule in CN_RULES}


def test_a_photo_ad_needs_no_ai_label(made, creds):
    _, files = made
    rec = _one(files["photo"][0], creds, region="CN", as_of=ON)
    assert rec.labels == {rule: "not_applicable" for rule in CN_RULES} and rec.verdict == "pass"


def test_eu_marking_is_read_from_the_manifest(made, creds):
    _, files = made
    ai = _one(files["labelled"][0], creds, region="EU", as_of=ON)
    # our record says: AI generated, no people -> only the marking rule applies, and the manifest says AI
    assert ai.labels == {"eu-aia-art50-2-marking": "ok", "eu-aia-art50-4-deepfake-generated": "not_applicable",
                         "eu-aia-art50-4-deepfake-modified": "not_applicable"}


def test_a_foreign_file_is_checked_but_only_warned_about(made, creds):
    folder, _ = made
    rec = _one(folder / "rule-off.unsigned.mp4", creds, region="CN", as_of=ON)   # no credentials, no AIGC
    assert rec.labels == {rule: "missing" for rule in CN_RULES}
    assert rec.verdict == "warn"
    assert any("applies if the content is AI-generated or AI-modified; the file does not say" in p for p in rec.problems)
    # its AIGC item says it is AI-generated: then the labels are required
    labelled = _one(folder / "labelled.unsigned.mp4", creds, region="CN", as_of=ON)
    assert labelled.labels == {rule: "ok" for rule in CN_RULES} and labelled.problems == ("no content credentials",)


def test_an_unknown_region_is_an_error_before_any_file(made, creds):
    _, files = made
    with pytest.raises(GateError, match="rule profile 'XX'"):
        _one(files["labelled"][0], creds, region="XX")

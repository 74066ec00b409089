"""The shipped file is what is verified: real composes and H.264 encodes, labels found on decoded frames,
MP4 metadata read back from moov/udta/meta, before and after C2PA signing."""
from __future__ import annotations

import json
import math
import struct
from dataclasses import replace
from datetime import date

import pytest
from PIL import Image
from skimage import data
from sqlalchemy import create_engine

from compliance.assess import assess_base_clip, open_registries
from compliance.decide import COMPLIANCE_LABEL, LATENT_LABEL, SOURCE_TYPE_KEY, apply_labels, decide, with_compliance
from compliance.verify import verify_shipped
from compliance.likeness import FaceModels
from compliance.mp4meta import count_key, read_mp4_metadata
from foundation.frames import read_clip
from generation.compose import build_overlays, render_variant
from generation.layout import layout_for, output_size
from generation.motion import make_base_clip
from foundation.records import VariantSpec
from provenance import Action, Ingredient, ManifestSpec, read_c2pa, sign_file

pytestmark = pytest.mark.slow        # every test here renders from the module's assessed 360p base clips

ON = date(2026, 9, 1)
SHORT = 360
WHO = dict(provider="Acme Coffee GmbH", system="Tessera", system_version="0.1.0")


def spec_for(locale: str, aspect: str, asset_id: str, short: int = SHORT) -> VariantSpec:
    w, h = output_size(aspect, short)
    return VariantSpec(asset_id=asset_id, sku="SKU-1", locale=locale, aspect=aspect, width=w, height=h,
                       headline={"zh-CN": "浓郁深烘咖啡", "de-DE": "Kräftiger Röstkaffee", "en-US": "Bold roast"}[locale],
                       price_text="12,99 €", cta={"zh-CN": "立即购买", "de-DE": "Jetzt kaufen", "en-US": "Shop now"}[locale],
                       captions=(), primary_color="#1F3A5F", secondary_color="#F2A541", text_color="#FFFFFF",
                       font_family="Noto Sans")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    f = tmp_path_factory.mktemp("gate-verify")
    Image.fromarray(data.coffee()).save(f / "coffee.png")
    Image.fromarray(data.astronaut()).save(f / "astronaut.png")
    return f


@pytest.fixture(scope="module")
def models() -> FaceModels:
    return FaceModels.load()


@pytest.fixture(scope="module")
def assessed(folder, models):
    """(base clip, assessment) per photo, registries empty; 2.5 s clips (1.5 s for 'short')."""
    reg = open_registries(create_engine(f"sqlite:///{folder / 'ledger.db'}"))
    out = {}
    for name, photo, seconds in (("coffee", "coffee.png", 2.5), ("short", "coffee.png", 1.5),
                                 ("astronaut", "astronaut.png", 2.5)):
        base = make_base_clip(folder / photo, cache_dir=folder / "clips", size=SHORT, fps=12, duration_s=seconds, seed=5)
        out[name] = (base, assess_base_clip(base, registries=reg, models=models))
    return out


def _decide(a, *, profile="CN", region="CN", language="zh", ai=True, as_of=ON, asset_id="tsr-verify-0001", **kw):
    return decide(a, region_profile=profile, region=region, language=language, sku="SKU-1", as_of=as_of,
                  ai_generated=ai, asset_id=asset_id, **WHO, **kw)


def _render(base, spec, path, decision):
    render_variant(base, spec, path, metadata=decision.mp4_metadata)
    return path


@pytest.fixture(scope="module")
def china(folder, assessed):
    """A zh-CN AI variant rendered as the gate decided: label burned in, AIGC written."""
    base, a = assessed["coffee"]
    d = _decide(a, digital_source_type="trainedAlgorithmicMedia")
    spec = apply_labels(spec_for("zh-CN", "9:16", d.asset_id), d)
    return base, d, spec, _render(base, spec, folder / "china.mp4", d)


def test_china_variant_carries_one_aigc_object_and_a_long_enough_label(china):
    _, d, spec, path = china
    assert count_key(path, "AIGC") == 1
    aigc = json.loads(read_mp4_metadata(path)["AIGC"])
    assert (aigc["Label"], aigc["ContentProducer"], aigc["ProduceID"]) == ("1", "Acme Coffee GmbH", d.asset_id)
    v = verify_shipped(path, d, spec=spec)
    assert v.verdict == "pass", v.reasons
    assert v.labels == {"cn-cac-explicit-video": "ok", "cn-cac-implicit-metadata": "ok"}
    (label_check,) = [c for c in v.checks if c.rule_id == "cn-cac-explicit-video"]
    assert label_check.details == ()


def test_label_ink_in_the_decoded_frame_meets_the_rule(china):
    base, d, spec, path = china
    from compliance.labels import check_visible_label
    from generation.compose import label_face
    face = label_face(spec)
    result = check_visible_label(path, None, d.labels[0], font_path=face.path, face_index=face.index)
    assert result.status == "ok" and result.first_seen_s == 0.0
    assert result.text_height_frac >= 0.05 * 0.97 and result.shown_s >= 2.0


def test_metadata_and_labels_survive_c2pa_signing(china, folder, creds):
    _, d, spec, path = china
    manifest = ManifestSpec(
        title="china.mp4", asset_id=d.asset_id, digital_source_type="trainedAlgorithmicMedia",
        actions=(Action("c2pa.created", "Tessera"),), ingredients=(Ingredient(folder / "coffee.png", "coffee.png", "inputTo"),),
    )
    signed = folder / "china-signed.mp4"
    sign_file(path, signed, with_compliance(manifest, d), creds)
    assert read_mp4_metadata(signed)["AIGC"] == read_mp4_metadata(path)["AIGC"]
    assert count_key(signed, "AIGC") == 1 and read_mp4_metadata(signed)[SOURCE_TYPE_KEY] == d.mp4_metadata[SOURCE_TYPE_KEY]
    assert verify_shipped(signed, d, spec=spec).verdict == "pass"
    report = read_c2pa(signed, creds.anchors_pem)
    assert report.state == "Trusted"
    active = json.loads(report.manifest_json)["manifests"][report.active_label]
    record = next(a["data"] for a in active["assertions"] if a["label"] == COMPLIANCE_LABEL)
    assert record["rules_applied"] == ["cn-cac-explicit-video", "cn-cac-implicit-metadata"]


def test_california_latent_disclosure_is_in_the_signed_manifest(assessed, folder, creds):
    base, a = assessed["coffee"]
    d = _decide(a, profile="US-CA", region="US", language="en", asset_id="tsr-verify-ca")
    spec = apply_labels(spec_for("en-US", "1:1", d.asset_id), d)
    path = _render(base, spec, folder / "ca.mp4", d)
    assert verify_shipped(path, d, spec=spec).verdict == "pass"
    manifest = ManifestSpec(title="ca.mp4", asset_id=d.asset_id, digital_source_type="trainedAlgorithmicMedia",
                            actions=(Action("c2pa.created", "Tessera"),))
    sign_file(path, folder / "ca-signed.mp4", with_compliance(manifest, d), creds)
    report = read_c2pa(folder / "ca-signed.mp4", creds.anchors_pem)
    active = json.loads(report.manifest_json)["manifests"][report.active_label]
    latent = next(x["data"] for x in active["assertions"] if x["label"] == LATENT_LABEL)
    assert {k: latent[k] for k in ("provider", "system_name", "system_version", "unique_id")} == {
        "provider": "Acme Coffee GmbH", "system_name": "Tessera", "system_version": "0.1.0", "unique_id": "tsr-verify-ca"}
    assert latent["created_at"].endswith("+00:00")


def test_eu_deep_fake_variant_carries_ai_generated_top_right(assessed, folder):
    base, a = assessed["astronaut"]   # a realistic face matching no one, in AI content
    d = _decide(a, profile="EU", region="DE", language="de", asset_id="tsr-verify-eu")
    assert d.facts.synthetic_performer and d.label_texts == ("AI GENERATED",)
    spec = apply_labels(spec_for("de-DE", "16:9", d.asset_id), d)
    path = _render(base, spec, folder / "eu.mp4", d)
    v = verify_shipped(path, d, spec=spec)
    assert v.verdict == "pass", v.reasons
    assert v.labels["eu-aia-art50-4-deepfake-generated"] == "ok"
    assert v.labels["eu-aia-art50-4-deepfake-modified"] == "not_applicable"


def test_a_variant_rendered_without_its_labels_is_blocked(assessed, folder):
    base, a = assessed["coffee"]
    d = _decide(a, asset_id="tsr-verify-bare")
    spec = spec_for("zh-CN", "1:1", d.asset_id)                  # no labels, and no metadata below
    render_variant(base, spec, folder / "bare.mp4")
    v = verify_shipped(folder / "bare.mp4", d, spec=spec)
    assert v.verdict == "block"
    assert v.labels == {"cn-cac-explicit-video": "missing", "cn-cac-implicit-metadata": "missing"}
    assert any("0 MP4 metadata items under 'AIGC', expected exactly one" in r for r in v.reasons)
    assert any("differ from the required ['AI生成']" in r for r in v.reasons)


def test_a_label_smaller_than_the_rule_is_too_small(assessed, folder):
    base, a = assessed["coffee"]
    d = _decide(a, asset_id="tsr-verify-small")
    spec = replace(apply_labels(spec_for("zh-CN", "1:1", d.asset_id), d), label_min_height=(0.035,))
    path = _render(base, spec, folder / "small.mp4", d)
    v = verify_shipped(path, d, spec=spec)
    assert v.verdict == "block" and v.labels["cn-cac-explicit-video"] == "too_small"
    assert v.labels["cn-cac-implicit-metadata"] == "ok"


def test_a_clip_shorter_than_the_label_minimum_is_blocked_before_and_after(assessed, folder):
    base, a = assessed["short"]
    d = _decide(a, asset_id="tsr-verify-short")
    assert d.verdict == "block" and "asks for 2 s of 'AI生成'; the clip is 1.50 s" in d.reasons[0]
    spec = apply_labels(spec_for("zh-CN", "9:16", d.asset_id), d)
    v = verify_shipped(_render(base, spec, folder / "short.mp4", d), d, spec=spec)
    assert v.verdict == "block" and v.labels["cn-cac-explicit-video"] == "too_short"


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def _mdta_moov(key: str, value: str) -> bytes:
    """A moov/udta/meta holding one mdta item, as ffmpeg writes it (hdlr, keys, ilst)."""
    hdlr = _box(b"hdlr", b"\x00" * 8 + b"mdta" + b"\x00" * 13)
    keys = _box(b"keys", b"\x00" * 4 + struct.pack(">I", 1) + _box(b"mdta", key.encode()))
    ilst = _box(b"ilst", _box(struct.pack(">I", 1), _box(b"data", struct.pack(">II", 1, 0) + value.encode())))
    return _box(b"moov", _box(b"udta", _box(b"meta", b"\x00" * 4 + hdlr + keys + ilst)))


def test_two_aigc_objects_are_not_one(china, folder):
    _, d, spec, path = china
    doubled = folder / "doubled.mp4"
    doubled.write_bytes(path.read_bytes() + _mdta_moov("AIGC", d.mp4_metadata["AIGC"]))   # a second label appended
    assert count_key(doubled, "AIGC") == 2
    v = verify_shipped(doubled, d, spec=spec)
    assert v.verdict == "block" and v.labels["cn-cac-implicit-metadata"] == "missing"
    assert any("2 MP4 metadata items under 'AIGC', expected exactly one" in r for r in v.reasons)
    # one item holding two JSON objects is not one object either
    concatenated = folder / "concatenated.mp4"
    render_variant(china[0], spec, concatenated, metadata={**d.mp4_metadata, "AIGC": d.mp4_metadata["AIGC"] * 2})
    v = verify_shipped(concatenated, d, spec=spec)
    assert v.labels == {"cn-cac-explicit-video": "ok", "cn-cac-implicit-metadata": "missing"}
    assert any("AIGC is not JSON" in r for r in v.reasons)


def test_an_undecodable_file_blocks_with_the_reason(china, folder):
    _, d, spec, _ = china
    broken = folder / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypisom" + b"\x00" * 64)
    v = verify_shipped(broken, d, spec=spec)
    assert v.verdict == "block"
    assert set(v.labels.values()) == {"missing"}
    assert any("could not be checked" in r or "cannot read" in r for r in v.reasons)


def test_each_label_gets_the_height_its_rule_asks(assessed, folder):
    spec = replace(spec_for("de-DE", "1:1", "tsr-h", short=720), labels=("AI GENERATED",), label_min_height=(0.04,))
    layout = layout_for("1:1", 720, 720)
    lab = next(o for o in build_overlays(spec, layout, 24) if o.name == "labels")
    default = next(o for o in build_overlays(replace(spec, label_min_height=()), layout, 24) if o.name == "labels")
    assert math.ceil(0.04 * 720) <= lab.text_px < default.text_px
    assert default.text_px >= math.ceil(0.05 * 720)
    with pytest.raises(ValueError, match="one height per label"):
        render_variant(assessed["coffee"][0], replace(spec, label_min_height=(0.04, 0.05)), folder / "x.mp4")
    assert not (folder / "x.mp4").exists()


def test_bad_metadata_keys_are_refused_before_any_output(assessed, folder):
    base, _ = assessed["coffee"]
    spec = spec_for("de-DE", "1:1", "tsr-meta")
    with pytest.raises(ValueError, match="metadata key 'A=B'"):
        render_variant(base, spec, folder / "meta.mp4", metadata={"A=B": "x"})
    assert not (folder / "meta.mp4").exists()
    rv = render_variant(base, spec, folder / "meta.mp4", metadata={"AIGC": "{}", "note": "héllo wörld"})
    assert read_mp4_metadata(rv.path) == {"AIGC": "{}", "note": "héllo wörld"}
    assert json.loads(rv.encoder_json)["movflags"] == "+faststart+use_metadata_tags"
    assert len(list(read_clip(rv.path))) == base.frames

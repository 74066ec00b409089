"""Acceptance of the compliance gate through a whole render (run_render): what is blocked never reaches the
output folder and is never signed; what passes ships with its region's labels.

Assumes the gate wiring in flows/render.py (see docs/compliance.md, "Wiring"): blocked variants are
quarantined under settings.quarantine_dir, review ones held under settings.review_dir; the
summary counts them (RunSummary.blocked / .review, outcome status "blocked" / "review").
"""
from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data

from compliance import audit_paths
from compliance.assess import open_registries
from compliance.labels import check_visible_label
from compliance.likeness import face_embedding
from compliance.mp4meta import count_key, read_mp4_metadata
from compliance.rules import CN_AIGC_FIELDS, ContentFacts, applicable_rules, load_profiles, visible_labels
from flow_catalogs import small_catalog
from flows.render import run_render
from pipeline.settings import Settings
from generation.fonts import face_for_labels
from generation.plan import RenderOptions
from provenance import load_credentials, read_c2pa
from provenance.ledger import Ledger

ON = date(2026, 9, 1)


def _catalog(root: Path, photo: np.ndarray | Image.Image, locales=("de-DE",)) -> Path:
    """The sample catalog cut to one product (2 s clip), its photo replaced, one aspect ratio."""
    catalog = small_catalog(root / "catalog", locales=locales, aspects="1:1")
    img = photo if isinstance(photo, Image.Image) else Image.fromarray(photo)
    img.convert("RGB").save(catalog / "photos" / "coffee.jpg", quality=95)
    return catalog


def _render(root: Path, catalog: Path, *, as_of=ON, options=None):
    settings = Settings.build(home=root / "home", options=options or RenderOptions(short_side=288), workers=1,
                              as_of=as_of)
    summary = run_render(catalog, root / "out", settings, progress=lambda _: None)
    return settings, summary


def _registries(settings):
    return open_registries(Ledger(settings.ledger_url).engine)


def _assert_quarantined(root, settings, summary):
    (outcome,) = summary.outcomes
    assert outcome.status == "blocked" and summary.blocked == 1 and summary.rendered == 0
    assert not list((root / "out").rglob("*.mp4"))                       # never in the output folder
    q = settings.quarantine_dir
    media, report = q / f"{outcome.asset_id}.mp4", json.loads((q / f"{outcome.asset_id}.json").read_text())
    assert media.is_file() and report["status"] == "blocked"
    assert read_c2pa(media, None).state == "absent"                       # never signed
    assert Ledger(settings.ledger_url).asset(outcome.asset_id) is None
    return outcome, report


@pytest.mark.slow
def test_watch_listed_person_is_blocked_and_quarantined(tmp_path):
    catalog = _catalog(tmp_path, data.astronaut())
    settings = Settings.build(home=tmp_path / "home")
    _registries(settings).likeness.add_watch("Eileen Collins", face_embedding(data.astronaut()),
                                             reason="public figure, no endorsement", added_by="legal@acme")
    settings, summary = _render(tmp_path, catalog)
    outcome, report = _assert_quarantined(tmp_path, settings, summary)
    assert "watch-list entry 'Eileen Collins'" in outcome.reason
    assert any("no endorsement" in r for r in report["reasons"])


@pytest.mark.slow
def test_valid_consent_for_the_region_passes_and_expires(tmp_path):
    catalog = _catalog(tmp_path / "a", data.astronaut())
    home = tmp_path / "a" / "home"
    _registries(Settings.build(home=home)).likeness.add_consent(
        "Model A", face_embedding(data.astronaut()), regions="EU", products="*", expires_on=date(2026, 12, 31),
        record_ref="release-0042.pdf")
    settings, summary = _render(tmp_path / "a", catalog)
    assert (summary.rendered, summary.blocked, summary.review) == (1, 0, 0), summary.outcomes
    (out,) = list((tmp_path / "a" / "out").rglob("*.mp4"))
    assert read_c2pa(out, load_credentials(settings.signing).anchors_pem).state == "Trusted"

    # the same catalog and consent, rendered after the consent's last day
    later = tmp_path / "b"
    catalog_b = _catalog(later, data.astronaut())
    _registries(Settings.build(home=later / "home")).likeness.add_consent(
        "Model A", face_embedding(data.astronaut()), regions="EU", products="*", expires_on=date(2026, 12, 31),
        record_ref="release-0042.pdf")
    settings_b, summary_b = _render(later, catalog_b, as_of=date(2027, 1, 2))
    outcome, _ = _assert_quarantined(later, settings_b, summary_b)
    assert "consent expired on 2026-12-31" in outcome.reason


def test_a_photo_without_a_face_passes(tmp_path):
    catalog = _catalog(tmp_path, data.coffee())
    settings, summary = _render(tmp_path, catalog)
    assert (summary.rendered, summary.blocked, summary.review, summary.failed) == (1, 0, 0, 0)
    assert not settings.quarantine_dir.exists() or not list(settings.quarantine_dir.iterdir())


@pytest.mark.slow
@pytest.mark.parametrize("crop", [1.0, 0.9])
def test_a_variant_made_from_a_protected_work_is_blocked_naming_it(tmp_path, crop):
    work = Image.fromarray(data.rocket())
    work.save(tmp_path / "work.png")
    w, h = work.size
    dx, dy = round(w * (1 - crop) / 2), round(h * (1 - crop) / 2)
    catalog = _catalog(tmp_path, work.crop((dx, dy, w - dx, h - dy)))
    settings = Settings.build(home=tmp_path / "home")
    _registries(settings).protected.add_work(tmp_path / "work.png", "Launch poster", "Space Agency Archive")
    settings, summary = _render(tmp_path, catalog)
    outcome, report = _assert_quarantined(tmp_path, settings, summary)
    assert "protected work 'Launch poster' (Space Agency Archive" in outcome.reason
    assert report["decision"]["protected_works"][0]["frames"]


# ---------------------------------------------------------------- AI content: the diffusion backend, tiny model


@pytest.fixture(scope="module")
def tiny_wan(tmp_path_factory) -> Path:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "generation"))
    from tiny_models import build_tiny_wan_t2v
    return build_tiny_wan_t2v(tmp_path_factory.mktemp("tiny-wan") / "wan-t2v")


def _ai_options(model: Path) -> RenderOptions:
    from generation.diffusion import DiffusionSettings
    # 25 frames at 8 fps = 3.1 s: room for the 2 s China label
    diffusion = DiffusionSettings(model=str(model), task="t2v", dtype="float32", device="cpu", num_inference_steps=2,
                                  width=32, height=32, num_frames=25, fps=8, size=288)
    return RenderOptions(short_side=288, backend="diffusers", diffusion=diffusion)


@pytest.mark.slow
def test_china_ai_variant_has_one_aigc_object_and_a_long_enough_label(tmp_path, tiny_wan):
    catalog = _catalog(tmp_path, data.coffee(), locales=("zh-CN",))
    settings, summary = _render(tmp_path, catalog, options=_ai_options(tiny_wan))
    assert (summary.rendered, summary.blocked) == (1, 0), summary.outcomes
    (out,) = list((tmp_path / "out").rglob("*.mp4"))
    assert count_key(out, "AIGC") == 1
    aigc = json.loads(read_mp4_metadata(out)["AIGC"])
    assert list(aigc) == list(CN_AIGC_FIELDS) and aigc["Label"] == "1" and aigc["ProduceID"] == summary.outcomes[0].asset_id
    facts = ContentFacts(ai_generated=True, ai_modified=False, realistic_people=False, synthetic_performer=False,
                         deepfake=False)
    (req,) = visible_labels(applicable_rules(load_profiles()["CN"], as_of=ON, content=facts), "zh")
    face = face_for_labels((req.text,), "zh-CN")
    check = check_visible_label(out, None, req, font_path=face.path, face_index=face.index)
    assert check.status == "ok", check.detail
    assert check.shown_s >= 2.0 and check.text_height_frac >= 0.05 * 0.97


@pytest.mark.slow
def test_rendered_with_the_china_rule_not_in_force_then_audited_for_china_is_missing(tmp_path, tiny_wan):
    catalog = _catalog(tmp_path, data.coffee(), locales=("zh-CN",))
    settings, summary = _render(tmp_path, catalog, options=_ai_options(tiny_wan), as_of=date(2025, 8, 1))
    assert summary.rendered == 1, summary.outcomes
    (out,) = list((tmp_path / "out").rglob("*.mp4"))
    assert count_key(out, "AIGC") == 0
    led = Ledger(settings.ledger_url)
    [rec] = audit_paths([out], anchors_pem=load_credentials(settings.signing).anchors_pem,
                        lookup=led.asset_id_for_sha256, region="CN", as_of=ON)
    assert rec.labels == {"cn-cac-explicit-video": "missing", "cn-cac-implicit-metadata": "missing"}
    assert rec.verdict == "fail"


@pytest.mark.slow
def test_a_held_variant_that_a_newer_render_blocks_can_no_longer_be_approved(tmp_path):
    from click.testing import CliRunner

    from flows.cli_compliance import review

    work = Image.fromarray(data.rocket())
    work.save(tmp_path / "work.png")
    catalog = _catalog(tmp_path, work)
    held_settings, held = _render(tmp_path, catalog, options=RenderOptions(short_side=288, require_review=True))
    (waiting,) = held.outcomes
    assert waiting.status == "review" and (held_settings.review_dir / f"{waiting.asset_id}.mp4").is_file()
    # The work is registered as protected before anyone approves: the next render blocks the variant.
    _registries(held_settings).protected.add_work(tmp_path / "work.png", "Launch poster", "Space Agency Archive")
    settings, summary = _render(tmp_path, catalog, options=RenderOptions(short_side=288, require_review=True))
    outcome, _ = _assert_quarantined(tmp_path, settings, summary)
    assert outcome.asset_id == waiting.asset_id
    stale = json.loads((settings.review_dir / f"{waiting.asset_id}.json").read_text())
    assert stale["status"] == "superseded" and stale["superseded_by"] == "block"
    assert not (settings.review_dir / f"{waiting.asset_id}.mp4").exists()
    refused = CliRunner().invoke(review, ["approve", waiting.asset_id, "--by", "Dana Lee",
                                          "--home", str(settings.home)])
    assert refused.exit_code == 1 and "no longer waiting for review" in refused.output, refused.output
    assert not list((tmp_path / "out").rglob("*.mp4"))

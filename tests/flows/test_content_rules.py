"""Rules for what the content is, through whole renders with a tiny real Wan model on CPU: a photoreal AI
product video is a deep fake under EU AI Act Art. 3(60) (no face needed), an image-to-video clip from a
captured photo is AI-modified, Korea marks every AI output (Art. 31(2)) and labels realistic ones
(Art. 31(3)), India's label is verified over the whole clip."""
import sys
from pathlib import Path

import pandas as pd
import pytest

from compliance import audit_paths
from flow_catalogs import small_catalog
from flows.render import run_render
from generation.diffusion import DiffusionSettings
from generation.plan import RenderOptions
from pipeline.settings import Settings
from provenance import load_credentials, read_c2pa
from provenance.ledger import Ledger

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "generation"))
from tiny_models import build_tiny_wan_i2v, build_tiny_wan_t2v  # noqa: E402

pytestmark = pytest.mark.slow   # whole diffusion renders

TINY = dict(dtype="float32", device="cpu", num_inference_steps=2, width=32, height=32, num_frames=17, fps=8, size=288)
MORE = {"ko-KR": ("ko", "KR", "KRW", "KR", "진한 에스프레소", "지금 구매", "코코아와 캐러멜 향", "32900"),
        "en-IN": ("en", "IN", "INR", "IN", "Espresso worth waking up for", "Shop now", "Notes of cocoa", "1999.00")}


def _catalog(root: Path, locales: tuple[str, ...]) -> Path:
    catalog = small_catalog(root / "catalog", locales=("de-DE",), aspects="1:1")
    loc = pd.read_csv(catalog / "locales.csv", dtype=str, keep_default_na=False)
    copy = pd.read_csv(catalog / "copy.csv", dtype=str, keep_default_na=False)
    for tag in locales:
        language, region, currency, profile, headline, cta, captions, price = MORE[tag]
        loc.loc[len(loc)] = [tag, language, region, currency, profile, "1:1"]
        row = dict(sku=copy.loc[0, "sku"], locale=tag, headline=headline, cta=cta, captions=captions, price=price)
        copy.loc[len(copy)] = [row.get(c, "") for c in copy.columns]      # copy_author empty: unknown
    loc.to_csv(catalog / "locales.csv", index=False)
    copy.to_csv(catalog / "copy.csv", index=False)
    return catalog


def _render(root: Path, model: Path, task: str, locales: tuple[str, ...] = ()):
    options = RenderOptions(short_side=288, backend="diffusers",
                            diffusion=DiffusionSettings(model=str(model), task=task, **TINY))
    settings = Settings.build(home=root / "home", options=options)
    summary = run_render(_catalog(root, locales), root / "out", settings)
    assert (summary.rendered, summary.failed, summary.blocked) == (1 + len(locales), 0, 0), \
        [o.reason for o in summary.outcomes]
    records = {}
    for video in sorted((root / "out").rglob("*.mp4")):
        locale = video.stem.split("_")[1]
        records[locale] = read_c2pa(video, None).assertion("com.tessera.compliance")
    audited = audit_paths([root / "out"], anchors_pem=load_credentials(settings.signing).anchors_pem,
                          lookup=Ledger(settings.ledger_url).asset_id_for_sha256)
    assert [r.verdict for r in audited] == ["pass"] * len(audited), [r.problems for r in audited]
    return records, {r.path.stem.split("_")[1]: r.to_dict() for r in audited}


def test_a_text_to_video_product_variant_is_labelled_per_eu_korea_and_india(tmp_path):
    records, audited = _render(tmp_path, build_tiny_wan_t2v(tmp_path / "t2v"), "t2v", ("ko-KR", "en-IN"))
    de, ko, en_in = records["de-DE"], records["ko-KR"], records["en-IN"]
    # EU: no face in the clip, still a deep fake of an existing object: "AI GENERATED" at first exposure
    assert de["content"]["ai_generated"] and de["content"]["photoreal_objects_or_scenes"] and de["content"]["deepfake"]
    assert [(x["rule_id"], x["text"], x["at_start"]) for x in de["visible_labels"]] == [
        ("eu-aia-art50-4-deepfake-generated", "AI GENERATED", True)]
    assert audited["de-DE"]["labels"]["eu-aia-art50-4-deepfake-generated"] == "ok"
    # Korea: Art. 31(2) marking (signed manifest + watermark) and the Art. 31(3) label for a realistic output
    assert ko["rules_applied"] == ["kr-ai-basic-act-art31-2-marking", "kr-ai-basic-act-art31-3-realistic"]
    assert [x["text"] for x in ko["visible_labels"]] == ["AI 생성"]
    assert audited["ko-KR"]["labels"]["kr-ai-basic-act-art31-2-marking"] == "ok"
    # India: the label is required, drawn and verified for the whole clip
    (label,) = en_in["visible_labels"]
    assert (label["rule_id"], label["whole_duration"]) == ("in-gsr-120e-sgi-label", True)
    assert audited["en-IN"]["labels"]["in-gsr-120e-sgi-label"] == "ok"


def test_an_image_to_video_variant_from_a_captured_photo_is_ai_modified(tmp_path):
    records, audited = _render(tmp_path, build_tiny_wan_i2v(tmp_path / "i2v"), "i2v")
    de = records["de-DE"]
    assert (de["content"]["ai_generated"], de["content"]["ai_modified"]) == (False, True)
    assert [(x["rule_id"], x["text"]) for x in de["visible_labels"]] == [
        ("eu-aia-art50-4-deepfake-modified", "AI MODIFIED")]
    assert audited["de-DE"]["labels"]["eu-aia-art50-4-deepfake-modified"] == "ok"

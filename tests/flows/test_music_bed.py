"""A brand kit's music bed: every variant gets it as an AAC track at the loudness target, and the
manifest, the journal and the authorship report name it as an input with its own provenance."""
import json
import sys
from pathlib import Path

import pytest

from compliance.mp4meta import count_key
from flow_catalogs import small_catalog
from flows.render import run_render
from foundation.primitives import SourceType
from generation.plan import RenderOptions
from generation.sound import TARGET_LUFS, integrated_loudness
from pipeline.audit import audit
from pipeline.settings import Settings
from pipeline.workspace import Workspace
from provenance import load_credentials, read_c2pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "generation"))
from gen_media import music_bed  # noqa: E402

pytestmark = pytest.mark.slow   # whole renders


def _render(root: Path, music_source: str):
    catalog = small_catalog(root / "catalog", locales=("de-DE", "zh-CN"), aspects="1:1", duration_s="3")
    (catalog / "music").mkdir()
    music_bed(catalog / "music" / "bed.wav", 12.0, volume=0.6)
    brand = json.loads((catalog / "brand.json").read_text(encoding="utf-8"))
    brand.update(music="music/bed.wav", music_source=music_source, music_owner="Harbor Sound Library",
                 music_licence="royalty-free, licence HSL-2291")
    (catalog / "brand.json").write_text(json.dumps(brand), encoding="utf-8")
    settings = Settings.build(home=root / "home", options=RenderOptions(short_side=288))
    summary = run_render(catalog, root / "out", settings)
    assert (summary.rendered, summary.failed, summary.blocked) == (2, 0, 0), [o.reason for o in summary.outcomes]
    return settings, summary, {o.locale: Path(o.path) for o in summary.outcomes}


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    return _render(tmp_path_factory.mktemp("music"), "digitalCapture")


def test_every_variant_has_the_bed_at_the_target_loudness_and_audits_pass(recorded):
    settings, _, outs = recorded
    for out in outs.values():
        assert abs(integrated_loudness(out) - TARGET_LUFS) <= 1.0
    records = audit(Workspace(settings), [next(iter(outs.values())).parent.parent])
    assert [r.verdict for r in records] == ["pass", "pass"], [r.to_dict() for r in records]


def test_the_bed_is_an_ingredient_with_its_own_provenance(recorded):
    settings, summary, outs = recorded
    anchors = load_credentials(settings.signing).anchors_pem
    for out in outs.values():
        report = read_c2pa(out, anchors)
        assert ("bed.wav", "componentOf") in [(i.title, i.relationship) for i in report.ingredients]
        assert "c2pa.placed" in [a.action for a in report.actions]
        music = report.assertion("com.tessera.variant")["music"]
        assert music["source_type"] == SourceType.DIGITAL_CAPTURE.value and music["origin"] == "catalog"
        assert (music["owner"], music["licence"]) == ("Harbor Sound Library", "royalty-free, licence HSL-2291")
    # The authorship report lists it as third-party material in the asset, with owner and licence.
    from compliance.authorship import authorship_report
    data = json.loads(authorship_report(Workspace(settings).journal, summary.outcomes[0].asset_id, fmt="json"))
    bed = next(m for m in data["third_party_material"]["material"] if m["material"] == "music bed")
    assert bed["in_asset"] and bed["owner"] == "Harbor Sound Library" and bed["file"] == "bed.wav"


def test_an_ai_made_bed_makes_the_variant_ai_content_with_the_region_labels(tmp_path):
    settings, _, outs = _render(tmp_path, "trainedAlgorithmicMedia")
    anchors = load_credentials(settings.signing).anchors_pem
    cn = read_c2pa(outs["zh-CN"], anchors)
    assert cn.digital_source_type == SourceType.COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA.value
    assert cn.assertion("com.tessera.compliance")["content"]["ai_generated"] is True
    assert count_key(outs["zh-CN"], "AIGC") == 1

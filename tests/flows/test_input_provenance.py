"""Every product photo is read for its own provenance before rendering (provenance/inputs.py).

Inputs are made here: the sample coffee photo signed with a C2PA manifest saying
trainedAlgorithmicMedia (development credentials), the same photo with only IPTC XMP saying so, and
the plain photo with no provenance and nothing in the catalog. Each is rendered with the motion
backend for de-DE and zh-CN.
"""
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from compliance.mp4meta import count_key
from flow_catalogs import small_catalog
from flows.render import run_render
from generation.plan import RenderOptions
from pipeline.settings import Settings
from provenance import Action, ManifestSpec, load_credentials, read_c2pa, sign_file
from provenance.inputs import InputProvenanceError, input_provenance, xmp_source_type

pytestmark = pytest.mark.slow   # whole renders or many CLI processes: `make test-fast` leaves them out

AI = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
XMP = ('<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
       '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" '
       'xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
       f'Iptc4xmpExt:DigitalSourceType="{AI}"/></rdf:RDF></x:xmpmeta><?xpacket end="w"?>')


def _signed_ai_photo(src: Path, dst: Path, home: Path) -> Path:
    """src signed as an image generator's output (trainedAlgorithmicMedia) with the development credentials."""
    creds = load_credentials(Settings.build(home=home).signing)
    spec = ManifestSpec(title=dst.name, asset_id="img-gen-1", digital_source_type="trainedAlgorithmicMedia",
                        actions=(Action("c2pa.created", "Example Image Generator 2.0"),))
    sign_file(src, dst, spec, creds, mime="image/jpeg")
    return dst


def _xmp_ai_photo(src: Path, dst: Path) -> Path:
    from PIL import Image
    with Image.open(src) as im:
        im.save(dst, "JPEG", quality=92, xmp=XMP.encode())
    return dst


def _render(root: Path, make_photo, photo_source: str):
    catalog = small_catalog(root / "catalog", locales=("de-DE", "zh-CN"), aspects="1:1", duration_s="3")
    products = pd.read_csv(catalog / "products.csv", dtype=str, keep_default_na=False)
    photo = catalog / products.loc[0, "photo"]
    original = root / "original.jpg"
    shutil.copy(photo, original)
    make_photo(original, photo)
    products["photo_source"] = photo_source
    products.to_csv(catalog / "products.csv", index=False)
    settings = Settings.build(home=root / "home", options=RenderOptions(short_side=240))
    summary = run_render(catalog, root / "out", settings)
    outs = {o.locale: Path(o.path) for o in summary.outcomes}
    return settings, summary, outs, photo


@pytest.fixture(scope="module")
def c2pa_photo(tmp_path_factory):
    root = tmp_path_factory.mktemp("c2pa-photo")
    return _render(root, lambda src, dst: _signed_ai_photo(src, dst, root / "home"), "digitalCapture")


@pytest.fixture(scope="module")
def xmp_photo(tmp_path_factory):
    return _render(tmp_path_factory.mktemp("xmp-photo"), _xmp_ai_photo, "digitalCapture")


@pytest.fixture(scope="module")
def plain_photo(tmp_path_factory):
    return _render(tmp_path_factory.mktemp("plain-photo"), shutil.copy, "")


def _compliance(report) -> dict:
    return report.assertion("com.tessera.compliance")


@pytest.mark.parametrize("case", ["c2pa_photo", "xmp_photo"])
def test_an_ai_made_photo_makes_the_variant_ai_derived_with_the_region_labels(case, request):
    settings, summary, outs, _ = request.getfixturevalue(case)
    assert (summary.rendered, summary.failed, summary.blocked) == (2, 0, 0), [o.reason for o in summary.outcomes]
    anchors = load_credentials(settings.signing).anchors_pem
    for locale, out in outs.items():
        report = read_c2pa(out, anchors)
        assert report.state == "Trusted" and report.digital_source_type == AI
        assert _compliance(report)["content"]["ai_generated"] is True
        photo = report.assertion("com.tessera.variant")["photo"]
        assert photo["source_type"] == AI and photo["origin"] == ("c2pa" if case == "c2pa_photo" else "xmp")
    cn = read_c2pa(outs["zh-CN"], anchors)
    assert "AI生成" in [label["text"] for label in _compliance(cn)["visible_labels"]]
    assert count_key(outs["zh-CN"], "AIGC") == 1
    assert count_key(outs["de-DE"], "AIGC") == 0
    # The authorship report says the same: the camera move over an AI-made photo is AI-made footage.
    footage = _footage(settings, summary.outcomes[0].asset_id)
    assert footage["classification"] == "ai_generated" and "itself AI-made" in footage["origin"]


def _footage(settings, asset_id: str) -> dict:
    from compliance.authorship import authorship_report
    from pipeline.workspace import Workspace
    data = json.loads(authorship_report(Workspace(settings).journal, asset_id, fmt="json"))
    return next(s for s in data["segments"] if s["segment"] == "footage")


def test_the_photos_own_manifest_is_the_ingredients_manifest(c2pa_photo):
    settings, _, outs, photo = c2pa_photo
    anchors = load_credentials(settings.signing).anchors_pem
    photo_label = read_c2pa(photo, anchors).active_label
    for out in outs.values():
        store = json.loads(read_c2pa(out, anchors).manifest_json)
        active = store["manifests"][store["active_manifest"]]
        (parent,) = [i for i in active["ingredients"] if i["relationship"] == "parentOf"]
        assert parent["active_manifest"] == photo_label and photo_label in store["manifests"]
        own = store["manifests"][photo_label]
        assert own["assertions"] and any("trainedAlgorithmicMedia" in json.dumps(a) for a in own["assertions"])


def test_a_photo_without_provenance_is_unknown_with_no_ai_labels_and_no_camera_claim(plain_photo):
    settings, summary, outs, _ = plain_photo
    assert (summary.rendered, summary.failed) == (2, 0), [o.reason for o in summary.outcomes]
    anchors = load_credentials(settings.signing).anchors_pem
    for out in outs.values():
        report = read_c2pa(out, anchors)
        assert report.state == "Trusted" and report.digital_source_type is None
        assert "digitalCapture" not in report.manifest_json
        assert report.assertion("com.tessera.variant")["photo"]["origin"] == "unknown"
        assert _compliance(report)["visible_labels"] == [] and count_key(out, "AIGC") == 0
    footage = _footage(settings, summary.outcomes[0].asset_id)
    assert footage["classification"] == "unknown" and "of unknown provenance" in footage["origin"]


def test_a_photo_whose_manifest_fails_validation_stops_unless_the_catalog_says_unknown(tmp_path):
    src = Path(__file__).resolve().parents[2] / "catalogs" / "sample" / "photos" / "coffee.jpg"
    signed = _signed_ai_photo(src, tmp_path / "signed.jpg", tmp_path / "home")
    data = bytearray(signed.read_bytes())
    data[-200] ^= 0xFF                       # a pixel byte after the manifest: the hard binding breaks
    tampered = tmp_path / "tampered.jpg"
    tampered.write_bytes(bytes(data))
    anchors = load_credentials(Settings.build(home=tmp_path / "home").signing).anchors_pem
    with pytest.raises(InputProvenanceError, match=r"tampered\.jpg: its C2PA manifest fails validation"):
        input_provenance(tampered, anchors, catalog_source=AI.replace("trainedAlgorithmicMedia", "digitalCapture"))
    unknown = input_provenance(tampered, anchors, catalog_source="unknown")
    assert (unknown.source_type, unknown.origin) == (None, "unknown")
    # The brand logo is read the same way; the message names brand.json's key.
    with pytest.raises(InputProvenanceError, match="set logo_source to 'unknown'"):
        input_provenance(tampered, anchors, catalog_source=None, catalog_field="logo_source")


def test_the_catalog_source_counts_only_where_the_file_says_nothing(tmp_path):
    src = Path(__file__).resolve().parents[2] / "catalogs" / "sample" / "photos" / "coffee.jpg"
    capture = AI.replace("trainedAlgorithmicMedia", "digitalCapture")
    assert input_provenance(src, None, catalog_source=capture).origin == "catalog"
    xmp = _xmp_ai_photo(src, tmp_path / "xmp.jpg")
    assert xmp_source_type(xmp) == AI
    assert (input_provenance(xmp, None, catalog_source=capture).source_type) == AI


def test_the_brand_logo_is_read_for_its_provenance_and_recorded_as_third_party_material(tmp_path):
    from click.testing import CliRunner

    from flows.cli import cli

    catalog = small_catalog(tmp_path / "catalog", locales=("de-DE",), aspects="1:1")
    _xmp_ai_photo(catalog / "photos" / "chelsea.jpg", catalog / "logo.jpg")
    brand = json.loads((catalog / "brand.json").read_text())
    brand.update(logo="logo.jpg", logo_owner="Harbor & Pine Ltd.", logo_licence="used by its owner")
    (catalog / "brand.json").write_text(json.dumps(brand))
    settings = Settings.build(home=tmp_path / "home", options=RenderOptions(short_side=240))
    summary = run_render(catalog, tmp_path / "out", settings)
    assert (summary.rendered, summary.failed) == (1, 0), [o.reason for o in summary.outcomes]
    out = Path(summary.outcomes[0].path)
    report = read_c2pa(out, load_credentials(settings.signing).anchors_pem)
    logo = report.assertion("com.tessera.variant")["brand_logo"]
    assert (logo["file"], logo["source_type"], logo["origin"], logo["in_frames"]) == ("logo.jpg", AI, "xmp", False)
    assert logo["owner"] == "Harbor & Pine Ltd."
    # Not drawn into the frames: not an ingredient, and it does not make the variant AI content.
    store = json.loads(report.manifest_json)
    titles = [i.get("title") for i in store["manifests"][store["active_manifest"]]["ingredients"]]
    assert "logo.jpg" not in titles and report.digital_source_type.endswith("digitalCapture")
    data = json.loads(CliRunner().invoke(cli, ["authorship", "report", summary.outcomes[0].asset_id, "--format",
                                               "json", "--home", str(settings.home)]).output)
    listed = {m["material"]: m for m in data["third_party_material"]["material"]}
    assert listed["brand logo"]["owner"] == "Harbor & Pine Ltd." and listed["brand logo"]["in_asset"] is False
    assert "trainedAlgorithmicMedia" in listed["brand logo"]["provenance"]
    assert listed["product photo"]["licence"] == "CC0 1.0"
